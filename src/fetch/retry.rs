//! When a page is asked for again, and how long to wait first (curl's `--retry` rules).
//!
//! Retried: connection failures (refused, reset, closed before an answer), connect and transfer
//! timeouts, a body cut off, a temporary name lookup failure, and HTTP 408, 429, 500, 502, 503 and
//! 504. Not retried: other statuses, input errors, names that do not exist, TLS and redirect
//! errors. The n-th wait lies between d and 2d, where d = `--retry-delay` x 2^(n-1), and never
//! passes 60 s; a `Retry-After` header (in seconds or as an HTTP date) is waited instead, up to the
//! same 60 s (or `--retry-max-time`, if shorter): a server asking for `Retry-After: 99999` would
//! otherwise hold a page for 27 hours. No attempt starts once `--retry-max-time` has been spent on
//! the page.

use std::time::{Duration, SystemTime};

use crate::page::PageError;

/// The longest wait between two attempts, a server's `Retry-After` included.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// `--retry`, `--retry-delay`, `--retry-max-time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts after the first, at most.
    pub times: u32,
    pub delay: Duration,
    pub max_time: Option<Duration>,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            times: 0,
            delay: Duration::from_secs(1),
            max_time: None,
        }
    }
}

/// Statuses that say "try again later".
const RETRIED_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// Whether an attempt that ended with `status` and `error` is worth another.
pub fn worth_retrying(status: Option<u16>, error: Option<&PageError>) -> bool {
    match error {
        None | Some(PageError::Status(_)) => status.is_some_and(|s| RETRIED_STATUSES.contains(&s)),
        // A name that does not exist, or a proxy that says no, will say the same again.
        Some(PageError::Connect(c)) => c.worth_retrying(),
        Some(PageError::Timeout(_) | PageError::Body(_)) => true,
        Some(
            PageError::Input(_)
            | PageError::Tls(_)
            | PageError::Redirect(_)
            | PageError::Request(_)
            | PageError::Cancelled,
        ) => false,
    }
}

impl Retry {
    /// The wait before attempt `n + 1` (after `n` attempts), or `None` when no attempt is left:
    /// none of `times` remain, or the wait would end past `--retry-max-time` (`spent` so far).
    /// `retry_after` comes from the last answer; `unit` is a number in [0, 1) for the jitter.
    pub fn wait(
        &self,
        n: u32,
        spent: Duration,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Option<Duration> {
        if n > self.times {
            return None;
        }
        let wait = match retry_after {
            Some(asked) => asked.min(MAX_WAIT).min(self.max_time.unwrap_or(MAX_WAIT)),
            None => {
                let d = self.delay.saturating_mul(1 << (n - 1).min(20));
                // Capped before the jitter too: a product past `Duration::MAX` would panic.
                d.min(MAX_WAIT)
                    .mul_f64(1.0 + unit.clamp(0.0, 1.0))
                    .min(MAX_WAIT)
            }
        };
        match self.max_time {
            Some(max) if spent + wait > max => None,
            _ => Some(wait),
        }
    }
}

/// A `Retry-After` value: seconds, or an HTTP date (the wait until then; none if past).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A small, seedable source of jitter (no need for a crate: this is not cryptography).
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{Cause, ConnectError, Name};

    #[test]
    fn what_is_retried() {
        assert!(worth_retrying(Some(503), None));
        assert!(worth_retrying(Some(429), Some(&PageError::Status(429))));
        assert!(!worth_retrying(Some(404), None));
        assert!(!worth_retrying(Some(200), None));
        assert!(worth_retrying(
            None,
            Some(&PageError::Connect("connection refused".into()))
        ));
        assert!(worth_retrying(
            None,
            Some(&PageError::Timeout("timed out after 1s".into()))
        ));
        assert!(worth_retrying(
            Some(200),
            Some(&PageError::Body("connection reset by peer".into()))
        ));
        let dns = PageError::Connect(Cause::NoSuchHost(Name::Host("x.test".into())).into());
        assert!(!worth_retrying(None, Some(&dns)));
        let again = PageError::Connect(Cause::DnsTemporary(Name::Host("x.test".into())).into());
        assert!(
            worth_retrying(None, Some(&again)),
            "a temporary DNS failure"
        );
        // Decided on the cause, not on the words: a proxy that refused the tunnel or wants
        // credentials is asked no more; words alone (an unknown cause) are retried, even ones
        // that read like a refusal.
        let proxy = |cause| PageError::from(ConnectError::via(cause, Some("p:3128")));
        let tunnel = Cause::ProxyRefused {
            target: "a.test:443".into(),
            status: 403,
        };
        assert!(!worth_retrying(None, Some(&proxy(tunnel))));
        assert!(!worth_retrying(
            None,
            Some(&proxy(Cause::ProxyWantsCredentials))
        ));
        assert!(worth_retrying(None, Some(&proxy(Cause::Reset))));
        let words = PageError::Connect("could not resolve host x.test (or so it said)".into());
        assert!(worth_retrying(None, Some(&words)));
        assert!(!worth_retrying(
            None,
            Some(&PageError::Tls("certificate expired".into()))
        ));
        assert!(!worth_retrying(
            None,
            Some(&PageError::Redirect("redirect loop".into()))
        ));
        assert!(!worth_retrying(
            None,
            Some(&PageError::Input("line 3: invalid URL".into()))
        ));
    }

    #[test]
    fn waits_double_with_jitter_that_never_shortens_them() {
        let r = Retry {
            times: 5,
            delay: Duration::from_millis(100),
            max_time: None,
        };
        let ms = |d: Option<Duration>| d.unwrap().as_millis();
        assert_eq!(ms(r.wait(1, Duration::ZERO, None, 0.0)), 100);
        assert_eq!(ms(r.wait(2, Duration::ZERO, None, 0.0)), 200);
        assert_eq!(ms(r.wait(3, Duration::ZERO, None, 0.999)), 799);
        assert_eq!(
            r.wait(6, Duration::ZERO, None, 0.0),
            None,
            "five retries at most"
        );
        let long = Retry { times: 30, ..r };
        assert_eq!(long.wait(20, Duration::ZERO, None, 0.5), Some(MAX_WAIT));
        // Retry-After is waited as asked, up to 60 s, or --retry-max-time if shorter.
        let asked = |secs| Some(Duration::from_secs(secs));
        assert_eq!(ms(r.wait(1, Duration::ZERO, asked(45), 0.9)), 45_000);
        assert_eq!(
            r.wait(1, Duration::ZERO, asked(99_999), 0.0),
            Some(MAX_WAIT)
        );
        assert_eq!(
            r.wait(1, Duration::ZERO, asked(u64::MAX), 0.0),
            Some(MAX_WAIT)
        );
        let patient = Retry {
            max_time: Some(Duration::from_secs(3600)),
            ..r
        };
        assert_eq!(
            patient.wait(1, Duration::ZERO, asked(99_999), 0.0),
            Some(MAX_WAIT)
        );
        let capped = Retry {
            max_time: Some(Duration::from_secs(10)),
            ..r
        };
        assert_eq!(
            ms(capped.wait(1, Duration::ZERO, Some(Duration::from_secs(2)), 0.7)),
            2000
        );
        assert_eq!(
            ms(capped.wait(1, Duration::ZERO, Some(Duration::from_secs(30)), 0.0)),
            10_000
        );
        // No attempt starts past --retry-max-time.
        assert_eq!(
            capped.wait(1, Duration::from_secs(9), Some(Duration::from_secs(2)), 0.0),
            None
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn jitter_is_in_range() {
        let mut j = Jitter::new(42);
        for _ in 0..1000 {
            let u = j.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }
}
