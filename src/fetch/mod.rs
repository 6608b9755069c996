//! One request path (`Fetcher::fetch_one`) shared by every loop; the loops differ only in scheduling.

mod join_all;
mod joinset;
mod sequential;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect;

use crate::cli::Strategy;
use crate::order::InOrder;
use crate::template::{mask, Job, Jobs};

/// Why a page failed. The Display text is short and stable: reporters print it, scripts match it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    /// The input line or URL was unusable (the text names the line).
    Input(String),
    /// No connection: refused, DNS failure, TLS handshake...
    Connect(String),
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
    /// Anything else reqwest reports.
    Request(String),
}

impl PageError {
    /// A stable machine-readable kind, for the `error_kind` field.
    pub fn kind(&self) -> &'static str {
        match self {
            PageError::Input(_) => "input",
            PageError::Connect(_) => "connect",
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
            | PageError::Timeout(m)
            | PageError::Redirect(m)
            | PageError::Request(m) => f.write_str(m),
            PageError::Body(m) => write!(f, "body: {m}"),
            PageError::Status(s) => write!(f, "HTTP {s}"),
            PageError::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// The fate of one page.
#[derive(Debug, Clone)]
pub struct PageResult {
    pub job: Arc<Job>,
    /// HTTP status, if headers arrived.
    pub status: Option<u16>,
    /// Body bytes actually read (decoded with `--compressed`), not Content-Length.
    pub bytes: u64,
    /// Request start to last body byte (or to the error).
    pub elapsed: Duration,
    /// Reading stopped at `--max-bytes`.
    pub truncated: bool,
    /// Where redirects ended, when that differs from the requested URL (password masked).
    pub final_url: Option<String>,
    pub error: Option<PageError>,
}

impl PageResult {
    pub fn new(job: Arc<Job>) -> Self {
        PageResult {
            job,
            status: None,
            bytes: 0,
            elapsed: Duration::ZERO,
            truncated: false,
            final_url: None,
            error: None,
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

/// How each request is made: the CLI's request options as plain values.
#[derive(Debug, Clone)]
pub struct Settings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub user_agent: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub max_bytes: Option<u64>,
    pub max_redirects: usize,
    pub compressed: bool,
    pub fail: bool,
}

impl Settings {
    pub fn default_user_agent() -> String {
        format!(
            "Mozilla/5.0 (compatible; pagefetch/{})",
            env!("CARGO_PKG_VERSION")
        )
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            user_agent: Settings::default_user_agent(),
            headers: Vec::new(),
            max_bytes: None,
            max_redirects: 10,
            compressed: false,
            fail: false,
        }
    }
}

/// A client plus the settings it was built from. Cheap to clone into tasks.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: Arc<Settings>,
}

impl Fetcher {
    /// One client per run, pooled for `concurrency` connections to a host.
    pub fn new(settings: &Settings, concurrency: usize) -> anyhow::Result<Self> {
        let max = settings.max_redirects;
        let policy = redirect::Policy::custom(move |attempt| {
            if !matches!(attempt.url().scheme(), "http" | "https") {
                let msg = format!("redirect to a non-HTTP URL ({}:)", attempt.url().scheme());
                attempt.error(msg)
            } else if attempt.previous().contains(attempt.url()) {
                attempt.error("redirect loop")
            } else if attempt.previous().len() > max {
                attempt.error(format!("more than {max} redirects"))
            } else {
                attempt.follow()
            }
        });
        let headers: HeaderMap = settings.headers.iter().cloned().collect();
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .default_headers(headers)
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .redirect(policy)
            .gzip(settings.compressed)
            .brotli(settings.compressed)
            .zstd(settings.compressed)
            .pool_max_idle_per_host(concurrency)
            .tcp_nodelay(true)
            .build()?;
        Ok(Fetcher {
            client,
            settings: Arc::new(settings.clone()),
        })
    }

    /// Requests one page and counts its body chunk by chunk. Never fails: errors go in the record.
    pub async fn fetch_one(&self, job: Arc<Job>) -> PageResult {
        let url = match &job.url {
            Ok(u) => u.clone(),
            Err(e) => {
                let e = PageError::Input(e.clone());
                return PageResult::failed(job, e);
            }
        };
        let start = Instant::now();
        let mut page = PageResult::new(job);
        match self.client.get(url).send().await {
            Err(e) => page.error = Some(self.classify(e, &page)),
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                page.status = Some(status);
                if page.job.url.as_ref().is_ok_and(|u| moved(u, resp.url())) {
                    page.final_url = Some(mask(resp.url()));
                }
                let limit = self.settings.max_bytes.unwrap_or(u64::MAX);
                loop {
                    match resp.chunk().await {
                        Ok(Some(chunk)) => {
                            let room = limit - page.bytes;
                            if chunk.len() as u64 > room {
                                page.bytes = limit;
                                page.truncated = true;
                                break;
                            }
                            page.bytes += chunk.len() as u64;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            page.error = Some(self.classify(e, &page));
                            break;
                        }
                    }
                }
                if page.error.is_none() && self.settings.fail && status >= 400 {
                    page.error = Some(PageError::Status(status));
                }
            }
        }
        page.elapsed = start.elapsed();
        page
    }

    /// Maps a reqwest error to a short message that names the limit or cause, never the URL.
    fn classify(&self, err: reqwest::Error, page: &PageResult) -> PageError {
        let s = &self.settings;
        if err.is_timeout() {
            return PageError::Timeout(if err.is_connect() {
                format!(
                    "connect timed out after {}",
                    humantime::format_duration(s.connect_timeout)
                )
            } else {
                format!("timed out after {}", humantime::format_duration(s.timeout))
            });
        }
        let host = page
            .job
            .url
            .as_ref()
            .ok()
            .and_then(|u| u.host_str())
            .unwrap_or("");
        let cause = describe(&err, host);
        if err.is_redirect() {
            PageError::Redirect(cause)
        } else if err.is_connect() {
            PageError::Connect(cause)
        } else if err.is_body() || err.is_decode() {
            PageError::Body(cause)
        } else {
            PageError::Request(cause)
        }
    }
}

/// Whether a response came from somewhere else than the URL asked for. The client never sends
/// the userinfo or the fragment as part of the URL, so a difference there alone is not a move.
fn moved(asked: &url::Url, answered: &url::Url) -> bool {
    let bare = |u: &url::Url| {
        let mut u = u.clone();
        let _ = u.set_username("");
        let _ = u.set_password(None);
        u.set_fragment(None);
        u
    };
    bare(asked) != bare(answered)
}

/// A one-line cause: well-known I/O and DNS failures in curl-like words, else the most specific
/// messages of the error's source chain (never the URL, which may hold credentials).
fn describe(err: &reqwest::Error, host: &str) -> String {
    let mut chain: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        chain.push(e);
        source = e.source();
    }
    for e in &chain {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let known = match io.kind() {
                ConnectionRefused => "connection refused",
                ConnectionReset => "connection reset by peer",
                ConnectionAborted => "connection aborted",
                UnexpectedEof => "connection closed early",
                BrokenPipe => "connection closed by the server",
                _ => continue,
            };
            return known.to_string();
        }
    }
    let texts: Vec<String> = chain.iter().map(ToString::to_string).collect();
    if texts
        .iter()
        .any(|t| t.contains("dns error") || t.contains("resolving DNS"))
    {
        return format!("could not resolve host {host}");
    }
    // The innermost message is the specific one ("connection closed before message completed");
    // the outer ones are wrappers ("client error (SendRequest)").
    match texts.iter().rev().find(|t| !t.is_empty()) {
        Some(t) => t.clone(),
        // Only reqwest's own text is left; drop the URL it puts in it.
        None => {
            let bare = err.to_string();
            bare.split(" for url (").next().unwrap_or(&bare).to_string()
        }
    }
}

/// Runs every job with the chosen loop, handing results to `out` as they finish.
pub async fn fetch_all(
    strategy: Strategy,
    fetcher: &Fetcher,
    jobs: &Jobs,
    concurrency: usize,
    out: &mut InOrder<'_>,
) -> std::io::Result<()> {
    match strategy {
        Strategy::Sequential => sequential::run(fetcher, jobs, out).await,
        Strategy::Joinset => joinset::run(fetcher, jobs, concurrency, out).await,
        Strategy::JoinAll => join_all::run(fetcher, jobs, concurrency, out).await,
    }
}
