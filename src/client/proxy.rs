//! Which proxy, if any, a URL goes through.
//!
//! From the environment as curl reads it (`http_proxy`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`,
//! either case; the upper-case `HTTP_PROXY` is ignored under CGI, where a request header can set
//! it), or from `--proxy` and `--noproxy`, which replace them. Loopback addresses and `localhost`
//! never go through a proxy (as in Go's HTTP client): a proxy on another machine cannot reach
//! them. Only `http://` proxies are supported; HTTPS goes through them with CONNECT.

use std::net::IpAddr;

use base64::Engine as _;
use url::{Host, Url};

use crate::mask::mask;

/// One proxy server.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyServer {
    pub host: String,
    pub port: u16,
    /// `Proxy-Authorization` value from the proxy URL's userinfo.
    pub auth: Option<String>,
    /// `host:port`, as errors name the proxy.
    pub shown: String,
}

impl ProxyServer {
    /// An `http://[user:pass@]host[:port]` proxy URL (a bare `host:port` is taken as http://).
    pub fn parse(s: &str, from: &str) -> Result<ProxyServer, String> {
        let with_scheme = match s.contains("://") {
            true => s.to_string(),
            false => format!("http://{s}"),
        };
        let shown = crate::mask::mask_userinfo(s);
        let url = Url::parse(&with_scheme)
            .map_err(|e| format!("{from}: invalid proxy URL {shown:?}: {e}"))?;
        if url.scheme() != "http" {
            return Err(format!(
                "{from}: proxy {} uses {}://; only http:// proxies are supported",
                mask(&url),
                url.scheme()
            ));
        }
        let host = match url.host() {
            Some(Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => return Err(format!("{from}: proxy URL {shown:?} has no host")),
        };
        let port = url.port().unwrap_or(1080);
        let auth = (!url.username().is_empty()).then(|| {
            let user = percent_decode(url.username());
            let pass = percent_decode(url.password().unwrap_or(""));
            basic(&user, &pass)
        });
        let shown = match url.host() {
            Some(Host::Ipv6(ip)) => format!("[{ip}]:{port}"),
            _ => format!("{host}:{port}"),
        };
        Ok(ProxyServer {
            host,
            port,
            auth,
            shown,
        })
    }
}

/// `Basic base64(user:pass)`.
pub fn basic(user: &str, pass: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {token}")
}

pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The proxy rules of a run.
#[derive(Debug, Clone, Default)]
pub struct Proxies {
    http: Option<ProxyServer>,
    https: Option<ProxyServer>,
    no_proxy: Vec<NoProxy>,
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq)]
enum NoProxy {
    All,
    /// A name and every name under it (`example.com` and `.example.com` both match `a.example.com`).
    Domain(String),
    /// An address or a network (`10.0.0.0/8`).
    Net(IpAddr, u8),
}

impl Proxies {
    /// `--proxy` (empty: no proxy at all) and `--noproxy` replace what the environment says.
    pub fn new(
        proxy: Option<&str>,
        noproxy: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Proxies, String> {
        let get = |names: &[&str]| {
            names.iter().find_map(|n| {
                env(n)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (n.to_string(), v))
            })
        };
        let cgi = env("REQUEST_METHOD").is_some();
        let parse = |found: Option<(String, String)>| {
            found
                .map(|(name, v)| ProxyServer::parse(v.trim(), &name))
                .transpose()
        };
        let (http, https) = match proxy {
            Some("") => (None, None),
            Some(p) => {
                let p = ProxyServer::parse(p, "--proxy")?;
                (Some(p.clone()), Some(p))
            }
            None => {
                let http_names: &[&str] = match cgi {
                    true => &["http_proxy"],
                    false => &["http_proxy", "HTTP_PROXY"],
                };
                let all = || get(&["all_proxy", "ALL_PROXY"]);
                (
                    parse(get(http_names).or_else(all))?,
                    parse(get(&["https_proxy", "HTTPS_PROXY"]).or_else(all))?,
                )
            }
        };
        let list = match noproxy {
            Some(l) => Some(l.to_string()),
            None => get(&["no_proxy", "NO_PROXY"]).map(|(_, v)| v),
        };
        Ok(Proxies {
            http,
            https,
            no_proxy: list.as_deref().map(parse_no_proxy).unwrap_or_default(),
        })
    }

    /// From the process environment and the flags.
    pub fn from_env(proxy: Option<&str>, noproxy: Option<&str>) -> Result<Proxies, String> {
        Proxies::new(proxy, noproxy, |name| std::env::var(name).ok())
    }

    /// The proxy for `url`, or `None` to connect directly.
    pub fn for_url(&self, url: &Url) -> Option<&ProxyServer> {
        let proxy = match url.scheme() {
            "https" => self.https.as_ref(),
            _ => self.http.as_ref(),
        }?;
        let host = url.host()?;
        if is_loopback(&host) || self.no_proxy.iter().any(|n| n.matches(&host)) {
            return None;
        }
        Some(proxy)
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Host::Ipv4(ip) => ip.is_loopback(),
        // `[::ffff:127.0.0.1]` is 127.0.0.1 on a dual-stack socket, so it is loopback too.
        Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

fn parse_no_proxy(list: &str) -> Vec<NoProxy> {
    // Only a list that is just `*` means every host (curl wants exactly `*`; spaces around it are
    // forgiven here). A `*` among other entries matches nothing, as in curl.
    if list.trim() == "*" {
        return vec![NoProxy::All];
    }
    list.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty() && *e != "*")
        .filter_map(parse_entry)
        .collect()
}

/// One trimmed, non-empty `NO_PROXY` entry; `None` for one that can match nothing.
fn parse_entry(e: &str) -> Option<NoProxy> {
    let (addr, bits) = match e.split_once('/') {
        Some((a, b)) => (a, b.parse().ok()),
        None => (e, None),
    };
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = addr.parse::<IpAddr>() {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        return Some(NoProxy::Net(ip, bits.unwrap_or(max).min(max)));
    }
    let d = e.trim_start_matches("*.").trim_start_matches('.');
    // `a.test.` is the fully qualified `a.test`, as a host's trailing dot is (curl ignores both).
    // An entry with a port (`a.test:8080`, `10.0.0.1:8080`) is kept whole and so matches no host,
    // name or address: curl 7.88 compares entries without reading a port out of them.
    let d = d.strip_suffix('.').unwrap_or(d);
    (!d.is_empty()).then(|| NoProxy::Domain(d.to_ascii_lowercase()))
}

impl NoProxy {
    fn matches(&self, host: &Host<&str>) -> bool {
        match (self, host) {
            (NoProxy::All, _) => true,
            (NoProxy::Domain(d), Host::Domain(h)) => {
                let h = h.trim_end_matches('.').to_ascii_lowercase();
                h == *d || h.ends_with(&format!(".{d}"))
            }
            (NoProxy::Net(net, bits), Host::Ipv4(ip)) => in_net(IpAddr::V4(*ip), *net, *bits),
            (NoProxy::Net(net, bits), Host::Ipv6(ip)) => in_net(IpAddr::V6(*ip), *net, *bits),
            _ => false,
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let prefix = |a: u128, width: u8| match bits {
        0 => 0,
        b => a >> (width - b.min(width)),
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            prefix(u32::from(a).into(), 32) == prefix(u32::from(n).into(), 32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix(a.into(), 128) == prefix(n.into(), 128),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn via<'a>(p: &'a Proxies, url: &str) -> Option<&'a str> {
        p.for_url(&Url::parse(url).unwrap())
            .map(|s| s.shown.as_str())
    }

    #[test]
    fn environment_by_scheme_with_all_proxy_as_fallback() {
        let p = Proxies::new(
            None,
            None,
            env(&[("HTTP_PROXY", "http://p1:3128"), ("ALL_PROXY", "p2:8080")]),
        )
        .unwrap();
        assert_eq!(via(&p, "http://example.com/"), Some("p1:3128"));
        assert_eq!(via(&p, "https://example.com/"), Some("p2:8080"));
        // Under CGI a request header can set HTTP_PROXY: only the lower-case name counts.
        let cgi = Proxies::new(
            None,
            None,
            env(&[("HTTP_PROXY", "http://p1:3128"), ("REQUEST_METHOD", "GET")]),
        )
        .unwrap();
        assert_eq!(via(&cgi, "http://example.com/"), None);
    }

    #[test]
    fn loopback_never_goes_through_a_proxy() {
        let p = Proxies::new(Some("http://127.0.0.1:1"), None, env(&[])).unwrap();
        for url in [
            "http://127.0.0.1:8080/",
            "http://127.9.9.9/",
            "http://[::1]:80/",
            "http://localhost/",
            "http://a.localhost/",
        ] {
            assert_eq!(via(&p, url), None, "{url}");
        }
        assert_eq!(via(&p, "http://example.com/"), Some("127.0.0.1:1"));
    }

    #[test]
    fn no_proxy_names_domains_and_networks() {
        let p = Proxies::new(
            Some("proxy:3128"),
            Some("example.com, .internal,10.0.0.0/8,192.168.1.5,[2001:db8::]/32"),
            env(&[("NO_PROXY", "*")]),
        )
        .unwrap();
        assert_eq!(via(&p, "http://example.com/"), None);
        assert_eq!(via(&p, "http://www.example.com/"), None);
        assert_eq!(via(&p, "http://notexample.com/"), Some("proxy:3128"));
        assert_eq!(via(&p, "http://db.internal/"), None);
        assert_eq!(via(&p, "http://10.20.30.40/"), None);
        assert_eq!(via(&p, "http://11.0.0.1/"), Some("proxy:3128"));
        assert_eq!(via(&p, "http://192.168.1.5/"), None);
        assert_eq!(via(&p, "http://[2001:db8::1]/"), None);
        let all = Proxies::new(Some("proxy:3128"), Some("*"), env(&[])).unwrap();
        assert_eq!(via(&all, "http://example.com/"), None);
        let none = Proxies::new(Some(""), None, env(&[("HTTP_PROXY", "p:1")])).unwrap();
        assert_eq!(via(&none, "http://example.com/"), None);
    }

    /// `(entry list, URL, proxied?)`, each checked against curl 7.88.1 with `--noproxy`.
    fn assert_no_proxy(cases: &[(&str, &str, bool)]) {
        for (list, url, proxied) in cases {
            let p = Proxies::new(Some("proxy:3128"), Some(list), env(&[])).unwrap();
            let want = proxied.then_some("proxy:3128");
            assert_eq!(via(&p, url), want, "--noproxy {list:?} for {url}");
        }
    }

    #[test]
    fn a_trailing_dot_on_the_entry_or_the_host_is_ignored() {
        assert_no_proxy(&[
            ("a.test.", "http://a.test/", false),
            ("a.test.", "http://x.a.test/", false),
            ("a.test.", "http://a.test./", false),
            ("a.test", "http://a.test./", false),
            (".a.test.", "http://x.a.test./", false),
            ("a.test.", "http://xa.test/", true),
        ]);
    }

    #[test]
    fn an_entry_with_a_port_matches_nothing_for_names_and_addresses_alike() {
        assert_no_proxy(&[
            ("a.test:8080", "http://a.test:8080/", true),
            ("a.test:8080", "http://a.test/", true),
            ("10.9.8.7:8080", "http://10.9.8.7:8080/", true),
            ("10.9.8.7:8080", "http://10.9.8.7/", true),
            ("[2001:db8::1]:8080", "http://[2001:db8::1]:8080/", true),
            // The URL's port never matters to an entry without one.
            ("a.test", "http://a.test:8080/", false),
            ("10.9.8.7", "http://10.9.8.7:8080/", false),
        ]);
    }

    #[test]
    fn only_a_lone_star_means_every_host() {
        assert_no_proxy(&[
            ("*", "http://a.test/", false),
            (" * ", "http://a.test/", false),
            ("b.test,*", "http://a.test/", true),
            ("*,b.test", "http://a.test/", true),
            ("b.test,*", "http://b.test/", false),
        ]);
    }

    #[test]
    fn ipv4_mapped_loopback_never_goes_through_a_proxy() {
        let p = Proxies::new(Some("http://127.0.0.1:1"), None, env(&[])).unwrap();
        for url in [
            "http://[::ffff:127.0.0.1]:8080/",
            "http://[::ffff:127.200.0.9]/",
        ] {
            assert_eq!(via(&p, url), None, "{url}");
        }
        assert_eq!(via(&p, "http://[::ffff:10.0.0.1]/"), Some("127.0.0.1:1"));
        assert_eq!(via(&p, "http://[::2]/"), Some("127.0.0.1:1"));
    }

    #[test]
    fn proxy_credentials_become_a_header_and_are_never_shown() {
        let p = ProxyServer::parse("http://al%40ce:s3cret@proxy:3128", "--proxy").unwrap();
        assert_eq!(p.auth.as_deref(), Some(basic("al@ce", "s3cret").as_str()));
        assert_eq!(p.shown, "proxy:3128");
        let err = ProxyServer::parse("socks5://u:s3cret@proxy:1080", "ALL_PROXY").unwrap_err();
        assert!(
            err.contains("only http://") && !err.contains("s3cret"),
            "{err}"
        );
        let err = ProxyServer::parse("http://u:s3cret@:99999", "--proxy").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
