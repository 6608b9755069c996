//! From flags to a run's parts: request settings, the output sinks, colour and the waterfall
//! chart. `fetch`, `compare` and `demo` build their runs from these, so each default and each
//! stream rule lives in one place.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;

use crate::cli::{Format, RequestArgs};
use crate::client::proxy::Proxies;
use crate::client::tls::Tls;
use crate::client::{self, HttpVersions};
use crate::fetch::{self, Settings};
use crate::{limits, output, report, spool, term};

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
    // `-u` first: a `-H Authorization` of the user's own replaces it, as `-H` replaces any header
    // pagefetch would send.
    let mut headers = Vec::with_capacity(r.headers.len() + 1);
    if let Some(c) = &r.user {
        if c.password.is_none() && !quiet {
            output::warn(format_args!(
                "pagefetch: warning: -u without ':PASSWORD': sending an empty password \
                 (pagefetch does not ask for one)"
            ));
        }
        headers.push((http::header::AUTHORIZATION, basic_auth(c)));
    }
    headers.extend(r.headers.iter().cloned());
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
            headers,
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

/// `Authorization: Basic base64(USER:PASSWORD)`, marked sensitive (HTTP/2 never indexes it, and
/// its `Debug` hides it).
fn basic_auth(c: &crate::cli::Credentials) -> http::HeaderValue {
    use base64::Engine as _;
    let mut pair = c.user.clone();
    pair.push(b':');
    pair.extend_from_slice(c.password.as_deref().unwrap_or_default());
    let token = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = http::HeaderValue::try_from(format!("Basic {token}"))
        .expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
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
    waterfall_chart_to(&Report::Stdout, format, when)
}

/// `--waterfall` after the table wherever the report goes (stdout or `-o FILE`), or on stderr
/// when the report is data.
pub fn waterfall_chart_to<'a>(
    report: &Report,
    format: Format,
    when: term::ColorWhen,
) -> Box<dyn report::Reporter + 'a> {
    use std::io::IsTerminal;
    let env = |v: &str| std::env::var(v).ok();
    let (out, width, color) = match format {
        Format::Table => (report.sink(), report.columns(), report.color(when)),
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

/// Where the report goes: stdout, or the file of `-o FILE` ('-' is stdout).
pub enum Report {
    Stdout,
    File(spool::Shared),
}

impl Report {
    /// `-o`: FILE created (truncated) now, before any request, so that a path that cannot be
    /// written is a usage error naming it. `input` is `-f`'s path: writing over the file being
    /// read would lose the inputs not read yet.
    pub fn open(path: Option<&Path>, input: Option<&Path>) -> anyhow::Result<Report> {
        let Some(path) = path.filter(|p| *p != Path::new("-")) else {
            return Ok(Report::Stdout);
        };
        let shown = path.display();
        if let (Some(input), Ok(out)) = (input, std::fs::metadata(path)) {
            use std::os::unix::fs::MetadataExt;
            let same = std::fs::metadata(input)
                .is_ok_and(|i| (i.dev(), i.ino()) == (out.dev(), out.ino()));
            if same && input != Path::new("-") {
                anyhow::bail!("-o {shown}: it is the input file (-f); write the report elsewhere");
            }
        }
        let file = File::create(path).with_context(|| format!("-o {shown}: cannot create it"))?;
        let sink = output::LineFile::new(file, shown.to_string(), true);
        Ok(Report::File(spool::Shared::new(Box::new(sink))))
    }

    /// A handle for a reporter; all of them write one stream, in the order they hand bytes over.
    pub fn sink(&self) -> Box<dyn Write> {
        match self {
            Report::Stdout => stdout_sink(),
            Report::File(shared) => shared.handle(),
        }
    }

    /// The terminal width the table and chart may take: none in a file.
    pub fn columns(&self) -> Option<usize> {
        match self {
            Report::Stdout => term::stdout_columns(),
            Report::File(_) => None,
        }
    }

    /// Colour in the table and chart: in a file only with `--color always`.
    pub fn color(&self, when: term::ColorWhen) -> bool {
        match self {
            Report::Stdout => color(when),
            Report::File(_) => term::use_color(when, |v| std::env::var(v).ok(), false),
        }
    }
}
