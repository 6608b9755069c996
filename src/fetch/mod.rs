//! One request path (`Fetcher::fetch_one`) shared by every loop; the loops differ only in scheduling.

mod join_all;
mod joinset;
pub mod pace;
pub mod retry;
mod sequential;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{self, Client, Step};
use crate::mask::mask;
use crate::order::InOrder;
use crate::page::{Job, PageError, PageResult, Strategy, Transport};
use crate::source::Source;

/// How each request is made and read: the request options as plain values, built once per
/// process (see `Settings::from_args` in lib.rs) and shared by every run.
#[derive(Clone)]
pub struct Settings {
    pub client: client::Options,
    /// Limit for a whole page, redirects and body included.
    pub timeout: Duration,
    pub max_bytes: Option<u64>,
    /// An HTTP status >= 400 fails the page.
    pub fail: bool,
    pub retry: retry::Retry,
    /// `--rate`: request starts per unit of time, retries included.
    pub rate: Option<pace::Rate>,
    /// `--per-host`: requests in flight to one scheme, host and port at most.
    pub per_host: Option<usize>,
}

impl Settings {
    pub fn default_user_agent() -> String {
        format!(
            "Mozilla/5.0 (compatible; pagefetch/{})",
            env!("CARGO_PKG_VERSION")
        )
    }
}

/// A run's client plus the settings it was built from. Cheap to clone into tasks.
#[derive(Clone)]
pub struct Fetcher {
    client: Arc<Client>,
    settings: Arc<Settings>,
    gate: Arc<pace::Gate>,
    /// When the run began: each page's `start` is measured from here.
    epoch: Instant,
}

impl Fetcher {
    /// One client per run: its own connections, none inherited from an earlier run.
    pub fn new(settings: &Settings, concurrency: usize) -> Self {
        Fetcher {
            client: Arc::new(Client::new(&settings.client, concurrency)),
            settings: Arc::new(settings.clone()),
            gate: Arc::new(pace::Gate::new(
                settings.rate,
                settings.per_host,
                concurrency,
            )),
            epoch: Instant::now(),
        }
    }

    /// When the run began (its wall time and every page's start count from here).
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Pages a loop should keep going at once for `concurrency` requests in flight.
    pub fn slots(&self, concurrency: usize) -> usize {
        self.gate.slots(concurrency)
    }

    /// Connections the run has opened so far.
    pub fn connections_opened(&self) -> usize {
        self.client.connections_opened()
    }

    /// Connections open right now.
    pub fn connections_open(&self) -> usize {
        self.client.connections_open()
    }

    /// Requests one page and counts its body chunk by chunk, again if `--retry` says so. Never
    /// fails: errors go in the record. The page's clock starts once the rate and the host's place
    /// let it go; retry waits are inside it.
    pub async fn fetch_one(&self, job: Arc<Job>) -> PageResult {
        let url = match &job.url {
            Ok(u) => u,
            Err(e) => {
                let e = PageError::Input(e.clone());
                return PageResult::failed(job, e);
            }
        };
        let _pass = self.gate.enter(url).await;
        let start = Instant::now();
        let started = start.saturating_duration_since(self.epoch);
        let retry = self.settings.retry;
        let mut jitter = retry::Jitter::new(job.index as u64 ^ start.elapsed().as_nanos() as u64);
        let mut waited = Duration::ZERO;
        let mut attempts = 1;
        loop {
            let (mut page, retry_after, resent) = self.attempt(job.clone(), url).await;
            attempts += resent;
            let again = retry::worth_retrying(page.status, page.error.as_ref())
                .then(|| retry.wait(attempts, start.elapsed(), retry_after, jitter.unit()))
                .flatten();
            let Some(wait) = again else {
                page.elapsed = start.elapsed();
                page.start = Some(started);
                page.attempts = attempts;
                page.retry_wait = waited;
                return page;
            };
            tokio::time::sleep(wait).await;
            waited += wait;
            attempts += 1;
            self.gate.pace().await;
        }
    }

    /// One attempt: its status, bytes and error, and its timings from its own start (`ttfb`
    /// leaves out the waits before it; the caller sets the page's elapsed time, waits included).
    /// Also returns the answer's `Retry-After`, if any.
    async fn attempt(&self, job: Arc<Job>, url: &url::Url) -> (PageResult, Option<Duration>, u32) {
        let attempt_start = Instant::now();
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        let mut page = PageResult::new(job);
        let timed_out = || {
            PageError::Timeout(format!(
                "timed out after {}",
                humantime::format_duration(self.settings.timeout)
            ))
        };
        let limit = self.settings.max_bytes.unwrap_or(u64::MAX);
        let mut retry_after = None;
        let mut resent = 0;
        match tokio::time::timeout_at(deadline, self.client.get(url, limit, &mut resent)).await {
            Err(_) => page.error = Some(timed_out()),
            Ok(Err(e)) => page.error = Some(e),
            Ok(Ok(mut resp)) => {
                page.status = Some(resp.status);
                retry_after = resp
                    .retry_after
                    .as_deref()
                    .and_then(|v| retry::parse_retry_after(v, std::time::SystemTime::now()));
                if moved(url, &resp.url) {
                    page.final_url = Some(mask(&resp.url).into_owned());
                }
                page.transport = Transport {
                    http: Some(resp.version),
                    reused: Some(resp.reused),
                    ttfb: Some(resp.headers_at - attempt_start),
                    opening: resp.opening,
                };
                loop {
                    match tokio::time::timeout_at(deadline, resp.body.next()).await {
                        Err(_) => page.error = Some(timed_out()),
                        Ok(Err(e)) => page.error = Some(e),
                        Ok(Ok(Step::End)) => {}
                        Ok(Ok(Step::Data(n, full))) => {
                            page.bytes += n;
                            page.truncated = full;
                            if !full {
                                continue;
                            }
                        }
                    }
                    break;
                }
                if page.error.is_none() && self.settings.fail && resp.status >= 400 {
                    page.error = Some(PageError::Status(resp.status));
                }
            }
        }
        (page, retry_after, resent)
    }
}

/// Whether a response came from somewhere else than the URL asked for. The userinfo and the
/// fragment are never sent as part of the URL, so a difference there alone is not a move.
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

/// Runs every job of `source` with the chosen loop, handing results to `out` as they finish.
pub async fn fetch_all(
    strategy: Strategy,
    fetcher: &Fetcher,
    source: &mut Source<'_>,
    concurrency: usize,
    out: &mut InOrder<'_>,
) -> std::io::Result<()> {
    match strategy {
        Strategy::Sequential => sequential::run(fetcher, source, out).await,
        Strategy::Joinset => joinset::run(fetcher, source, concurrency, out).await,
        Strategy::JoinAll => join_all::run(fetcher, source, concurrency, out).await,
    }
}
