//! The command line: clap derive types and value parsers only, no I/O.
//!
//! Conventions (after xh): explicit `short`, plain `long`, uppercase `value_name`, and the doc comment
//! of every field and variant is its help text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use http::header::{HeaderName, HeaderValue};

use crate::check::Check;
use crate::client::resolve::Override;
use crate::fetch::pace::{Rate, LONGEST};
use crate::order::Order;
use crate::page::Strategy;
use crate::progress::ProgressWhen;
use crate::source::Shard;
use crate::term::ColorWhen;

/// Default URL template: a web search with the percent-encoded term in place of `{}`.
pub const DEFAULT_TEMPLATE: &str = "https://www.google.com/search?q={}";

/// The exit codes, as a literal so the help texts below can `concat!` it.
macro_rules! exit_codes {
    () => {
        "\
Exit status:
  0    every page was fetched
  1    the run finished but at least one page failed (its record says why)
  2    usage or fatal error (bad flag, unreadable input, bad template, no input)
  3    a --check failed (it outranks 1)
  130  interrupted by Ctrl-C (143 for SIGTERM)"
    };
}

const EXIT_CODES: &str = exit_codes!();

const FETCH_HELP: &str = concat!(
    "\
Examples:
  pagefetch fetch apple \"pear pie\" grape
  pagefetch fetch -t 'https://en.wikipedia.org/wiki/{}' -f terms.txt
  cat urls.txt | pagefetch fetch -c 16 --retry 2 --format ndjson | jq -r .status
  pagefetch fetch --shard 2/8 -f urls.txt --resume out/shard-2.ndjson
  pagefetch fetch --waterfall https://example.com/ https://example.org/

",
    exit_codes!()
);

const COMPARE_HELP: &str = concat!(
    "\
Examples:
  pagefetch compare -f urls.txt
  pagefetch compare --modes sequential,joinset,join-all --waterfall apple pear
  pagefetch compare --warmup 1 --repeat 5 --check 'speedup>=2' -f urls.txt
  pagefetch compare --repeat 5 --baseline old.json -f urls.txt

",
    exit_codes!()
);

const MERGE_HELP: &str = "\
Examples:
  pagefetch merge out/shard-*.ndjson > all.ndjson
  pagefetch merge --allow-gaps part0.ndjson part1.ndjson | tail -1
  pagefetch merge resumed.ndjson | grep -c '\"type\":\"page\"'";

const COMPLETIONS_HELP: &str = "\
Examples:
  source <(pagefetch completions bash)
  pagefetch completions zsh > ~/.zfunc/_pagefetch
  pagefetch completions fish > ~/.config/fish/completions/pagefetch.fish";

const MAN_HELP: &str = "\
Examples:
  pagefetch man | man -l -
  pagefetch man > pagefetch.1";

const DEMO_HELP: &str = "\
Examples:
  pagefetch demo
  pagefetch demo --tls
  pagefetch demo --latency 50ms --jitter 0ms --format json | jq .speedup";

/// Fetch many web pages concurrently; report each page's size, status and time in input order.
#[derive(Debug, Parser)]
#[command(name = "pagefetch", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch every input and print size, status and time per page, in input order
    Fetch(FetchArgs),
    /// Run several loops on the same inputs, print each and the speedup over the first loop
    Compare(CompareArgs),
    /// Run the built-in loopback test server (for trying, benchmarking and CI without internet)
    Serve(ServeArgs),
    /// Offline rerun of the six-term lesson: built-in server, sequential vs joinset
    Demo(DemoArgs),
    /// Merge NDJSON outputs (shards, resumed runs) into one stream in input order, one record per
    /// page, with a summary recomputed from them
    Merge(MergeArgs),
    /// Print a shell completion script (e.g. source <(pagefetch completions bash))
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print the manual page (roff; e.g. pagefetch man | man -l -)
    #[command(after_help = MAN_HELP)]
    Man,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
#[command(after_help = MERGE_HELP)]
pub struct MergeArgs {
    /// NDJSON outputs of `pagefetch fetch --format ndjson` (in input order; later files win ties)
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Write what there is even when some pages have no record in any file, or nothing says where
    /// the list ends (no file ends a finished run)
    #[arg(long)]
    pub allow_gaps: bool,
}

#[derive(Debug, Args)]
#[command(after_help = FETCH_HELP)]
pub struct FetchArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Loop that schedules the requests
    #[arg(short = 'm', long, value_name = "MODE", default_value = "joinset")]
    pub mode: Strategy,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Write the report to FILE instead of stdout, just as stdout would get it ('-' = stdout); lines
    /// reach FILE whole, so a run cut short leaves whole NDJSON records and CSV rows
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        help_heading = "Output",
        conflicts_with = "resume"
    )]
    pub output_file: Option<PathBuf>,
    #[command(flatten)]
    pub ci: CiArgs,
    /// Carry on an earlier run of the same inputs: skip the pages FILE (its NDJSON output, even cut
    /// off mid-line) records as done, and append the new records to FILE (stdout stays empty)
    #[arg(long, value_name = "FILE", help_heading = "Scale")]
    pub resume: Option<PathBuf>,
    /// With --resume, fetch the pages recorded as failed again too
    #[arg(long, requires = "resume", help_heading = "Scale")]
    pub resume_failed: bool,
}

#[derive(Debug, Args)]
#[command(after_help = COMPARE_HELP)]
pub struct CompareArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Loops to run, comma-separated, in this order; the first is the baseline of the speedup
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "sequential,joinset"
    )]
    pub modes: Vec<Strategy>,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Write the report to FILE instead of stdout, just as stdout would get it ('-' = stdout); lines
    /// reach FILE whole, so a run cut short leaves whole NDJSON records and CSV rows
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        help_heading = "Output"
    )]
    pub output_file: Option<PathBuf>,
    #[command(flatten)]
    pub ci: CiArgs,
}

/// Where the terms come from.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Search terms or http(s) URLs (read before the file's lines)
    #[arg(value_name = "TERMS")]
    pub terms: Vec<String>,
    /// Read terms or URLs from PATH, one a line ('-' = stdin; blank lines and '#' comments skipped)
    #[arg(short = 'f', long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// URL template; '{}' is replaced by the percent-encoded term (URL terms are used as they are)
    #[arg(short = 't', long, value_name = "URL", default_value = DEFAULT_TEMPLATE)]
    pub template: String,
    /// Fetch only the inputs whose 0-based index i has i mod N = K (records keep the global index);
    /// 'auto/N' takes K from JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN)
    /// or PARALLEL_SEQ-1
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
}

/// How each request is made.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// At most N requests in flight in the concurrent loops
    #[arg(short = 'c', long, value_name = "N", default_value = "64",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: u32,
    /// Limit for a whole transfer, body included (e.g. 250ms, 2s, 1m; at most 1y, like every duration)
    #[arg(long, visible_alias = "max-time", value_name = "D", default_value = "30s",
          value_parser = parse_duration)]
    pub timeout: Duration,
    /// Limit for opening the connection
    #[arg(long, value_name = "D", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// User-Agent header [default: Mozilla/5.0 (compatible; pagefetch/VERSION)]
    #[arg(short = 'A', long, value_name = "UA")]
    pub user_agent: Option<String>,
    /// Extra request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Basic credentials for every input URL, 'USER:PASSWORD' (curl's flag); without ':PASSWORD' an
    /// empty password is sent. Never shown; redirects to another host go without them
    #[arg(short = 'u', long, value_name = "USER[:PASSWORD]", allow_hyphen_values = true,
          value_parser = credentials())]
    pub user: Option<Credentials>,
    /// Stop reading a body after N bytes and mark the page truncated (suffixes K, M, G = KiB, MiB, GiB)
    #[arg(long, value_name = "N", value_parser = parse_size)]
    pub max_bytes: Option<u64>,
    /// Follow at most N redirects
    #[arg(long, value_name = "N", default_value = "10")]
    pub max_redirects: usize,
    /// Ask for gzip/deflate/brotli/zstd and count decoded bytes (default: bytes as received)
    #[arg(long)]
    pub compressed: bool,
    /// Count an HTTP status >= 400 as a failed page
    #[arg(long)]
    pub fail: bool,
    /// Run the whole fetch N times; report the wall time as mean ± σ, median, min and max (rows are the last run's)
    #[arg(long, value_name = "N", default_value = "1",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Unmeasured runs of each loop before the measured ones (a cold first run does not count)
    #[arg(long, value_name = "N", default_value = "0")]
    pub warmup: u32,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub polite: PoliteArgs,
}

/// Retries, a request rate and a per-host limit (curl's names where curl has them).
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Politeness")]
pub struct PoliteArgs {
    /// Ask again up to N times after a connection failure, a timeout, a body cut off, or HTTP 408,
    /// 429, 500, 502, 503 or 504
    #[arg(long, value_name = "N", default_value = "0")]
    pub retry: u32,
    /// First wait between attempts; it doubles each time, with jitter, up to 60s (a Retry-After
    /// header is waited instead, up to 60s too)
    #[arg(long, value_name = "D", default_value = "1s", value_parser = parse_duration_or_zero)]
    pub retry_delay: Duration,
    /// Start no attempt after this much time spent on a page
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub retry_max_time: Option<Duration>,
    /// Start at most R requests per second, evenly spaced, retries included (20, 20/s, 600/m, 2/100ms)
    #[arg(long, value_name = "R")]
    pub rate: Option<Rate>,
    /// At most N requests in flight to one host (scheme, host and port); -c still bounds the total
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub per_host: Option<u32>,
}

/// CI: checks that fail the build, a baseline to compare with, exports beside stdout.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "CI")]
pub struct CiArgs {
    /// Fail with exit 3 unless METRIC OP VALUE holds after the run, e.g. 'p95<=300ms',
    /// 'joinset.wall<2s', 'speedup>=4', 'failed==0', 'wall_change<=10%' (repeatable)
    #[arg(long = "check", value_name = "EXPR")]
    pub checks: Vec<Check>,
    /// Compare with the JSON output of an earlier run (--format json or --export-json)
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Exit 3 when a check against the baseline is inconclusive (its interval straddles the limit)
    #[arg(long)]
    pub fail_inconclusive: bool,
    /// Also write the JSON document to FILE, whatever --format is
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,
    /// Also write a GitHub-flavoured Markdown summary to FILE (e.g. "$GITHUB_STEP_SUMMARY")
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// Also write a self-contained HTML report to FILE: waterfalls, summaries, a histogram
    #[arg(long, value_name = "FILE")]
    pub export_html: Option<PathBuf>,
}

/// How connections are made: trust, HTTP versions, proxies, name overrides (curl's names).
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Connection")]
pub struct NetArgs {
    /// Trust the certificates in this PEM file besides the system store (repeatable)
    #[arg(long, value_name = "FILE")]
    pub cacert: Vec<PathBuf>,
    /// Accept any certificate (no verification: for testing only)
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Use HTTP/1.1 only
    #[arg(long = "http1.1", conflicts_with = "http2")]
    pub http1_1: bool,
    /// Require HTTP/2 (ALPN on https://, prior knowledge on http://)
    #[arg(long)]
    pub http2: bool,
    /// Proxy for every request, http://[user:pass@]host[:port] (replaces *_proxy variables; '' = none)
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Hosts, domains and networks reached without the proxy, comma-separated ('*' = all)
    #[arg(long, value_name = "LIST")]
    pub noproxy: Option<String>,
    /// Connect to ADDR for HOST:PORT; the URL, Host header and TLS name stay HOST (repeatable; HOST
    /// may be '*')
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    pub resolve: Vec<Override>,
}

/// What is printed, and where. Its own heading: a flattened group's `next_help_heading` carries
/// over to whatever follows it, so without one these options showed under the group before.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Output format on stdout
    #[arg(long, value_name = "FORMAT", default_value = "table")]
    pub format: Format,
    /// Progress bar on stderr
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub progress: ProgressWhen,
    /// No progress bar, no summary or warnings on stderr (errors and --check results still print)
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Order of the records: as in the input, or as each page finishes (no waiting)
    #[arg(long, value_name = "ORDER", default_value = "input")]
    pub order: Order,
    /// After the report, draw when each page ran, one chart per loop (on stderr for data formats)
    #[arg(long)]
    pub waterfall: bool,
    /// Colour in the table: auto (stdout a terminal, NO_COLOR unset), always, never; JSON, NDJSON
    /// and CSV are never coloured
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorWhen,
}

const SERVE_ROUTES: &str = "\
Examples:
  pagefetch serve --addr 127.0.0.1:0 --latency 50ms
  pagefetch serve --tls --ca-out ca.pem --addr 127.0.0.1:8443
  pagefetch serve --latency 300ms --jitter 100ms

Routes:
  GET /search?q=TERM  a page of 10,000-59,999 bytes (a pure function of TERM), after --latency
                      plus up to --jitter (derived from TERM)
Per-request overrides (query parameters):
  ms=N                answer after N milliseconds instead
  bytes=N             a body of exactly N bytes
  status=N            answer with HTTP status N
  close=1             close the connection after the answer (HTTP/1.1)
  fail=K              the first K requests for this query get status=N (default 503) and an
                      empty body, with Retry-After: R if retry_after=R; then the page
  drop=K              the first K requests for this query get their connection closed, no answer
  cut=K               the first K requests for this query get half their body, then the
                      connection breaks

The first stdout line is the address (ADDR:PORT). The first Ctrl-C or SIGTERM stops accepting and
lets requests in flight finish (up to 5 s), then exits 0; a second one exits at once (130/143).";

#[derive(Debug, Args)]
#[command(after_help = SERVE_ROUTES)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Delay before each answer
    #[arg(long, value_name = "D", default_value = "0ms", value_parser = parse_duration_or_zero)]
    pub latency: Duration,
    /// Extra delay of up to D, derived from the term (the same term always gets the same delay)
    #[arg(long, value_name = "D", default_value = "0ms", value_parser = parse_duration_or_zero)]
    pub jitter: Duration,
    /// Serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with a certificate made at start-up for localhost,
    /// 127.0.0.1 and ::1, signed by a fresh CA
    #[arg(long)]
    pub tls: bool,
    /// Write the CA certificate (PEM) to PATH before the address line is printed (with --tls)
    #[arg(long, value_name = "PATH", requires = "tls")]
    pub ca_out: Option<PathBuf>,
    /// Write each request's arrival time (microseconds from the start) to PATH on exit (for the
    /// pacing benchmark)
    #[arg(long, value_name = "PATH", hide = true)]
    pub log_arrivals: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(after_help = DEMO_HELP)]
pub struct DemoArgs {
    /// Serve and fetch over HTTPS (HTTP/2 by ALPN), trusting the server's own fresh CA
    #[arg(long)]
    pub tls: bool,
    /// Server delay before each answer (web-like)
    #[arg(long, value_name = "D", default_value = "300ms", value_parser = parse_duration_or_zero)]
    pub latency: Duration,
    /// Extra per-term delay of up to D, so pages finish out of input order
    #[arg(long, value_name = "D", default_value = "100ms", value_parser = parse_duration_or_zero)]
    pub jitter: Duration,
    /// Use HTTP/1.1 only (with --tls: no HTTP/2)
    #[arg(long = "http1.1")]
    pub http1_1: bool,
    /// Leave out the charts of when each page ran
    #[arg(long)]
    pub no_waterfall: bool,
    // Last: the options after it would show under its heading.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `-u USER[:PASSWORD]` as given (bytes: a password need not be UTF-8). Its `Debug` shows no
/// part of it, and no parser error can echo it: every value is accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: Vec<u8>,
    pub password: Option<Vec<u8>>,
}

impl Credentials {
    fn new(arg: std::ffi::OsString) -> Credentials {
        use std::os::unix::ffi::OsStringExt;
        let mut user = arg.into_vec();
        // The first ':' ends the user name, as in curl; the password may hold more of them.
        let password = user.iter().position(|&b| b == b':').map(|colon| {
            let password = user[colon + 1..].to_vec();
            user.truncate(colon);
            password
        });
        Credentials { user, password }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(***)")
    }
}

/// Output format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people, then a summary
    Table,
    /// One JSON document, written as the run goes (pages stream, the summary follows)
    Json,
    /// One JSON object a line, streamed in input order, then a summary line
    Ndjson,
    /// RFC 4180 CSV with a header row (the summary goes to stderr)
    Csv,
}

/// clap's error text (`error: ...`, tips, usage, "For more information...") as one line and a hint:
/// `("unexpected argument '--x' found (tip: ...)", "try 'pagefetch fetch --help'")`.
pub fn one_line_error(e: &clap::Error) -> (String, String) {
    // Display of clap's styled text is the plain text. The message itself may span lines (a value
    // with a newline in it), so it ends where clap's own tips, usage or hint begin.
    let text = e.render().to_string();
    let end = ["\n\n  tip: ", "\n\nUsage: ", "\n\nFor more information"]
        .iter()
        .filter_map(|marker| text.find(marker))
        .min()
        .unwrap_or(text.len());
    let mut first = text[..end].trim().replace("\n  [", " [");
    if e.kind() == clap::error::ErrorKind::MissingRequiredArgument {
        // "not provided:\n  <FILE>...\n  --x <X>": names clap lists a line each, no user text.
        first = first.replacen(":\n  ", ": ", 1).replace("\n  ", ", ");
    }
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    let (mut tips, mut command) = (Vec::new(), None);
    for line in text[end..].lines().map(str::trim) {
        if let Some(tip) = line.strip_prefix("tip: ") {
            tips.push(tip);
        } else if let Some(usage) = line.strip_prefix("Usage: ") {
            let words = usage.split_whitespace();
            let path: Vec<&str> = words
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect();
            command = Some(path.join(" "));
        }
    }
    let line = match tips.is_empty() {
        true => first.to_string(),
        false => format!("{first} (tip: {})", tips.join("; ")),
    };
    let command = command
        .filter(|c| c.contains(' '))
        .unwrap_or_else(subcommand_path);
    (line, format!("try '{command} --help'"))
}

/// Flags of curl, xh and oha that pagefetch does not have, and what to use instead: `(flags, the
/// subcommands it applies to (none: all), advice)`. Without it clap suggests the nearest name
/// (`--cookie` -> `--color`), which is never what was meant.
const OTHER_TOOLS: &[(&[&str], &[&str], &str)] = &[
    (
        &["--cookie", "-b"],
        &["fetch", "compare"],
        "send cookies with -H 'Cookie: NAME=VALUE'",
    ),
    (
        &[
            "--data",
            "-d",
            "--data-raw",
            "--data-binary",
            "--data-urlencode",
            "--form",
            "-F",
        ],
        &[],
        "pagefetch only sends GET requests, without a body",
    ),
    (
        &["--request", "-X", "--head", "-I", "--upload-file", "-T"],
        &[],
        "pagefetch only sends GET requests",
    ),
    (
        &["--json"],
        &["fetch", "compare", "demo"],
        "for JSON output use --format json (pagefetch only sends GET requests)",
    ),
    (
        &["--ndjson"],
        &["fetch", "compare", "demo"],
        "use --format ndjson",
    ),
    (
        &["--csv"],
        &["fetch", "compare", "demo"],
        "use --format csv",
    ),
    (
        &["--location", "-L"],
        &[],
        "redirects are followed by default (at most --max-redirects, 10)",
    ),
    (
        &["--max-redirs"],
        &["fetch", "compare"],
        "use --max-redirects N",
    ),
    (&["--retries"], &["fetch", "compare"], "use --retry N"),
    (
        &["--qps"],
        &["fetch", "compare"],
        "use --rate R (requests per second)",
    ),
    (
        &["--parallel", "-Z", "--parallel-max"],
        &["fetch", "compare"],
        "pages are fetched concurrently by default; -c N sets how many at once",
    ),
    (
        &["--silent", "-s"],
        &["fetch", "compare", "demo"],
        "use -q (--quiet)",
    ),
    (
        &["--no-progress"],
        &["fetch", "compare", "demo"],
        "use --progress never",
    ),
    (&["--no-color"], &[], "use --color never (or set NO_COLOR)"),
    (
        &["--verbose", "-v"],
        &["fetch", "compare"],
        "there is no verbose mode: each page's record (--format ndjson) says what happened to it",
    ),
    (
        &["--write-out", "-w"],
        &["fetch", "compare"],
        "each page's status, size and timings are in its record: --format json, ndjson or csv",
    ),
    (
        &["--output", "-o"],
        &["serve", "demo", "merge", "completions", "man"],
        "only fetch and compare have -o; redirect stdout here (> FILE)",
    ),
];

/// One line to print instead of clap's error, where the command line shows a habit from curl, xh
/// or oha: a URL or host name where the subcommand goes (`did you mean: pagefetch fetch URL`), or
/// a flag of those tools ([`OTHER_TOOLS`]). `args` is the whole command line, program first.
///
/// A bare word that is no subcommand gets no advice: it may as well be a mistyped subcommand,
/// which clap's own tip covers (`fech` -> `fetch`).
pub fn advice(e: &clap::Error, args: &[String]) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    match e.kind() {
        ErrorKind::InvalidSubcommand => {
            let given = context(ContextKind::InvalidSubcommand)?;
            let at = args.iter().skip(1).position(|a| a == given)? + 1;
            let term = as_input(given)?;
            let mut words = vec!["pagefetch".to_string(), "fetch".into()];
            words.extend(args[1..at].iter().cloned());
            words.extend(term);
            words.extend(args[at + 1..].iter().cloned());
            let line: Vec<String> = words.iter().map(|w| shell_word(w)).collect();
            let line = crate::mask::mask_userinfo(&line.join(" ")).into_owned();
            Some(format!(
                "unrecognized subcommand '{}'; did you mean: {line}",
                crate::mask::mask_userinfo(given)
            ))
        }
        ErrorKind::UnknownArgument => {
            let flag = context(ContextKind::InvalidArg)?;
            let sub = args
                .iter()
                .skip(1)
                .find(|a| !a.starts_with('-'))
                .map(String::as_str);
            let (_, _, advice) = OTHER_TOOLS.iter().find(|(flags, subs, _)| {
                flags.contains(&flag) && (subs.is_empty() || sub.is_some_and(|s| subs.contains(&s)))
            })?;
            Some(format!("unexpected argument '{flag}': {advice}"))
        }
        _ => None,
    }
}

/// What `pagefetch fetch` should be given for `word` typed where the subcommand goes: the same
/// URL; a host name as an https:// URL (a bare `example.com` would be a search term); an existing
/// file as `-f FILE`. None for anything else.
fn as_input(word: &str) -> Option<Vec<String>> {
    let lower = word.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return Some(vec![word.to_string()]);
    }
    if std::path::Path::new(word).is_file() {
        return Some(vec!["-f".into(), word.to_string()]);
    }
    let authority = word.split(['/', '?', '#']).next().unwrap_or(word);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let ipv4 = labels.len() == 4 && host.parse::<std::net::Ipv4Addr>().is_ok();
    let local = host.eq_ignore_ascii_case("localhost");
    // A name: two labels or more, the last one letters (a top-level domain) but no file name's
    // extension (`notes.txt` is more likely a missing file than a host).
    const FILE_EXTENSIONS: [&str; 9] = [
        "txt", "csv", "json", "ndjson", "md", "log", "tsv", "list", "lst",
    ];
    let tld = labels.last().copied().unwrap_or("");
    let name = labels.len() >= 2
        && labels.iter().all(label_ok)
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && !FILE_EXTENSIONS.contains(&tld.to_ascii_lowercase().as_str());
    let scheme = match (ipv4 || local, name) {
        (true, _) => "http",
        (false, true) => "https",
        (false, false) => return None,
    };
    let rest = &word[authority.len()..];
    let slash = if rest.is_empty() { "/" } else { "" };
    Some(vec![format!("{scheme}://{word}{slash}")])
}

/// `word` as a shell reads it back: as it is when it has nothing the shell would act on, else in
/// single quotes.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c);
    match !word.is_empty() && word.chars().all(plain) {
        true => word.to_string(),
        false => format!("'{}'", word.replace('\'', "'\\''")),
    }
}

/// `-q 10` from oha, where `-q` is the request rate: here `-q` is `--quiet` and the number is
/// fetched as a search term. The warning for it, when `args` (program first) has `-q` or `--quiet`
/// right before a bare number that became a term of `fetch` or `compare`.
pub fn quiet_number(cli: &Cli, args: &[String]) -> Option<String> {
    let (input, output) = match &cli.command {
        Command::Fetch(a) => (&a.input, &a.output),
        Command::Compare(a) => (&a.input, &a.output),
        _ => return None,
    };
    if !output.quiet {
        return None;
    }
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let number = |s: &str| {
        let (whole, fraction) = s.split_once('.').unwrap_or((s, "0"));
        [whole, fraction]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let pair = args[..end].windows(2).find(|w| {
        matches!(w[0].as_str(), "-q" | "--quiet") && number(&w[1]) && input.terms.contains(&w[1])
    })?;
    Some(format!(
        "pagefetch: warning: '{0} {1}' fetches the search term \"{1}\": -q is --quiet here; \
         the request rate is --rate {1}",
        pair[0], pair[1]
    ))
}

/// `pagefetch fetch` when the command line names a subcommand, else `pagefetch`: for the hint of
/// an error whose text has no usage line to take it from.
fn subcommand_path() -> String {
    use clap::CommandFactory;
    let cli = Cli::command();
    let named = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .filter(|a| cli.find_subcommand(a).is_some());
    match named {
        Some(sub) => format!("pagefetch {sub}"),
        None => "pagefetch".into(),
    }
}

/// A duration the clock can hold: at most [`LONGEST`] (1y), so that no deadline overflows.
fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s.trim()) {
        Err(e) => Err(format!("{e} (examples: 250ms, 2s, 1m)")),
        Ok(d) if d > LONGEST => {
            Err("must be at most 1y (a longer time would overflow the clock)".into())
        }
        Ok(d) => Ok(d),
    }
}

/// A limit: at least 1 ms, the resolution of the timer that enforces it (a shorter one would be
/// rounded up to the next timer tick and let a page finish "within" a 1 ns limit).
fn parse_duration(s: &str) -> Result<Duration, String> {
    match parse_duration_or_zero(s)? {
        d if d.is_zero() => Err("must be greater than zero".into()),
        d if d < Duration::from_millis(1) => {
            Err("must be at least 1ms (the timer's resolution)".into())
        }
        d => Ok(d),
    }
}

/// `Name: value`; the http crate's checks reject malformed names and CR/LF in values.
fn parse_header(s: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("expected 'Name: value', got {s:?}"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("invalid header name {:?}", name.trim()))?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| {
        format!("invalid value for header {name} (control characters are not allowed)")
    })?;
    Ok((name, value))
}

/// `-u`'s parser: takes any value, so that no error of clap's repeats a password.
fn credentials() -> impl clap::builder::TypedValueParser<Value = Credentials> {
    use clap::builder::TypedValueParser;
    clap::builder::OsStringValueParser::new().map(Credentials::new)
}

fn parse_resolve(s: &str) -> Result<Override, String> {
    Override::parse(s)
}

/// A byte count with an optional binary suffix: `512`, `64K`, `10M`, `1G`.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a byte count such as 512, 64K or 10M, got {s:?}"))?;
    let unit: u64 = match suffix.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(format!("unknown size suffix {suffix:?} (use K, M or G)")),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subcommand_help_ends_with_examples() {
        let mut cli = <Cli as clap::CommandFactory>::command();
        for sub in cli.get_subcommands_mut() {
            let help = sub.render_long_help().to_string();
            let tail = help.rsplit_once("Examples:").map(|(_, t)| t);
            assert!(
                tail.is_some_and(|t| t.contains("pagefetch")),
                "{} --help has no examples:\n{help}",
                sub.get_name()
            );
        }
    }
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("pagefetch").chain(args.iter().copied()))
    }

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn fetch_defaults() {
        let Command::Fetch(f) = parse(&["fetch", "apple"]).unwrap().command else {
            panic!("not fetch")
        };
        assert_eq!(f.mode, Strategy::Joinset);
        assert_eq!(f.request.concurrency, 64);
        assert_eq!(f.request.timeout, Duration::from_secs(30));
        assert_eq!(f.input.template, DEFAULT_TEMPLATE);
        assert_eq!(f.output.format, Format::Table);
    }

    #[test]
    fn compare_modes_list() {
        let Command::Compare(c) = parse(&["compare", "--modes", "join-all,sequential"])
            .unwrap()
            .command
        else {
            panic!("not compare")
        };
        assert_eq!(c.modes, vec![Strategy::JoinAll, Strategy::Sequential]);
    }

    #[test]
    fn rejects_zero_concurrency_and_timeout() {
        assert!(parse(&["fetch", "-c", "0", "x"]).is_err());
        assert!(parse(&["fetch", "--timeout", "0s", "x"]).is_err());
        assert!(parse(&["fetch", "--timeout", "soon", "x"]).is_err());
        assert!(parse(&["fetch", "--timeout", "1ns", "x"]).is_err());
        assert!(parse(&["fetch", "--connect-timeout", "999us", "x"]).is_err());
        assert!(parse(&["fetch", "--timeout", "1ms", "x"]).is_ok());
    }

    #[test]
    fn durations_and_rates_are_at_most_a_year() {
        for huge in ["300000000000y", "18446744073709551615s", "1y 1s"] {
            let err = parse_duration(huge).unwrap_err();
            assert!(err.contains("at most 1y"), "{huge}: {err}");
            assert!(parse_duration_or_zero(huge).is_err(), "{huge}");
        }
        assert_eq!(parse_duration("1y"), Ok(LONGEST));
        assert_eq!(parse_duration_or_zero("0s"), Ok(Duration::ZERO));
        // Through clap: the error names the flag, for every duration and rate flag.
        for args in [
            &["fetch", "--timeout", "300000000000y", "x"][..],
            &["fetch", "--connect-timeout", "2y", "x"],
            &["fetch", "--retry-delay", "18446744073709551615s", "x"],
            &["fetch", "--retry-max-time", "2y", "x"],
            &["fetch", "--rate", "1/18446744073709551615s", "x"],
            &["compare", "--rate", "1/2y", "x"],
            &["serve", "--latency", "2y"],
            &["serve", "--jitter", "2y"],
            &["demo", "--latency", "2y"],
            &["demo", "--jitter", "2y"],
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{args:?}"
            );
            assert!(err.to_string().contains(args[1]), "{args:?}: {err}");
        }
        assert!(parse(&["fetch", "--timeout", "1y", "--rate", "1/1y", "x"]).is_ok());
    }

    /// `pagefetch SUB --help` as printed: each option's long name and the heading it is under.
    fn headings(sub: &str) -> Vec<(String, String)> {
        let err = parse(&[sub, "--help"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        let (mut heading, mut found) = (String::new(), Vec::new());
        for line in err.render().to_string().lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                heading = line.trim_end_matches(':').to_string();
            } else if line.starts_with("  -") || line.starts_with("      --") {
                let long = line.split_whitespace().find(|w| w.starts_with("--"));
                let long = long.unwrap().trim_end_matches(',');
                found.push((long.to_string(), heading.clone()));
            }
        }
        found
    }

    #[test]
    fn help_puts_each_option_under_its_heading() {
        let expect = [
            ("--concurrency", "Options"),
            ("--timeout", "Options"),
            ("--cacert", "Connection"),
            ("--resolve", "Connection"),
            ("--retry", "Politeness"),
            ("--per-host", "Politeness"),
            ("--format", "Output"),
            ("--progress", "Output"),
            ("--quiet", "Output"),
            ("--order", "Output"),
            ("--waterfall", "Output"),
            ("--color", "Output"),
            ("--output", "Output"),
            ("--user", "Options"),
            ("--check", "CI"),
            ("--export-html", "CI"),
        ];
        for sub in ["fetch", "compare"] {
            let found = headings(sub);
            for (option, heading) in expect {
                let under = found.iter().find(|(o, _)| o == option).map(|(_, h)| h);
                assert_eq!(under.map(String::as_str), Some(heading), "{sub} {option}");
            }
        }
        let fetch = headings("fetch");
        assert!(
            fetch.contains(&("--resume".into(), "Scale".into())),
            "{fetch:?}"
        );
        let demo = headings("demo");
        for (option, heading) in [
            ("--tls", "Options"),
            ("--http1.1", "Options"),
            ("--no-waterfall", "Options"),
            ("--format", "Output"),
            ("--quiet", "Output"),
        ] {
            assert!(
                demo.contains(&(option.into(), heading.into())),
                "demo {option}: {demo:?}"
            );
        }
    }

    #[test]
    fn max_time_is_curls_name_for_timeout() {
        let Command::Fetch(f) = parse(&["fetch", "--max-time", "2s", "x"]).unwrap().command else {
            panic!("not fetch")
        };
        assert_eq!(f.request.timeout, Duration::from_secs(2));
        let help = parse(&["fetch", "--help"])
            .unwrap_err()
            .render()
            .to_string();
        assert!(help.contains("[alias: --max-time]"), "{help}");
    }

    #[test]
    fn headers() {
        let (n, v) = parse_header("X-Test:  a b ").unwrap();
        assert_eq!((n.as_str(), v.to_str().unwrap()), ("x-test", "a b"));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("Bad Name: x").is_err());
        assert!(parse_header("X: a\r\nInjected: 1").is_err());
    }

    #[test]
    fn user_and_password_split_at_the_first_colon_and_never_show() {
        let user = |args: &[&str]| {
            let Command::Fetch(f) = parse(args).unwrap().command else {
                panic!("not fetch")
            };
            f.request.user
        };
        let c = user(&["fetch", "-u", "alice:s3cr:et", "x"]).unwrap();
        assert_eq!(
            (&c.user[..], c.password.as_deref()),
            (&b"alice"[..], Some(&b"s3cr:et"[..]))
        );
        let c = user(&["fetch", "--user", "-token-", "x"]).unwrap();
        assert_eq!((&c.user[..], c.password), (&b"-token-"[..], None));
        let c = user(&["fetch", "--user=bob:", "x"]).unwrap();
        assert_eq!(c.password.as_deref(), Some(&b""[..]));
        assert_eq!(user(&["fetch", "x"]), None);
        let shown = format!(
            "{:?}",
            parse(&["fetch", "-u", "alice:s3cret", "x"]).unwrap()
        );
        assert!(
            !shown.contains("s3cret") && !shown.contains("alice"),
            "{shown}"
        );
        let twice = parse(&["fetch", "-u", "a:s3cret", "-u", "b:s3cret", "x"]);
        if let Err(e) = twice {
            assert!(!e.render().to_string().contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn what_looks_like_an_input_where_the_subcommand_goes() {
        let one = |w: &str| as_input(w).map(|v| v.join(" "));
        assert_eq!(one("HTTPS://x/"), Some("HTTPS://x/".into()));
        assert_eq!(one("example.com"), Some("https://example.com/".into()));
        assert_eq!(
            one("example.com:8443/a"),
            Some("https://example.com:8443/a".into())
        );
        assert_eq!(one("10.0.0.1:80"), Some("http://10.0.0.1:80/".into()));
        for not in [
            "apple",
            "fech",
            "notes.txt",
            "1.5",
            "a..b",
            "x.y1",
            "host:port",
            "-c",
        ] {
            assert_eq!(one(not), None, "{not}");
        }
        assert_eq!(shell_word("https://h/?q=a&b"), "'https://h/?q=a&b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("-c"), "-c");
    }

    #[test]
    fn other_tools_flags_are_none_of_ours() {
        let cli = Cli::command();
        for (flags, subs, _) in OTHER_TOOLS {
            for sub in cli.get_subcommands() {
                if !subs.is_empty() && !subs.contains(&sub.get_name()) {
                    continue;
                }
                for arg in sub.get_arguments() {
                    let long = arg.get_long().map(|l| format!("--{l}"));
                    let short = arg.get_short().map(|s| format!("-{s}"));
                    for name in [long, short].into_iter().flatten() {
                        assert!(!flags.contains(&name.as_str()), "{} {name}", sub.get_name());
                    }
                }
            }
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("2m"), Ok(2 << 20));
        assert!(parse_size("1T").is_err());
        assert!(parse_size("K").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}
