//! Proxies, against a forward proxy the test starts (tests/common/proxy.rs) that counts what passes
//! through it and takes every host name to mean 127.0.0.1.

mod common;

use common::proxy::{Mode, Proxy};
use common::{pagefetch, refused_addr, TestServer};
use pagefetch::server::tls::Authority;
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn http_proxy_from_the_environment_carries_plain_http() {
    let s = TestServer::instant();
    let p = Proxy::start();
    let url = format!("http://site.test:{}/search?q=x&bytes=42", s.addr().port());
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"] {
        let out = pagefetch()
            .env(var, p.url())
            .args(["fetch", "--format", "json", &url])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{var}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(json(&out)["pages"][0]["bytes"], 42, "{var}");
    }
    let heads = p.heads();
    assert_eq!(heads.len(), 3);
    assert!(
        heads[0].starts_with(&format!("GET {url} HTTP/1.1")),
        "{heads:?}"
    );
}

#[test]
fn loopback_bypasses_the_proxy_and_a_dead_proxy_is_named() {
    let s = TestServer::instant();
    let dead = format!("http://{}", refused_addr());
    // A proxy that refuses everything does not matter to loopback addresses or localhost.
    for url in [
        s.url("a", "bytes=7"),
        format!("http://localhost:{}/search?q=b&bytes=7", s.addr().port()),
    ] {
        let out = pagefetch()
            .env("HTTP_PROXY", &dead)
            .args(["fetch", "--format", "json", &url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{url}");
        assert_eq!(json(&out)["pages"][0]["bytes"], 7);
    }
    // Anything else goes to it, and its failure says it was the proxy.
    let out = pagefetch()
        .env("HTTP_PROXY", &dead)
        .args(["fetch", "--format", "json", "http://elsewhere.test/"])
        .output()
        .unwrap();
    let page = &json(&out)["pages"][0];
    assert_eq!(page["error_kind"], "connect");
    let shown = dead.trim_start_matches("http://");
    assert_eq!(page["error"], format!("proxy {shown}: connection refused"));
}

#[test]
fn https_goes_through_the_proxy_with_connect() {
    let ca = Authority::new("test CA").unwrap();
    let server = TestServer::tls(
        ca.issue(&["secure.test"], |_| {})
            .unwrap()
            .server_config()
            .unwrap(),
    );
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.pem()).unwrap();
    let p = Proxy::start();
    let target = format!("secure.test:{}", server.addr().port());
    let url = format!("https://{target}/search?q=x&bytes=11");
    let out = pagefetch()
        .env("HTTPS_PROXY", p.url())
        .args(["fetch", "--format", "json", "--cacert"])
        .arg(ca_file.path())
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["pages"][0]["bytes"], 11);
    assert_eq!(p.tunnels(), [target]);
    // The TLS handshake went end to end: the proxy saw only the CONNECT head.
    assert_eq!(p.heads().len(), 1);
}

#[test]
fn no_proxy_and_noproxy_reach_hosts_directly() {
    let s = TestServer::instant();
    let p = Proxy::start();
    let port = s.addr().port();
    let url = format!("http://direct.test:{port}/search?q=x&bytes=3");
    let resolve = format!("direct.test:{port}:127.0.0.1");
    let out = pagefetch()
        .env("HTTP_PROXY", p.url())
        .env("NO_PROXY", "example.com,.test")
        .args(["fetch", "-q", "--resolve", &resolve, &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = pagefetch()
        .env("HTTP_PROXY", p.url())
        .args(["fetch", "-q", "--noproxy", "*", "--resolve", &resolve, &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(p.heads().is_empty(), "{:?}", p.heads());
}

#[test]
fn proxy_flag_replaces_the_environment_and_its_password_is_sent_not_shown() {
    let s = TestServer::instant();
    let p = Proxy::start();
    let with_creds = p.url().replace("http://", "http://user:s3cret@");
    let url = format!("http://site.test:{}/search?q=x&bytes=9", s.addr().port());
    let out = pagefetch()
        .env("HTTP_PROXY", format!("http://{}", refused_addr()))
        .args(["fetch", "--format", "json", "--proxy", &with_creds, &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all.contains("s3cret"), "{all}");
    // base64("user:s3cret")
    let heads = p.heads().join("\n").to_lowercase();
    assert!(
        heads.contains("proxy-authorization: basic dxnlcjpzm2nyzxq="),
        "{heads}"
    );
    // A broken proxy URL is a usage error that does not print the password either.
    let out = pagefetch()
        .args(["fetch", "--proxy", "socks5://user:s3cret@127.0.0.1:1", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("only http:// proxies") && !err.contains("s3cret"),
        "{err}"
    );
}

#[test]
fn no_proxy_follows_curl_on_trailing_dots_stars_in_a_list_and_ports() {
    let s = TestServer::instant();
    let p = Proxy::start();
    let port = s.addr().port();
    let url = format!("http://direct.test:{port}/search?q=x&bytes=3");
    let resolve = format!("direct.test:{port}:127.0.0.1");
    // (NO_PROXY, goes through the proxy?)
    for (list, proxied) in [
        ("direct.test.", false),
        ("other.test,*", true),
        (&*format!("direct.test:{port}"), true),
    ] {
        let before = p.heads().len();
        let out = pagefetch()
            .env("HTTP_PROXY", p.url())
            .env("NO_PROXY", list)
            .args(["fetch", "-q", "--resolve", &resolve, &url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "NO_PROXY={list:?}");
        assert_eq!(
            p.heads().len() - before,
            proxied as usize,
            "NO_PROXY={list:?}"
        );
    }
}

#[test]
fn ipv4_mapped_loopback_is_fetched_directly_not_through_the_proxy() {
    let s = TestServer::instant();
    let p = Proxy::start();
    let port = s.addr().port();
    // The test server listens on 127.0.0.1; [::ffff:127.0.0.1] reaches it through a dual-stack
    // socket. Without one, the fetch fails, but it still must not go to the proxy.
    let reachable = std::net::TcpStream::connect(("::ffff:127.0.0.1", port)).is_ok();
    let url = format!("http://[::ffff:127.0.0.1]:{port}/search?q=x&bytes=5");
    let out = pagefetch()
        .env("HTTP_PROXY", p.url())
        .args(["fetch", "--format", "json", &url])
        .output()
        .unwrap();
    assert!(p.heads().is_empty(), "went via the proxy: {:?}", p.heads());
    if reachable {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(json(&out)["pages"][0]["bytes"], 5);
    }
}

/// A CA, an HTTPS server for `secure.test` signed by it, and the CA in a PEM file.
fn secure_server() -> (TestServer, tempfile::NamedTempFile) {
    let ca = Authority::new("test CA").unwrap();
    let server = TestServer::tls(
        ca.issue(&["secure.test"], |_| {})
            .unwrap()
            .server_config()
            .unwrap(),
    );
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.pem()).unwrap();
    (server, ca_file)
}

/// A proxy that wants credentials refuses plain HTTP (its 407 to the absolute-form request) and
/// HTTPS (its 407 to CONNECT) alike: a failed page of kind `connect` naming the proxy, not an
/// "ok" page with status 407.
#[test]
fn a_proxy_answering_407_fails_plain_http_and_https_pages_alike() {
    let plain = TestServer::instant();
    let (secure, ca_file) = secure_server();
    let p = Proxy::start_with(Mode::Demand407);
    let urls = [
        format!(
            "http://site.test:{}/search?q=x&bytes=42",
            plain.addr().port()
        ),
        format!(
            "https://secure.test:{}/search?q=x&bytes=42",
            secure.addr().port()
        ),
    ];
    let out = pagefetch()
        .env("HTTP_PROXY", p.url())
        .env("HTTPS_PROXY", p.url())
        .args(["fetch", "--format", "json", "--cacert"])
        .arg(ca_file.path())
        .args(&urls)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let words = format!("proxy {}: wants credentials (HTTP 407)", p.addr());
    for (i, url) in urls.iter().enumerate() {
        let page = &v["pages"][i];
        assert_eq!(page["error_kind"], "connect", "{url}: {page}");
        assert_eq!(page["error"], words, "{url}: {page}");
        assert_eq!(page["bytes"], 0, "{url}: {page}");
    }
    assert_eq!(p.heads().len(), 2, "{:?}", p.heads());
}

/// A proxy that agrees to the tunnel and then hangs up: the error names the proxy, not TLS.
#[test]
fn a_proxy_that_closes_the_tunnel_is_named() {
    let (secure, ca_file) = secure_server();
    let p = Proxy::start_with(Mode::CloseTunnel);
    let url = format!("https://secure.test:{}/search?q=x", secure.addr().port());
    let out = pagefetch()
        .env("HTTPS_PROXY", p.url())
        .args(["fetch", "--format", "json", "--cacert"])
        .arg(ca_file.path())
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let page = &json(&out)["pages"][0];
    assert_eq!(page["error_kind"], "connect", "{page}");
    assert_eq!(
        page["error"],
        format!(
            "proxy {}: closed the tunnel before the TLS handshake",
            p.addr()
        ),
        "{page}"
    );
}

/// `--http2` on an `http://` URL through a proxy: the request goes to the proxy in absolute form
/// over HTTP/1.1, as curl 7.88 does ("Ignoring HTTP/2 prior knowledge due to proxy"), not as an
/// HTTP/2 preface the proxy cannot read. Direct, the same URL still gets prior knowledge.
#[test]
fn http2_prior_knowledge_is_not_sent_to_a_proxy() {
    let s = TestServer::instant();
    let p = Proxy::start();
    let url = format!("http://site.test:{}/search?q=x&bytes=42", s.addr().port());
    let out = pagefetch()
        .env("HTTP_PROXY", p.url())
        .args(["fetch", "--http2", "--format", "json", &url])
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["pages"][0]["bytes"], 42, "{v}");
    assert_eq!(v["pages"][0]["http"], "1.1", "{v}");
    let heads = p.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with(&format!("GET {url} HTTP/1.1")),
        "{heads:?}"
    );
}
