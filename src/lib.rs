//! pagefetch: fetch many pages concurrently and report each page's size, status and time in input
//! order. `main.rs` parses the command line and calls [`run`]; tests call the modules directly.

pub mod cli;
pub mod compare;
pub mod demo;
pub mod exit;
pub mod fetch;
pub mod input;
pub mod limits;
pub mod order;
pub mod output;
pub mod progress;
pub mod report;
pub mod server;
pub mod stats;
pub mod template;
pub mod term;

use std::io::Write;

use cli::{Cli, Command, InputArgs, OutputArgs, RequestArgs, ServeArgs, Strategy};
use compare::{run_modes, Plan};
use exit::{Outcome, Signals};
use fetch::Settings;
use report::Layout;
use server::{Server, ServerConfig};
use template::{Jobs, Template};

/// Runs one command to its end. `Err` is a usage or fatal error (exit 2); a failed page is not.
pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Fetch(a) => {
            fetch_or_compare(a.input, a.request, a.output, &[a.mode], Layout::Fetch).await
        }
        Command::Compare(a) => {
            let mut modes = a.modes;
            // `--modes joinset,joinset` would only run the same loop twice.
            let mut seen = Vec::new();
            modes.retain(|m| {
                !seen.contains(m) && {
                    seen.push(*m);
                    true
                }
            });
            fetch_or_compare(a.input, a.request, a.output, &modes, Layout::Compare).await
        }
        Command::Serve(a) => serve(a).await,
        Command::Demo(a) => demo::run(a).await,
    }
}

async fn fetch_or_compare(
    input: InputArgs,
    request: RequestArgs,
    output: OutputArgs,
    modes: &[Strategy],
    layout: Layout,
) -> anyhow::Result<Outcome> {
    // Check the template before reading stdin, so a typo fails fast.
    let template = Template::parse(&input.template)?;
    let terms = input::read_terms(&input.terms, input.file.as_deref())?;
    let open_files = limits::raise_open_files();
    if modes.iter().any(|m| *m != Strategy::Sequential) {
        let in_flight = (request.concurrency as usize).min(terms.len());
        limits::check_open_files(in_flight, open_files)?;
    }
    let plan = Plan {
        jobs: Jobs::new(terms, template),
        settings: Settings {
            timeout: request.timeout,
            connect_timeout: request.connect_timeout,
            user_agent: request
                .user_agent
                .unwrap_or_else(Settings::default_user_agent),
            headers: request.headers,
            max_bytes: request.max_bytes,
            max_redirects: request.max_redirects,
            compressed: request.compressed,
            fail: request.fail,
        },
        concurrency: request.concurrency as usize,
        repeat: request.repeat as usize,
        progress: progress::enabled(output.progress, output.quiet),
    };
    let mut reporter = report::reporter(
        output.format,
        layout,
        stdout_sink(),
        stderr_sink(output.quiet),
    );
    run_modes(&plan, modes, reporter.as_mut()).await
}

/// `pagefetch serve`: prints the bound address as the first stdout line, serves until a signal.
async fn serve(args: ServeArgs) -> anyhow::Result<Outcome> {
    let config = ServerConfig {
        latency: args.latency,
        jitter: args.jitter,
    };
    let mut signals = Signals::new()?;
    limits::raise_open_files();
    let mut server = Server::start(args.addr, config).await?;
    let mut out = output::Stdout::new();
    writeln!(out, "{}", server.addr())?;
    out.flush()?;
    output::warn(format_args!(
        "pagefetch serve: listening on http://{addr} (try: pagefetch fetch -t 'http://{addr}/search?q={{}}' apple pear)",
        addr = server.addr()
    ));
    signals.recv().await;
    // First signal: stop accepting, let requests in flight finish (up to 5 s). A second one quits now.
    server.stop_accepting();
    output::warn(format_args!(
        "pagefetch serve: stopping; {} requests served, {} in flight",
        server.stats().requests(),
        server.stats().in_flight()
    ));
    let drain = async {
        while server.stats().in_flight() > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    let outcome = tokio::select! {
        drained = tokio::time::timeout(std::time::Duration::from_secs(5), drain) => {
            let left = server.stats().in_flight();
            match drained {
                Ok(()) => output::warn(format_args!("pagefetch serve: stopped")),
                Err(_) => output::warn(format_args!(
                    "pagefetch serve: stopped; {left} requests still in flight after 5 s were cut off"
                )),
            }
            Outcome::AllOk
        }
        code = signals.recv() => {
            output::warn(format_args!("pagefetch serve: stopped at once"));
            Outcome::Interrupted(code)
        }
    };
    drop(server);
    Ok(outcome)
}

/// Buffered stdout for reporters; its errors say they were writing stdout.
pub fn stdout_sink() -> Box<dyn Write> {
    Box::new(output::Stdout::new())
}

/// stderr for human summaries and warnings, unless `--quiet`. Writing it never fails.
pub fn stderr_sink(quiet: bool) -> Option<Box<dyn Write>> {
    (!quiet).then(|| Box::new(output::Stderr) as Box<dyn Write>)
}
