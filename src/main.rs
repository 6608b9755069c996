use std::io;
use std::process::ExitCode;

use clap::Parser;
use pagefetch::cli::Cli;
use pagefetch::exit::{self, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Ok(outcome @ Outcome::Interrupted(_)) => {
            eprintln!("pagefetch: interrupted; unfinished pages are marked cancelled");
            code(outcome.code())
        }
        Ok(outcome) => code(outcome.code()),
        // `pagefetch ... | head`: the reader left; that is not an error (as in ripgrep).
        Err(e) if is_broken_pipe(&e) => code(exit::SUCCESS),
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("pagefetch: error: {e:#}");
    code(exit::USAGE)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}

fn code(c: i32) -> ExitCode {
    ExitCode::from(c as u8)
}
