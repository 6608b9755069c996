//! From flags to a run's parts: request settings, the output sinks, colour and the waterfall
//! chart. `fetch`, `compare` and `demo` build their runs from these, so each default and each
//! stream rule lives in one place.

use std::io::Write;
use std::sync::Arc;

use crate::cli::{Format, RequestArgs};
use crate::client::proxy::Proxies;
use crate::client::tls::Tls;
use crate::client::{self, HttpVersions};
use crate::fetch::{self, Settings};
use crate::{limits, output, report, term};

/// Settings from request flags as `fetch` takes them (`["--timeout", "2s"]`; none for the
/// defaults), for `demo` and for tests that run the loops in-process.
pub fn settings_from_flags(flags: &[&str]) -> anyhow::Result<Settings> {
    use clap::{Args, FromArgMatches};
    let command = RequestArgs::augment_args(clap::Command::new("pagefetch"));
    let matches =
        command.try_get_matches_from(std::iter::once("pagefetch").chain(flags.iter().copied()))?;
    let request = RequestArgs::from_arg_matches(&matches)?;
    settings(&request, limits::raise_open_files(), true)
}

/// The request options as plain values. Every default comes from the clap definitions, so there
/// is one place to change one.
pub fn settings(r: &RequestArgs, open_files: Option<u64>, quiet: bool) -> anyhow::Result<Settings> {
    let net = &r.net;
    let trusted = client::tls::read_pem_files(&net.cacert)?;
    if net.insecure && !quiet {
        output::warn(format_args!(
            "pagefetch: warning: --insecure: certificates are not verified"
        ));
    }
    let proxies = Proxies::from_env(net.proxy.as_deref(), net.noproxy.as_deref())
        .map_err(anyhow::Error::msg)?;
    let versions = match (net.http1_1, net.http2) {
        (true, _) => HttpVersions::Http1,
        (_, true) => HttpVersions::Http2,
        _ => HttpVersions::Auto,
    };
    Ok(Settings {
        client: client::Options {
            connect_timeout: r.connect_timeout,
            user_agent: r
                .user_agent
                .clone()
                .unwrap_or_else(Settings::default_user_agent),
            headers: r.headers.clone(),
            max_redirects: r.max_redirects,
            compressed: r.compressed,
            versions,
            tls: Arc::new(Tls::new(trusted, net.insecure)),
            proxies: Arc::new(proxies),
            resolve: net.resolve.clone().into(),
            max_open: limits::max_open(open_files),
        },
        timeout: r.timeout,
        max_bytes: r.max_bytes,
        fail: r.fail,
        retry: fetch::retry::Retry {
            times: r.polite.retry,
            delay: r.polite.retry_delay,
            max_time: r.polite.retry_max_time,
        },
        rate: r.polite.rate,
        per_host: r.polite.per_host.map(|n| n as usize),
    })
}

/// Whether the table is coloured (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`, a terminal on stdout).
pub fn color(when: term::ColorWhen) -> bool {
    use std::io::IsTerminal;
    term::use_color(
        when,
        |v| std::env::var(v).ok(),
        std::io::stdout().is_terminal(),
    )
}

/// `--waterfall`: after the table on stdout, or on stderr when stdout carries data; coloured by
/// `--color` as that stream's terminal allows.
pub fn waterfall_chart<'a>(
    format: Format,
    when: term::ColorWhen,
) -> Box<dyn report::Reporter + 'a> {
    use std::io::IsTerminal;
    let env = |v: &str| std::env::var(v).ok();
    let (out, width, color) = match format {
        Format::Table => (stdout_sink(), term::stdout_columns(), color(when)),
        _ => (
            Box::new(output::Stderr) as Box<dyn Write>,
            term::stderr_columns(),
            term::use_color(when, env, std::io::stderr().is_terminal()),
        ),
    };
    let width = width.unwrap_or(80);
    Box::new(report::waterfall::Chart::new(out, width, color))
}

/// stdout for reporters, written from a thread of its own (spool.rs); its errors name stdout.
pub fn stdout_sink() -> Box<dyn Write> {
    crate::spool::stdout()
}

/// stderr for human summaries and warnings, unless `--quiet`. Writing it never fails.
pub fn stderr_sink(quiet: bool) -> Option<Box<dyn Write>> {
    (!quiet).then(|| Box::new(output::Stderr) as Box<dyn Write>)
}
