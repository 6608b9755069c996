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
    /// No connection: refused, DNS failure, a proxy that would not connect... Decisions (retry,
    /// `error_kind`) match on its [`Cause`]; its Display is the words.
    Connect(Box<ConnectError>),
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
            PageError::Connect(c) => c.fmt(f),
            PageError::Input(m)
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

/// A name that did not resolve: the origin's host, or the proxy's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name {
    Host(String),
    Proxy(String),
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Host(h) => write!(f, "host {h}"),
            Name::Proxy(h) => write!(f, "proxy {h}"),
        }
    }
}

/// Why a connection failed, as retry and `error_kind` decide on it. The Display is the words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The name does not exist (NXDOMAIN, EAI_NONAME): asking again gives the same answer.
    NoSuchHost(Name),
    /// The resolver could not answer now (EAI_AGAIN, a timeout): worth asking again.
    DnsTemporary(Name),
    /// The connection was refused.
    Refused,
    /// The connection was reset.
    Reset,
    /// The connection attempt timed out (the system's timeout, not `--connect-timeout`).
    TimedOut,
    /// A proxy answered CONNECT to `target` with `status`.
    ProxyRefused { target: String, status: u16 },
    /// A proxy answered 407.
    ProxyWantsCredentials,
    /// Anything else, in words (a connection closed early, an HTTP/2 GOAWAY...).
    Other(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::NoSuchHost(name) => write!(f, "could not resolve {name}"),
            Cause::DnsTemporary(name) => {
                write!(f, "temporary failure resolving {name} (try again)")
            }
            Cause::Refused => f.write_str("connection refused"),
            Cause::Reset => f.write_str("connection reset by peer"),
            Cause::TimedOut => f.write_str("timed out"),
            Cause::ProxyRefused { target, status } => {
                write!(f, "refused the tunnel to {target} (HTTP {status})")
            }
            Cause::ProxyWantsCredentials => f.write_str("wants credentials (HTTP 407)"),
            Cause::Other(m) => f.write_str(m),
        }
    }
}

/// A connection failure: its cause, and the proxy it happened at (`host:port`), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectError {
    pub cause: Cause,
    pub proxy: Option<String>,
}

impl ConnectError {
    pub fn new(cause: Cause) -> ConnectError {
        ConnectError { cause, proxy: None }
    }

    /// `cause`, at the proxy shown as `proxy` if there is one.
    pub fn via(cause: Cause, proxy: Option<&str>) -> ConnectError {
        ConnectError {
            cause,
            proxy: proxy.map(str::to_string),
        }
    }

    /// Whether asking again could change the answer: not for a name that does not exist, nor
    /// for a proxy that said no.
    pub fn worth_retrying(&self) -> bool {
        !matches!(
            self.cause,
            Cause::NoSuchHost(_) | Cause::ProxyRefused { .. } | Cause::ProxyWantsCredentials
        )
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.proxy {
            Some(p) => write!(f, "proxy {p}: {}", self.cause),
            None => self.cause.fmt(f),
        }
    }
}

impl From<Cause> for ConnectError {
    fn from(cause: Cause) -> ConnectError {
        ConnectError::new(cause)
    }
}

impl From<Cause> for Box<ConnectError> {
    fn from(cause: Cause) -> Box<ConnectError> {
        Box::new(ConnectError::new(cause))
    }
}

/// Words alone, as test data gives them: [`Cause::Other`].
impl From<&str> for Box<ConnectError> {
    fn from(words: &str) -> Box<ConnectError> {
        Cause::Other(words.to_string()).into()
    }
}

impl From<ConnectError> for PageError {
    fn from(e: ConnectError) -> PageError {
        PageError::Connect(Box::new(e))
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
