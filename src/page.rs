//! The page record, shared by every layer: what to fetch ([`Job`]) and what became of it
//! ([`PageResult`], [`PageError`], [`Transport`]). It sits at the bottom of the import graph: the
//! request path fills it in, the order stage, the summaries and the reporters read it, and it
//! depends on nothing in the crate but the masking rules.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::mask::mask;

/// One page to fetch.
#[derive(Debug)]
pub struct Job {
    /// 0-based input position.
    pub index: usize,
    /// 0-based position among the jobs of its run: equal to `index` unless `--shard` or
    /// `--resume` leaves inputs out. Records are put back in this order.
    pub seq: usize,
    /// The term or URL as given, with any password shown as `***`.
    pub input: String,
    /// The URL to request, or a one-line reason why there is none.
    pub url: Result<Url, String>,
    /// The URL as shown, when it cannot be derived from `url` by masking its password: a term
    /// holding `scheme://user:pass@` rendered into the template carries the password encoded.
    pub shown_url: Option<String>,
}

impl Job {
    pub fn new(index: usize, input: String, url: Result<Url, String>) -> Job {
        Job {
            index,
            seq: index,
            input,
            url,
            shown_url: None,
        }
    }

    /// The URL as shown in every output: passwords masked; `None` when the input was unusable.
    pub fn url_shown(&self) -> Option<Cow<'_, str>> {
        match (&self.shown_url, &self.url) {
            (Some(s), Ok(_)) => Some(Cow::Borrowed(s)),
            (None, Ok(u)) => Some(mask(u)),
            (_, Err(_)) => None,
        }
    }
}

/// Why a page failed. The Display text is short and stable: reporters print it, scripts match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// The input line or URL was unusable (the text names the line).
    Input(String),
    /// No connection: refused, DNS failure, a proxy that would not connect...
    Connect(String),
    /// The TLS handshake failed or the certificate was not accepted.
    Tls(String),
    /// A limit ran out; the text says which (`timed out after 30s`).
    Timeout(String),
    /// `--fail` and an HTTP status >= 400.
    Status(u16),
    /// The body broke off (reset, short read, bad encoding); bytes read so far are kept.
    Body(String),
    /// Too many redirects, a loop, or a redirect to a non-HTTP URL.
    Redirect(String),
    /// Interrupted before the page finished.
    Cancelled,
    /// Anything else: the request could not be sent, the answer was not HTTP.
    Request(String),
}

impl PageError {
    /// A stable machine-readable kind, for the `error_kind` field.
    pub fn kind(&self) -> &'static str {
        match self {
            PageError::Input(_) => "input",
            PageError::Connect(_) => "connect",
            PageError::Tls(_) => "tls",
            PageError::Timeout(_) => "timeout",
            PageError::Status(_) => "status",
            PageError::Body(_) => "body",
            PageError::Redirect(_) => "redirect",
            PageError::Cancelled => "cancelled",
            PageError::Request(_) => "request",
        }
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Input(m)
            | PageError::Connect(m)
            | PageError::Tls(m)
            | PageError::Timeout(m)
            | PageError::Redirect(m)
            | PageError::Request(m) => f.write_str(m),
            PageError::Body(m) => write!(f, "body: {m}"),
            PageError::Status(s) => write!(f, "HTTP {s}"),
            PageError::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// The HTTP version a response came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    Http10,
    Http11,
    Http2,
}

impl HttpVersion {
    /// `"1.0"`, `"1.1"`, `"2"`: the `http` field.
    pub fn name(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "1.0",
            HttpVersion::Http11 => "1.1",
            HttpVersion::Http2 => "2",
        }
    }
}

/// Phases of opening a connection, each measured where it happened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opening {
    /// Name lookup; `None` when there was none (an IP address, `--resolve`, or a proxy resolves).
    pub dns: Option<Duration>,
    /// TCP connect (to the proxy, when there is one, plus its CONNECT tunnel).
    pub connect: Duration,
    /// TLS handshake; `None` for plain HTTP.
    pub tls: Option<Duration>,
}

/// How the final response reached us. Every figure is exact for this page, or absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transport {
    pub http: Option<HttpVersion>,
    /// The response came over a connection that was already open before this page needed it.
    pub reused: Option<bool>,
    /// Page start to the final response's headers.
    pub ttfb: Option<Duration>,
    /// The opening of the connection this page opened for its final response, or waited for while
    /// it was opened (a shared HTTP/2 one); `None` if reused.
    pub opening: Option<Opening>,
}

/// The fate of one page.
#[derive(Debug, Clone)]
pub struct PageResult {
    pub job: Arc<Job>,
    /// HTTP status, if headers arrived.
    pub status: Option<u16>,
    /// Body bytes actually read (decoded with `--compressed`), not Content-Length.
    pub bytes: u64,
    /// Request start to last body byte (or to the error), waits between attempts included.
    pub elapsed: Duration,
    /// When the request started, from the start of its run (`None` if none was made).
    pub start: Option<Duration>,
    /// Reading stopped at `--max-bytes`.
    pub truncated: bool,
    /// Where redirects ended, when that differs from the requested URL (password masked).
    pub final_url: Option<String>,
    pub transport: Transport,
    pub error: Option<PageError>,
    /// Requests made for the page (1 unless `--retry` asked again).
    pub attempts: u32,
    /// Time spent waiting between attempts (inside `elapsed`).
    pub retry_wait: Duration,
}

impl PageResult {
    pub fn new(job: Arc<Job>) -> Self {
        PageResult {
            job,
            status: None,
            bytes: 0,
            elapsed: Duration::ZERO,
            start: None,
            truncated: false,
            final_url: None,
            transport: Transport::default(),
            error: None,
            attempts: 1,
            retry_wait: Duration::ZERO,
        }
    }

    pub fn failed(job: Arc<Job>, error: PageError) -> Self {
        PageResult {
            error: Some(error),
            ..PageResult::new(job)
        }
    }

    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// A loop that schedules the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    /// One request at a time over one reused connection
    Sequential,
    /// tokio JoinSet: one task per page, at most N in flight, refilled as they finish
    Joinset,
    /// futures join_all: N request loops polled together on one task
    JoinAll,
}

impl Strategy {
    /// The name used on the command line and in every output format.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Sequential => "sequential",
            Strategy::Joinset => "joinset",
            Strategy::JoinAll => "join-all",
        }
    }
}
