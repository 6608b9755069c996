//! Name lookup: `--resolve` overrides first, then the system resolver, once per host and run.
//!
//! `localhost` is loopback without asking anyone, and a name under `.invalid` never resolves
//! (RFC 6761): neither sends a DNS query. Lookups are limited in number at once, because each one
//! holds a blocking thread and, while it runs, a socket of its own.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};

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
    /// The name does not exist (or has no address).
    NoSuchHost(String),
}

impl LookupError {
    /// The name that was looked up.
    pub fn host(&self) -> &str {
        match self {
            LookupError::NoSuchHost(h) => h,
        }
    }

    /// The connection's cause, for `name` (the host, or the proxy it stands for).
    pub fn cause(&self, name: Name) -> Cause {
        match self {
            LookupError::NoSuchHost(_) => Cause::NoSuchHost(name),
        }
    }
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.cause(Name::Host(self.host().to_string())).fmt(f)
    }
}

type Lookup = Arc<OnceCell<Result<Arc<[IpAddr]>, LookupError>>>;

/// A run's resolver: the overrides, and each name looked up at most once.
pub struct Resolver {
    overrides: Arc<[Override]>,
    cache: Mutex<HashMap<String, Lookup>>,
    permits: Semaphore,
}

/// What a lookup gave: addresses, and whether a query was made for them (for `dns_ms`).
#[derive(Debug)]
pub struct Resolved {
    pub addrs: Vec<SocketAddr>,
    pub looked_up: bool,
}

impl Resolver {
    pub fn new(overrides: Arc<[Override]>) -> Resolver {
        Resolver {
            overrides,
            cache: Mutex::new(HashMap::new()),
            permits: Semaphore::new(PARALLEL_LOOKUPS),
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
                looked_up: false,
            });
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Resolved {
                addrs: with_port(&[ip]),
                looked_up: false,
            });
        }
        if host == "localhost" || host.ends_with(".localhost") {
            let loopback = [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ];
            return Ok(Resolved {
                addrs: with_port(&loopback),
                looked_up: false,
            });
        }
        if host == "invalid" || host.ends_with(".invalid") {
            return Err(LookupError::NoSuchHost(host.clone()));
        }
        let cell = {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            cache.entry(host.clone()).or_default().clone()
        };
        let ips = cell
            .get_or_init(|| async {
                let _permit = self.permits.acquire().await;
                match tokio::net::lookup_host((host.as_str(), 0)).await {
                    Ok(found) => {
                        let ips: Vec<IpAddr> = found.map(|a| a.ip()).collect();
                        match ips.is_empty() {
                            true => Err(LookupError::NoSuchHost(host.clone())),
                            false => Ok(ips.into()),
                        }
                    }
                    Err(_) => Err(LookupError::NoSuchHost(host.clone())),
                }
            })
            .await
            .clone()?;
        Ok(Resolved {
            addrs: with_port(&ips),
            looked_up: true,
        })
    }
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
        assert!(!one.looked_up);
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
}
