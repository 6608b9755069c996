use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use pagefetch::cli::{self, Cli};
use pagefetch::exit;
use pagefetch::output::{self, Stderr};
use pagefetch::term::escape;

// mimalloc: about a third less CPU a page than glibc's malloc (bench/notes.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        // A bug, not a usage error: one line, no backtrace, and no panic while reporting it.
        let _ = writeln!(
            Stderr,
            "pagefetch: internal error: {}",
            escape(&info.to_string())
        );
    }));
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, &args),
    };
    if let Some(warning) = cli::quiet_number(&cli, &args) {
        // Printed even with -q: the run is not what was meant, and it goes on.
        let _ = writeln!(Stderr, "{}", escape(&warning));
    }
    // One thread: the loops are I/O-bound, a single-threaded runtime spends less CPU per request, and
    // it lets the sequential loop hand its connection back to the pool before the next request (on
    // a multi-threaded runtime that race opened a second connection now and then).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!(e).context("cannot start the async runtime")),
    };
    let result = runtime.block_on(pagefetch::run(cli));
    // Do not wait for stray tasks (a server's idle connections) at exit.
    runtime.shutdown_background();
    match result {
        Ok(outcome) => code(outcome.code()),
        Err(e) if output::is_stdout_closed(&e) => code(exit::SUCCESS),
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    let _ = writeln!(Stderr, "pagefetch: error: {}", escape(&format!("{e:#}")));
    code(exit::USAGE)
}

/// clap's help and version as clap prints them; its errors as one line plus a hint.
fn usage_error(e: &clap::Error, args: &[String]) -> ExitCode {
    use clap::error::ErrorKind::*;
    if matches!(
        e.kind(),
        DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return code(e.exit_code());
    }
    // A habit from curl, xh or oha: one line that names what to use instead.
    if let Some(advice) = cli::advice(e, args) {
        let _ = writeln!(Stderr, "pagefetch: error: {}", escape(&advice));
        return code(e.exit_code());
    }
    let (line, hint) = cli::one_line_error(e);
    let _ = writeln!(Stderr, "pagefetch: error: {}", escape(&line));
    let _ = writeln!(Stderr, "  {}", escape(&hint));
    code(e.exit_code())
}

fn code(c: i32) -> ExitCode {
    ExitCode::from(c as u8)
}

/// Transparent huge pages off for this process. Where the system has them `always` on, the
/// allocator's arenas are backed by 2 MiB pages, and peak RSS on 100,000 pages rose from 26 to
/// 40 MiB for memory never used (bench/notes.md). It runs from `.init_array`, before `main` and
/// before the first allocation touches an arena; best effort: an old kernel just says no.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static NO_HUGE_PAGES: extern "C" fn() = {
    extern "C" fn no_huge_pages() {
        // SAFETY: prctl(PR_SET_THP_DISABLE) takes integers only and touches no memory of ours.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    no_huge_pages
};
