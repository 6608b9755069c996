//! Waiting before a request may go: `--rate` (evenly spaced starts, retries included) and
//! `--per-host` (requests in flight to one scheme, host and port). Both wrap the one request path,
//! so every loop gets them; neither wait is part of a page's time.
//!
//! With `--per-host`, a page waiting for its host must not hold one of the `-c` places, or pages to
//! other hosts would queue behind it: the loops then keep more pages ready than `-c`
//! ([`Gate::slots`]) and the `-c` bound is a semaphore taken after the host's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// The longest duration a flag may give (a timeout, a delay, the time between two `--rate` starts):
/// a year, as humantime counts one (`1y`, 365.25 days). Every such value ends up added to
/// `Instant::now()`, and `Instant` plus a year is far inside what the clock and tokio's timer (about
/// two years ahead) can hold, where `300000000000y` overflowed at the first request.
pub const LONGEST: Duration = Duration::from_secs(31_557_600);

/// `--rate`: at most `count` request starts per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// The time between two starts.
    pub fn interval(&self) -> Duration {
        self.per / self.count.max(1)
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `20` (a second), `20/s`, `600/m`, `5/h`, `2/100ms`.
    fn from_str(s: &str) -> Result<Rate, String> {
        let (count, per) = s.trim().split_once('/').unwrap_or((s.trim(), "s"));
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                format!("expected a rate such as 20, 20/s, 600/m or 2/100ms, got {s:?}")
            })?;
        let per = match per.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other).map_err(|_| {
                format!("unknown unit {other:?} in rate {s:?} (s, m, h or a duration like 100ms)")
            })?,
        };
        if per.is_zero() {
            return Err(format!("rate {s:?}: the period must be longer than zero"));
        }
        let rate = Rate { count, per };
        if rate.interval() > LONGEST {
            return Err(format!(
                "rate {s:?}: one start every {} is longer than the longest wait, 1y",
                humantime::format_duration(rate.interval())
            ));
        }
        Ok(rate)
    }
}

/// Starts spaced `interval` apart, never bunched: each start reserves the next free instant
/// (a cell-rate pacer with a burst of one).
pub struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(rate: Rate) -> Pacer {
        Pacer {
            interval: rate.interval(),
            next: Mutex::new(None),
        }
    }

    /// Waits for this request's turn.
    pub async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// `--per-host`: the places of each host, made as hosts are met and dropped when no request holds
/// or waits for one, so a list of millions of hosts does not keep millions of entries.
struct PerHost {
    places: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The waits of one run: rate, per-host places, and the `-c` bound when the loops over-provision.
#[derive(Default)]
pub struct Gate {
    pacer: Option<Pacer>,
    per_host: Option<PerHost>,
    in_flight: Option<Arc<Semaphore>>,
}

/// What a request holds while it runs.
pub struct Pass<'a> {
    host: Option<(&'a PerHost, String, OwnedSemaphorePermit)>,
    _slot: Option<OwnedSemaphorePermit>,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let Some((per_host, key, permit)) = self.host.take() else {
            return;
        };
        drop(permit);
        // Clones of a host's semaphore are made under this lock (waiters and permit holders each
        // keep one), so a count of 1 here means only the map still knows the host.
        let mut hosts = per_host.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if hosts
            .get(&key)
            .is_some_and(|sem| Arc::strong_count(sem) == 1)
        {
            hosts.remove(&key);
        }
    }
}

impl Gate {
    pub fn new(rate: Option<Rate>, per_host: Option<usize>, concurrency: usize) -> Gate {
        Gate {
            pacer: rate.map(Pacer::new),
            per_host: per_host.map(|n| PerHost {
                places: n.max(1),
                hosts: Mutex::new(HashMap::new()),
            }),
            in_flight: per_host.map(|_| Arc::new(Semaphore::new(concurrency.max(1)))),
        }
    }

    /// Pages a loop should keep going at once for `concurrency` requests in flight: more with
    /// `--per-host`, so that pages to a busy host do not hold back pages to the others.
    pub fn slots(&self, concurrency: usize) -> usize {
        match self.per_host {
            Some(_) => concurrency.saturating_mul(8).clamp(concurrency, 4096),
            None => concurrency,
        }
    }

    /// Waits for the host's place and a `-c` place, then for the rate; returns what to hold until
    /// the page is done.
    pub async fn enter(&self, url: &Url) -> Pass<'_> {
        let host = match &self.per_host {
            Some(per_host @ PerHost { places, hosts }) => {
                let key = format!(
                    "{}://{}:{}",
                    url.scheme(),
                    url.host_str().unwrap_or_default(),
                    url.port_or_known_default().unwrap_or(0)
                );
                let sem = {
                    let mut hosts = hosts.lock().unwrap_or_else(|e| e.into_inner());
                    hosts
                        .entry(key.clone())
                        .or_insert_with(|| Arc::new(Semaphore::new(*places)))
                        .clone()
                };
                sem.acquire_owned()
                    .await
                    .ok()
                    .map(|permit| (per_host, key, permit))
            }
            None => None,
        };
        let slot = match &self.in_flight {
            Some(sem) => sem.clone().acquire_owned().await.ok(),
            None => None,
        };
        self.pace().await;
        Pass { host, _slot: slot }
    }

    /// Waits for the rate only (a retry keeps its places).
    pub async fn pace(&self) {
        if let Some(p) = &self.pacer {
            p.wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_in_every_spelling() {
        let r = |s: &str| s.parse::<Rate>().map(|r| r.interval());
        assert_eq!(r("20"), Ok(Duration::from_millis(50)));
        assert_eq!(r("20/s"), Ok(Duration::from_millis(50)));
        assert_eq!(r("600/m"), Ok(Duration::from_millis(100)));
        assert_eq!(r("2/100ms"), Ok(Duration::from_millis(50)));
        assert_eq!(r("1/h"), Ok(Duration::from_secs(3600)));
        assert_eq!(r("1/1y"), Ok(LONGEST));
        assert_eq!(r("2/2y"), Ok(LONGEST));
        for bad in [
            "0",
            "x",
            "5/fortnight",
            "-3/s",
            "2/0s",
            "1/18446744073709551615s",
            "1/2y",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn starts_are_evenly_spaced() {
        let p = Pacer::new("10/s".parse().unwrap());
        let t0 = Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            p.wait().await;
            at.push((Instant::now() - t0).as_millis());
        }
        assert_eq!(at, [0, 100, 200, 300, 400]);
    }

    #[tokio::test]
    async fn a_host_is_forgotten_once_no_request_holds_or_waits_for_it() {
        let gate = Gate::new(None, Some(1), 4);
        let known = |g: &Gate| g.per_host.as_ref().unwrap().hosts.lock().unwrap().len();
        for i in 0..100 {
            let url = Url::parse(&format!("http://h{i}.test/")).unwrap();
            let pass = gate.enter(&url).await;
            assert_eq!(known(&gate), 1);
            drop(pass);
        }
        assert_eq!(known(&gate), 0, "100 hosts met, none kept");
        // A host with a request waiting keeps its places for it.
        let url = Url::parse("http://busy.test/").unwrap();
        let first = gate.enter(&url).await;
        let second = gate.enter(&url);
        tokio::pin!(second);
        assert!(futures::poll!(second.as_mut()).is_pending());
        drop(first);
        let second = second.await;
        assert_eq!(known(&gate), 1);
        drop(second);
        assert_eq!(known(&gate), 0);
    }
}
