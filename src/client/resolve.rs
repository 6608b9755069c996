//! Name lookup: `--resolve` overrides first, then the system resolver, once per host and run.
//!
//! `localhost` is loopback without asking anyone, and a name under `.invalid` never resolves
//! (RFC 6761): neither sends a DNS query. Lookups are limited in number at once, because each one
//! holds a blocking thread and, while it runs, a socket of its own.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OnceCell, Semaphore};

use crate::page::{Cause, Name};

/// Lookups running at once (also counted in the open-files headroom, see `limits`).
pub const PARALLEL_LOOKUPS: usize = 32;

/// One `--resolve HOST:PORT:ADDR[,ADDR...]`; HOST may be `*` (any host on that port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub host: String,
    pub port: u16,
    pub addrs: Vec<IpAddr>,
}

impl Override {
    /// curl's syntax: `example.com:443:127.0.0.1`, `[::1]` or `::1` for IPv6, several addresses
    /// separated by commas.
    pub fn parse(s: &str) -> Result<Override, String> {
        let bad = || format!("expected HOST:PORT:ADDR (e.g. example.com:443:127.0.0.1), got {s:?}");
        let (host, rest) = match s.strip_prefix('[') {
            Some(v6) => {
                let (h, r) = v6.split_once("]:").ok_or_else(bad)?;
                (h, r)
            }
            None => s.split_once(':').ok_or_else(bad)?,
        };
        let (port, addrs) = rest.split_once(':').ok_or_else(bad)?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("invalid port {port:?} in {s:?}"))?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a.trim().trim_start_matches('[').trim_end_matches(']');
                a.parse::<IpAddr>()
                    .map_err(|_| format!("{a:?} in {s:?} is not an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Override {
            host: host.to_ascii_lowercase(),
            port,
            addrs,
        })
    }
}

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// The name does not exist (or has no address): cached for the run, not retried.
    NoSuchHost(String),
    /// The resolver could not answer now (EAI_AGAIN: a timeout, a server failure): not cached,
    /// and `--retry` asks again.
    Temporary(String),
}

impl LookupError {
    /// The name that was looked up.
    pub fn host(&self) -> &str {
        match self {
            LookupError::NoSuchHost(h) | LookupError::Temporary(h) => h,
        }
    }

    /// The connection's cause, for `name` (the host, or the proxy it stands for).
    pub fn cause(&self, name: Name) -> Cause {
        match self {
            LookupError::NoSuchHost(_) => Cause::NoSuchHost(name),
            LookupError::Temporary(_) => Cause::DnsTemporary(name),
        }
    }
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.cause(Name::Host(self.host().to_string())).fmt(f)
    }
}

/// How long an answer is used before the name is looked up again, so that a host that moves
/// during a long run is followed (getaddrinfo tells no TTL; this is a typical one).
pub const REFRESH: Duration = Duration::from_secs(60);

/// A name lookup: the system's (getaddrinfo), or a test's.
pub type LookupFn = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, LookupError>> + Send>>
        + Send
        + Sync,
>;

/// An answer, and when it came.
type Answer = Result<(Arc<[IpAddr]>, Instant), LookupError>;

type Lookup = Arc<OnceCell<Answer>>;

/// A run's resolver: the overrides, and each name looked up once per [`REFRESH`] (a name that
/// does not exist once per run; a temporary failure is not kept).
pub struct Resolver {
    overrides: Arc<[Override]>,
    cache: Mutex<HashMap<String, Lookup>>,
    permits: Semaphore,
    lookup: LookupFn,
    refresh: Duration,
}

/// What a lookup gave: addresses, and how long the lookup this caller made took (`None` when no
/// lookup was made for it: an override, a literal, or an answer already known; for `dns_ms`).
#[derive(Debug)]
pub struct Resolved {
    pub addrs: Vec<SocketAddr>,
    pub dns: Option<Duration>,
}

impl Resolver {
    pub fn new(overrides: Arc<[Override]>) -> Resolver {
        Resolver::with_lookup(overrides, Arc::new(system_lookup), REFRESH)
    }

    /// A resolver asking `lookup`, whose answers are used for `refresh`.
    pub fn with_lookup(
        overrides: Arc<[Override]>,
        lookup: LookupFn,
        refresh: Duration,
    ) -> Resolver {
        Resolver {
            overrides,
            cache: Mutex::new(HashMap::new()),
            permits: Semaphore::new(PARALLEL_LOOKUPS),
            lookup,
            refresh,
        }
    }

    /// Addresses for `host:port`. `host` is a name or an IP literal (IPv6 without brackets).
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Resolved, LookupError> {
        let with_port = |ips: &[IpAddr]| ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect();
        let host = host.to_ascii_lowercase();
        if let Some(o) = self
            .overrides
            .iter()
            .find(|o| o.port == port && (o.host == host || o.host == "*"))
        {
            return Ok(Resolved {
                addrs: with_port(&o.addrs),
                dns: None,
            });
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Resolved {
                addrs: with_port(&[ip]),
                dns: None,
            });
        }
        if host == "localhost" || host.ends_with(".localhost") {
            let loopback = [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ];
            return Ok(Resolved {
                addrs: with_port(&loopback),
                dns: None,
            });
        }
        if host == "invalid" || host.ends_with(".invalid") {
            return Err(LookupError::NoSuchHost(host));
        }
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            let entry = cache.entry(host.clone()).or_default();
            let stale = match entry.get() {
                Some(Ok((_, at))) => at.elapsed() >= self.refresh,
                Some(Err(LookupError::Temporary(_))) => true,
                _ => false,
            };
            if stale {
                *entry = Lookup::default();
            }
            entry.clone()
        };
        let mut took = None;
        let answer = cell
            .get_or_init(|| async {
                let _permit = self.permits.acquire().await;
                // dns_ms is the lookup itself, not the wait for a permit to make it.
                let started = Instant::now();
                let answer =
                    (self.lookup)(host.clone())
                        .await
                        .and_then(|ips| match ips.is_empty() {
                            true => Err(LookupError::NoSuchHost(host.clone())),
                            false => Ok((Arc::from(ips), Instant::now())),
                        });
                took = Some(started.elapsed());
                answer
            })
            .await
            .clone();
        if let Err(LookupError::Temporary(_)) = answer {
            // Not kept: the next connection asks again.
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.get(&host).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                cache.remove(&host);
            }
        }
        let (ips, _) = answer?;
        Ok(Resolved {
            addrs: with_port(&ips),
            dns: took,
        })
    }
}

/// getaddrinfo on a blocking thread, which tells a name that does not exist (EAI_NONAME) from a
/// resolver that could not answer (EAI_AGAIN); the standard library's lookup says neither.
fn system_lookup(
    host: String,
) -> Pin<Box<dyn Future<Output = Result<Vec<IpAddr>, LookupError>> + Send>> {
    Box::pin(async move {
        let name = host.clone();
        tokio::task::spawn_blocking(move || getaddrinfo(&name))
            .await
            .unwrap_or(Err(LookupError::Temporary(host)))
    })
}

fn getaddrinfo(host: &str) -> Result<Vec<IpAddr>, LookupError> {
    let no_such = || LookupError::NoSuchHost(host.to_string());
    let c_host = std::ffi::CString::new(host).map_err(|_| no_such())?;
    // SAFETY: a zeroed addrinfo is a valid "no hints" value; the fields set are plain integers.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the name is NUL-terminated, the hints and result pointers are valid; the result is
    // freed below with freeaddrinfo, once.
    let rc = unsafe { libc::getaddrinfo(c_host.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        return Err(match rc {
            libc::EAI_AGAIN | libc::EAI_MEMORY | libc::EAI_SYSTEM => {
                LookupError::Temporary(host.to_string())
            }
            _ => no_such(),
        });
    }
    let mut ips = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned, not yet freed; ai_addr points
        // to a sockaddr of the family ai_family says.
        let ai = unsafe { &*cur };
        let ip = match ai.ai_family {
            libc::AF_INET if !ai.ai_addr.is_null() => {
                let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr))))
            }
            libc::AF_INET6 if !ai.ai_addr.is_null() => {
                let sa = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
                Some(IpAddr::V6(Ipv6Addr::from(sa.sin6_addr.s6_addr)))
            }
            _ => None,
        };
        if let Some(ip) = ip.filter(|ip| !ips.contains(ip)) {
            ips.push(ip);
        }
        cur = ai.ai_next;
    }
    // SAFETY: `res` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_curls_syntax() {
        let o = Override::parse("Example.com:443:127.0.0.1,::1").unwrap();
        assert_eq!(o.host, "example.com");
        assert_eq!(o.port, 443);
        assert_eq!(o.addrs.len(), 2);
        let v6 = Override::parse("[::1]:8080:[::1]").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 8080));
        assert_eq!(Override::parse("*:80:10.0.0.1").unwrap().host, "*");
        for bad in [
            "example.com",
            "example.com:443",
            "h:port:1.2.3.4",
            "h:80:not-an-ip",
            ":80:1.2.3.4",
        ] {
            assert!(Override::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn overrides_literals_and_reserved_names_need_no_query() {
        let r = Resolver::new(Arc::from(vec![
            Override::parse("staging.test:443:10.1.2.3").unwrap(),
            Override::parse("*:8080:127.0.0.1").unwrap(),
        ]));
        let one = r.resolve("STAGING.test", 443).await.unwrap();
        assert_eq!(one.addrs, ["10.1.2.3:443".parse().unwrap()]);
        assert!(one.dns.is_none());
        let any = r.resolve("h123.test", 8080).await.unwrap();
        assert_eq!(any.addrs, ["127.0.0.1:8080".parse().unwrap()]);
        let lit = r.resolve("::1", 9).await.unwrap();
        assert_eq!(lit.addrs, ["[::1]:9".parse().unwrap()]);
        assert_eq!(r.resolve("localhost", 9).await.unwrap().addrs.len(), 2);
        let err = r.resolve("no-such-host.invalid", 80).await.unwrap_err();
        assert_eq!(err, LookupError::NoSuchHost("no-such-host.invalid".into()));
        assert_eq!(
            err.to_string(),
            "could not resolve host no-such-host.invalid"
        );
    }

    /// A fake resolver: answers from `script` in turn (the last one again when it runs out),
    /// counting the lookups made.
    fn scripted(
        script: Vec<Result<Vec<IpAddr>, LookupError>>,
    ) -> (LookupFn, Arc<std::sync::atomic::AtomicUsize>) {
        let made = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = made.clone();
        let lookup: LookupFn = Arc::new(move |_host| {
            let n = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = script[n.min(script.len() - 1)].clone();
            Box::pin(async move { answer })
        });
        (lookup, made)
    }

    fn made(n: &std::sync::atomic::AtomicUsize) -> usize {
        n.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_temporary_failure_is_said_so_and_asked_again() {
        let ip: IpAddr = "10.0.0.7".parse().unwrap();
        let (lookup, n) = scripted(vec![
            Err(LookupError::Temporary("a.test".into())),
            Ok(vec![ip]),
        ]);
        let r = Resolver::with_lookup(Arc::from(vec![]), lookup, REFRESH);
        let err = r.resolve("a.test", 80).await.unwrap_err();
        assert_eq!(err, LookupError::Temporary("a.test".into()));
        assert_eq!(
            err.to_string(),
            "temporary failure resolving host a.test (try again)"
        );
        let ok = r.resolve("a.test", 80).await.unwrap();
        assert_eq!(ok.addrs, ["10.0.0.7:80".parse().unwrap()]);
        assert_eq!(made(&n), 2, "the temporary failure was not kept");
    }

    #[tokio::test]
    async fn a_name_that_does_not_exist_is_asked_once() {
        let (lookup, n) = scripted(vec![Err(LookupError::NoSuchHost("nx.test".into()))]);
        let r = Resolver::with_lookup(Arc::from(vec![]), lookup, REFRESH);
        for _ in 0..3 {
            let err = r.resolve("nx.test", 80).await.unwrap_err();
            assert_eq!(err.to_string(), "could not resolve host nx.test");
        }
        assert_eq!(made(&n), 1);
    }

    #[tokio::test]
    async fn an_answer_from_the_cache_is_no_lookup_until_it_is_old() {
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let (lookup, n) = scripted(vec![Ok(vec![a]), Ok(vec![b])]);
        let r = Resolver::with_lookup(Arc::from(vec![]), lookup.clone(), REFRESH);
        let first = r.resolve("h.test", 80).await.unwrap();
        assert!(first.dns.is_some(), "the first connection made the lookup");
        let second = r.resolve("h.test", 80).await.unwrap();
        assert_eq!(second.dns, None, "no lookup was made for the second");
        assert_eq!(second.addrs, first.addrs);
        assert_eq!(made(&n), 1);
        // Answers are used for `refresh` only: a host that moved is followed.
        let (lookup, n) = scripted(vec![Ok(vec![a]), Ok(vec![b])]);
        let r = Resolver::with_lookup(Arc::from(vec![]), lookup, Duration::ZERO);
        assert_eq!(r.resolve("h.test", 80).await.unwrap().addrs[0].ip(), a);
        let moved = r.resolve("h.test", 80).await.unwrap();
        assert_eq!(moved.addrs[0].ip(), b);
        assert!(moved.dns.is_some());
        assert_eq!(made(&n), 2);
    }

    #[tokio::test]
    async fn dns_ms_leaves_out_the_wait_for_a_lookup_slot() {
        let lookup: LookupFn =
            Arc::new(|_host| Box::pin(async { Ok(vec!["10.0.0.1".parse::<IpAddr>().unwrap()]) }));
        let r = Resolver::with_lookup(Arc::from(vec![]), lookup, REFRESH);
        // Every slot busy for a while: the lookup waits for one, and that wait is not dns_ms.
        let held = r
            .permits
            .acquire_many(PARALLEL_LOOKUPS as u32)
            .await
            .unwrap();
        let release = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(held);
        };
        let (resolved, ()) = tokio::join!(r.resolve("slow.test", 80), release);
        let dns = resolved.unwrap().dns.unwrap();
        assert!(dns < Duration::from_millis(200), "{dns:?}");
    }

    #[test]
    fn the_system_lookup_tells_a_missing_name() {
        // `.invalid` never resolves (RFC 6761), and asking for it needs no network to say so.
        let err = getaddrinfo("no-such-host.invalid").unwrap_err();
        assert!(
            matches!(err, LookupError::NoSuchHost(_) | LookupError::Temporary(_)),
            "{err:?}"
        );
    }
}
