//! `pagefetch demo`: the six-term lesson, offline. Starts the built-in server in-process with a
//! web-like latency and runs `compare` (sequential vs joinset) against it.

use std::net::SocketAddr;

use crate::cli::{DemoArgs, Strategy};
use crate::compare::{run_modes, Plan};
use crate::exit::Outcome;
use crate::fetch::Settings;
use crate::input::terms_from_args;
use crate::report::{self, Layout};
use crate::server::{Server, ServerConfig};
use crate::template::{Jobs, Template};
use crate::{progress, stderr_sink, stdout_sink};

/// The terms of the asyncio lesson this tool grew out of (also in `urls.txt`).
pub const LESSON_TERMS: [&str; 6] = [
    "apple",
    "pear",
    "grape",
    "pineapple",
    "orange",
    "strawberry",
];

pub async fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let config = ServerConfig {
        latency: args.latency,
        jitter: args.jitter,
    };
    let server = Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), config).await?;
    let template = Template::parse(&server.template())?;
    let terms = terms_from_args(&LESSON_TERMS);
    if !args.output.quiet {
        eprintln!(
            "demo: built-in server on http://{} with {} latency + up to {} jitter per term",
            server.addr(),
            humantime::format_duration(args.latency),
            humantime::format_duration(args.jitter),
        );
    }
    let plan = Plan {
        jobs: Jobs::new(terms, template),
        settings: Settings::default(),
        concurrency: LESSON_TERMS.len(),
        repeat: 1,
        progress: progress::enabled(args.output.progress, args.output.quiet),
    };
    let mut reporter = report::reporter(
        args.output.format,
        Layout::Compare,
        stdout_sink(),
        stderr_sink(args.output.quiet),
    );
    run_modes(
        &plan,
        &[Strategy::Sequential, Strategy::Joinset],
        reporter.as_mut(),
    )
    .await
}
