//! `pagefetch demo`: the six-term lesson, offline. Starts the built-in server in-process with a
//! web-like latency and runs `compare` (sequential vs joinset) against it; `--tls` does it over
//! HTTPS and HTTP/2, trusting a CA made for the occasion.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::cli::DemoArgs;
use crate::client::tls::Tls;
use crate::client::HttpVersions;
use crate::compare::{run_modes, Input, Plan};
use crate::exit::Outcome;
use crate::input::terms_from_args;
use crate::page::Strategy;
use crate::report::{self, Layout};
use crate::server::tls::Authority;
use crate::server::{Server, ServerConfig};
use crate::setup::{self, stderr_sink, stdout_sink};
use crate::template::{Jobs, Template};
use crate::{output, progress};

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
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    // Defaults exactly as `fetch` would have them.
    let mut settings = setup::settings_from_flags(&[])?;
    if args.http1_1 {
        settings.client.versions = HttpVersions::Http1;
    }
    let (server, template) = match args.tls {
        false => {
            let server = Server::start(loopback, config).await?;
            let template = server.template();
            (server, template)
        }
        true => {
            let ca = Authority::new("pagefetch demo CA")?;
            let tls = ca.localhost()?.server_config()?;
            let server = Server::start_with(loopback, config, Some(tls)).await?;
            settings.client.tls = Arc::new(Tls::new(vec![ca.der()], false));
            settings.client.tls.prepare()?;
            let template = format!("https://localhost:{}/search?q={{}}", server.addr().port());
            (server, template)
        }
    };
    if !args.output.quiet {
        output::warn(format_args!(
            "demo: built-in server on {} with {} latency + up to {} jitter per term",
            template.trim_end_matches("/search?q={}"),
            humantime::format_duration(args.latency),
            humantime::format_duration(args.jitter),
        ));
    }
    let plan = Plan {
        input: Input::List(Jobs::new(
            terms_from_args(&LESSON_TERMS),
            Template::parse(&template)?,
        )),
        settings,
        concurrency: LESSON_TERMS.len(),
        repeat: 1,
        progress: progress::enabled(args.output.progress, args.output.quiet),
        order: args.output.order,
        select: Default::default(),
        warmup: 0,
        hosts: Default::default(),
        judge: crate::compare::Judge {
            say: !args.output.quiet,
            ..Default::default()
        },
    };
    let reporter = report::reporter(
        args.output.format,
        Layout::Compare,
        stdout_sink(),
        stderr_sink(args.output.quiet),
        setup::color(args.output.color),
    );
    // The staircase beside the side-by-side bars is the lesson in one glance.
    let chart = setup::waterfall_chart(args.output.format, args.output.color);
    let mut reporter = report::Fanout(match args.no_waterfall {
        true => vec![reporter],
        false => vec![reporter, chart],
    });
    let outcome = run_modes(
        &plan,
        &[Strategy::Sequential, Strategy::Joinset],
        &mut reporter,
    )
    .await;
    drop(server);
    outcome
}
