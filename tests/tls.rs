//! HTTPS and HTTP/2, offline: the built-in server with certificates made in the test, trust
//! options, failures in words, HTTP versions, and the per-page connection facts.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;

use common::{command, pagefetch, TestServer};
use pagefetch::server::page_bytes;
use pagefetch::server::tls::{Authority, Identity};
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// An HTTPS server for localhost signed by a fresh CA, and that CA in a PEM file.
struct Https {
    server: TestServer,
    ca_file: tempfile::NamedTempFile,
}

impl Https {
    fn start() -> Https {
        let ca = Authority::new("test CA").unwrap();
        let server = TestServer::tls(ca.localhost().unwrap().server_config().unwrap());
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), ca.pem()).unwrap();
        Https { server, ca_file }
    }

    fn url(&self, term: &str) -> String {
        format!(
            "https://localhost:{}/search?q={term}",
            self.server.addr().port()
        )
    }

    fn cacert(&self) -> &str {
        self.ca_file.path().to_str().unwrap()
    }
}

fn tls_server(identity: Identity) -> TestServer {
    TestServer::tls(identity.server_config().unwrap())
}

#[test]
fn serve_tls_writes_its_ca_first_and_fetches_over_http2_and_http11() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut child = command()
        .args(["serve", "--tls", "--addr", "127.0.0.1:0", "--ca-out"])
        .arg(&ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // The CA is on disk by the time the address is printed.
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    let addr: std::net::SocketAddr = line.trim().parse().unwrap();
    let url = format!("https://localhost:{}/search?q=apple", addr.port());
    for (flags, version) in [
        (vec![], "2"),
        (vec!["--http1.1"], "1.1"),
        (vec!["--http2"], "2"),
    ] {
        let out = pagefetch()
            .args(["fetch", "--format", "json", "--cacert"])
            .arg(&ca)
            .args(&flags)
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json(&out);
        assert_eq!(v["pages"][0]["http"], version, "{flags:?}");
        assert_eq!(v["pages"][0]["bytes"], page_bytes("apple"));
        assert_eq!(v["http"], serde_json::json!([version]));
    }
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn trust_comes_from_cacert_or_ssl_cert_file_and_insecure_skips_it_with_a_warning() {
    let h = Https::start();
    let url = h.url("kiwi");
    // Not trusted by default.
    let out = pagefetch()
        .args(["fetch", "--format", "json", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let p = &json(&out)["pages"][0];
    assert_eq!(p["error_kind"], "tls", "{p}");
    assert!(
        p["error"]
            .as_str()
            .unwrap()
            .starts_with("certificate not trusted (unknown issuer"),
        "{p}"
    );
    // --cacert, and the variable curl and OpenSSL read.
    let out = pagefetch()
        .args(["fetch", "-q", "--cacert", h.cacert(), &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let out = pagefetch()
        .env("SSL_CERT_FILE", h.cacert())
        .args(["fetch", "-q", &url])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // --insecure: works, and says so once on stderr unless -q.
    let out = pagefetch()
        .args(["fetch", "--format", "csv", "-k", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("certificates are not verified").count(),
        1,
        "{err}"
    );
    let out = pagefetch()
        .args(["fetch", "-q", "--insecure", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
    // A --cacert that holds no certificate is a usage error.
    let out = pagefetch()
        .args(["fetch", "--cacert", "/dev/null", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Each failure in words, kind `tls`, with no Rust debug text and no URL in it.
#[test]
fn tls_failures_are_explained_in_words() {
    let ca = Authority::new("test CA").unwrap();
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.pem()).unwrap();
    let wrong_name = tls_server(ca.issue(&["other.test", "www.other.test"], |_| {}).unwrap());
    let expired = tls_server(
        ca.issue(&["localhost"], |p| {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        })
        .unwrap(),
    );
    let self_signed = tls_server(Identity::self_signed(&["localhost"]).unwrap());
    let h2_only = {
        let mut config = ca.localhost().unwrap().server_config().unwrap();
        Arc::get_mut(&mut config).unwrap().alpn_protocols = vec![b"h2".to_vec()];
        TestServer::tls(config)
    };
    let plain = TestServer::instant();
    let port = |s: &TestServer| s.addr().port();
    let cases = [
        (
            format!("https://localhost:{}/", port(&wrong_name)),
            vec![],
            "certificate is for other names than localhost (it names other.test, www.other.test)",
        ),
        (
            format!("https://localhost:{}/", port(&expired)),
            vec![],
            "certificate expired (valid until 2021-01-01T00:00:00Z)",
        ),
        (
            format!("https://localhost:{}/", port(&self_signed)),
            vec![],
            "self-signed certificate (not trusted; --cacert FILE trusts it)",
        ),
        (
            format!("https://localhost:{}/", port(&h2_only)),
            vec!["--http1.1"],
            "TLS handshake failed: the server sent the alert no application protocol",
        ),
        (
            format!("https://127.0.0.1:{}/", port(&plain)),
            vec![],
            "plain HTTP answer to a TLS handshake (is the URL https:// by mistake?)",
        ),
    ];
    for (url, flags, expected) in cases {
        let out = pagefetch()
            .args(["fetch", "--format", "json", "--cacert"])
            .arg(ca_file.path())
            .args(&flags)
            .arg(&url)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{url}");
        let p = &json(&out)["pages"][0];
        assert_eq!(p["error_kind"], "tls", "{url}: {p}");
        assert_eq!(p["error"], expected, "{url}");
        let text = p["error"].as_str().unwrap();
        assert!(!text.contains("Other(") && !text.contains(&url), "{text}");
    }
}

#[test]
fn every_page_knows_its_connection_and_the_summary_counts_what_the_server_saw() {
    let h = Https::start();
    let terms: Vec<String> = (0..8).map(|i| h.url(&format!("t{i}"))).collect();
    for mode in ["sequential", "joinset", "join-all"] {
        for version in ["--http1.1", "--http2"] {
            let before = h.server.stats().connections();
            let out = pagefetch()
                .args(["fetch", "--format", "json", "-c", "4", "-m", mode, version])
                .args(["--cacert", h.cacert()])
                .args(&terms)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{mode} {version}");
            let v = json(&out);
            let seen = h.server.stats().connections() - before;
            assert_eq!(v["connections"], seen, "{mode} {version}: {v}");
            let pages = v["pages"].as_array().unwrap();
            let new: Vec<&Value> = pages.iter().filter(|p| p["reused"] == false).collect();
            // One page per connection was the one that opened it, with its phases measured; over
            // HTTP/2, so were the pages that waited for the shared one to open.
            match version {
                "--http1.1" => assert_eq!(new.len(), seen, "{mode} {version}"),
                _ => assert!(new.len() >= seen, "{mode} {version}"),
            }
            for p in &new {
                assert!(p["connect_ms"].as_f64().unwrap() > 0.0, "{p}");
                assert!(p["tls_ms"].as_f64().unwrap() > 0.0, "{p}");
                assert!(p["dns_ms"].is_null(), "localhost needs no lookup: {p}");
            }
            for p in pages.iter().filter(|p| p["reused"] == true) {
                assert!(p["connect_ms"].is_null() && p["tls_ms"].is_null(), "{p}");
            }
            for p in pages {
                let (ttfb, elapsed) = (
                    p["ttfb_ms"].as_f64().unwrap(),
                    p["elapsed_ms"].as_f64().unwrap(),
                );
                assert!(ttfb > 0.0 && ttfb <= elapsed, "{p}");
            }
            if mode == "sequential" || version == "--http2" {
                assert_eq!(seen, 1, "{mode} {version}: one connection");
            }
        }
    }
}

/// A fresh HTTP/2 run at -c 8: the first 8 pages all ask before the one shared connection is
/// open, one opens it and 7 wait for its handshake. None of them found an open connection, so none
/// is shown as reused with null times; each shows the opening it waited for. Pages that started
/// later are reused. Checked with the pages' own times only: a page shown as reused must have
/// started after the opener's TCP connect and TLS handshake were over.
#[test]
fn http2_pages_that_waited_for_the_shared_connection_are_not_shown_as_reused() {
    let h = Https::start();
    let urls: Vec<String> = (0..24).map(|i| h.url(&format!("w{i}"))).collect();
    for mode in ["joinset", "join-all"] {
        let before = h.server.stats().connections();
        let out = pagefetch()
            .args([
                "fetch", "--format", "json", "--http2", "-c", "8", "-m", mode,
            ])
            .args(["--cacert", h.cacert()])
            .args(&urls)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{mode}");
        let v = json(&out);
        assert_eq!(h.server.stats().connections() - before, 1, "{mode}");
        assert_eq!(v["connections"], 1, "{mode}");
        let pages = v["pages"].as_array().unwrap();
        let ms = |p: &Value, k: &str| {
            p[k].as_f64()
                .unwrap_or_else(|| panic!("{mode}: {k} missing: {p}"))
        };
        let new: Vec<&Value> = pages.iter().filter(|p| p["reused"] == false).collect();
        let opener = new
            .iter()
            .min_by(|a, b| ms(a, "start_ms").total_cmp(&ms(b, "start_ms")))
            .unwrap_or_else(|| panic!("{mode}: no page opened the connection"));
        let open_at = ms(opener, "start_ms") + ms(opener, "connect_ms") + ms(opener, "tls_ms");
        for p in &new {
            assert_eq!(p["connect_ms"], opener["connect_ms"], "{mode}: {p}");
            assert_eq!(p["tls_ms"], opener["tls_ms"], "{mode}: {p}");
        }
        for p in pages.iter().filter(|p| p["reused"] == true) {
            assert!(
                ms(p, "start_ms") >= open_at - 0.01,
                "{mode}: started before the connection was open, shown as reused: {p}"
            );
            assert!(p["connect_ms"].is_null() && p["tls_ms"].is_null(), "{p}");
        }
        assert!(
            new.len() > 1,
            "{mode}: 8 pages ask at once, one opens, the others wait: {v}"
        );
    }
}

#[test]
fn http2_shares_one_connection_and_c_still_bounds_requests_in_flight() {
    let ca = Authority::new("test CA").unwrap();
    let config = pagefetch::server::ServerConfig {
        latency: std::time::Duration::from_millis(150),
        jitter: std::time::Duration::ZERO,
    };
    let server = TestServer::start_with(
        config,
        Some(ca.localhost().unwrap().server_config().unwrap()),
    );
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.pem()).unwrap();
    let urls: Vec<String> = (0..12)
        .map(|i| format!("https://localhost:{}/search?q=p{i}", server.addr().port()))
        .collect();
    let out = pagefetch()
        .args(["fetch", "-q", "-c", "5", "--cacert"])
        .arg(ca_file.path())
        .args(&urls)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(server.stats().connections(), 1);
    assert_eq!(server.stats().http2_requests(), 12);
    assert_eq!(server.stats().max_in_flight(), 5);
}

#[test]
fn http2_prior_knowledge_on_plain_http() {
    let s = TestServer::instant();
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "--http2",
            "-t",
            &s.template(),
            "a",
            "b",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["pages"][1]["http"], "2");
    assert_eq!(s.stats().http2_requests(), 2);
    assert_eq!(s.stats().connections(), 1);
}

#[test]
fn resolve_sends_a_name_to_an_address_and_keeps_the_name_for_tls() {
    let ca = Authority::new("test CA").unwrap();
    let server = tls_server(ca.issue(&["staging.example"], |_| {}).unwrap());
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.pem()).unwrap();
    let port = server.addr().port();
    let url = format!("https://staging.example:{port}/search?q=x&bytes=5");
    let out = pagefetch()
        .args(["fetch", "--format", "json", "--cacert"])
        .arg(ca_file.path())
        .args([
            "--resolve",
            &format!("staging.example:{port}:127.0.0.1"),
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json(&out);
    assert_eq!(v["pages"][0]["bytes"], 5);
    assert_eq!(v["pages"][0]["url"], url);
    // The plain-HTTP Host header keeps the name too.
    let f = common::faults::FaultServer::start();
    let fport = f
        .url("/")
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let out = pagefetch()
        .args(["fetch", "-q", "--resolve", &format!("*:{fport}:127.0.0.1")])
        .arg(format!("http://anything.example:{fport}/ok/3"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let heads = f.heads().join("\n").to_lowercase();
    assert!(
        heads.contains(&format!("host: anything.example:{fport}")),
        "{heads}"
    );
}

/// A CA in the trust store whose name clashes with a server's own self-signed certificate: an RSA
/// CA named `CN=localhost` (as Debian's snakeoil certificate is), and a server presenting a
/// self-signed ECDSA certificate, also `CN=localhost`. webpki takes the CA for the issuer and
/// fails on the signature algorithm; the words must still be curl's, not Rust debug text.
#[test]
fn a_self_signed_certificate_whose_name_clashes_with_a_trusted_ca_is_said_in_words() {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let named_localhost = || {
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(DnType::CommonName, "localhost");
        dn
    };
    // ring cannot generate RSA keys: this one was made with `openssl genpkey -algorithm RSA`.
    let rsa = KeyPair::from_pem(include_str!("common/rsa_localhost_ca.key.pem")).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name = named_localhost();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&rsa).unwrap();
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.pem()).unwrap();

    let key = KeyPair::generate().unwrap();
    let mut own = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    own.distinguished_name = named_localhost();
    let own = own.self_signed(&key).unwrap();
    let server = tls_server(Identity {
        chain: vec![own.der().clone()],
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    });
    let url = format!("https://localhost:{}/", server.addr().port());
    let out = pagefetch()
        .args(["fetch", "--format", "json", "--cacert"])
        .arg(ca_file.path())
        .arg(&url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let p = &json(&out)["pages"][0];
    assert_eq!(p["error_kind"], "tls", "{p}");
    assert_eq!(
        p["error"], "self-signed certificate (not trusted; --cacert FILE trusts it)",
        "{p}"
    );
}
