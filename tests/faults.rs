//! The fault suite: each broken-server case, in every loop, between two good pages that must still
//! succeed. Each case prints its observed record (run with --nocapture to see the table).

mod common;

use common::faults::{gzip_bomb, FaultServer};
use common::pagefetch;
use serde_json::Value;

const MODES: [&str; 3] = ["sequential", "joinset", "join-all"];

/// Runs `[good, fault, good]` with `flags` in every loop; checks the good pages and the exit code,
/// returns the fault page's record per loop.
fn fault_page(
    server: &FaultServer,
    case: &str,
    path: &str,
    flags: &[&str],
    fails: bool,
) -> Vec<Value> {
    let mut records = Vec::new();
    for mode in MODES {
        let out = pagefetch()
            .args(["fetch", "--format", "json", "-m", mode])
            .args(flags)
            .args([
                server.url("/ok/111"),
                server.url(path),
                server.url("/ok/222"),
            ])
            .output()
            .unwrap();
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            code,
            Some(if fails { 1 } else { 0 }),
            "{case} {mode}: stderr {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{case} {mode}: {stderr}");
        let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
        let pages = v["pages"].as_array().unwrap();
        assert_eq!(pages.len(), 3, "{case} {mode}");
        for (i, bytes) in [(0, 111), (2, 222)] {
            assert!(
                pages[i]["error"].is_null(),
                "{case} {mode}: good page {i}: {}",
                pages[i]
            );
            assert_eq!(pages[i]["bytes"], bytes, "{case} {mode}");
        }
        let p = pages[1].clone();
        eprintln!(
            "| {case} | {mode} | {} | {} | {} | {} | {} ms |",
            p["status"], p["bytes"], p["truncated"], p["error"], p["elapsed_ms"]
        );
        records.push(p);
    }
    records
}

fn error(p: &Value) -> &str {
    p["error"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {p}"))
}

#[test]
fn silent_server_costs_the_timeout_and_no_more() {
    let s = FaultServer::start();
    for p in fault_page(&s, "silent", "/silent", &["--timeout", "1s"], true) {
        assert_eq!(p["error_kind"], "timeout");
        assert_eq!(error(&p), "timed out after 1s");
        assert!(p["status"].is_null());
        let ms = p["elapsed_ms"].as_f64().unwrap();
        assert!((1000.0..3000.0).contains(&ms), "{ms}");
    }
}

#[test]
fn trickling_body_is_bounded_by_the_whole_transfer_timeout() {
    let s = FaultServer::start();
    for p in fault_page(&s, "trickle", "/trickle", &["--timeout", "1s"], true) {
        assert_eq!(p["error_kind"], "timeout", "{p}");
        assert_eq!(p["status"], 200);
        let bytes = p["bytes"].as_u64().unwrap();
        assert!(
            bytes > 0 && bytes < 1000,
            "bytes read so far are kept: {bytes}"
        );
        assert!(p["elapsed_ms"].as_f64().unwrap() < 3000.0);
    }
}

#[test]
fn body_shorter_than_content_length_is_an_error_with_the_bytes_read() {
    let s = FaultServer::start();
    for p in fault_page(&s, "short", "/short", &[], true) {
        assert_eq!(p["error_kind"], "body", "{p}");
        assert_eq!(p["status"], 200);
        assert_eq!(p["bytes"], 4000);
    }
}

#[test]
fn reset_mid_body_is_an_error_with_the_bytes_read() {
    let s = FaultServer::start();
    for p in fault_page(&s, "reset", "/reset", &[], true) {
        assert_eq!(p["error_kind"], "body", "{p}");
        assert_eq!(p["bytes"], 4000);
    }
}

#[test]
fn endless_body_stops_at_max_bytes() {
    let s = FaultServer::start();
    for p in fault_page(
        &s,
        "endless --max-bytes 1M",
        "/endless",
        &["--max-bytes", "1M"],
        false,
    ) {
        assert_eq!(p["truncated"], true);
        assert_eq!(p["bytes"], 1 << 20);
    }
}

#[test]
fn endless_body_without_a_limit_times_out() {
    let s = FaultServer::start();
    for p in fault_page(&s, "endless", "/endless", &["--timeout", "500ms"], true) {
        assert_eq!(p["error_kind"], "timeout");
        assert!(p["bytes"].as_u64().unwrap() > 0);
    }
}

#[test]
fn gzip_bomb_is_bounded_by_max_bytes_when_decoding() {
    let s = FaultServer::start();
    gzip_bomb(); // built once up front, so no loop's time includes compressing it
    let flags = ["--compressed", "--max-bytes", "10M", "--timeout", "20s"];
    for p in fault_page(&s, "gzip-bomb --compressed", "/gzip-bomb", &flags, false) {
        assert_eq!(p["truncated"], true, "{p}");
        assert_eq!(p["bytes"], 10 << 20);
    }
    // Without --compressed nothing is decoded: the bytes are the bytes on the wire.
    for p in fault_page(&s, "gzip-bomb", "/gzip-bomb", &[], false) {
        assert_eq!(p["bytes"], gzip_bomb().len());
        assert_eq!(p["truncated"], false);
    }
}

#[test]
fn redirects_are_followed_within_the_limit_and_loops_stop() {
    let s = FaultServer::start();
    for p in fault_page(&s, "chain/3", "/chain/3", &[], false) {
        assert_eq!(p["bytes"], 100);
        assert_eq!(p["url"], s.url("/chain/3"));
        assert_eq!(p["final_url"], s.url("/ok/100"));
    }
    for p in fault_page(&s, "chain/15", "/chain/15", &[], true) {
        assert_eq!(p["error_kind"], "redirect", "{p}");
        assert!(error(&p).contains("more than 10 redirects"), "{p}");
    }
    for p in fault_page(
        &s,
        "chain/3 --max-redirects 2",
        "/chain/3",
        &["--max-redirects", "2"],
        true,
    ) {
        assert!(error(&p).contains("more than 2 redirects"), "{p}");
    }
    for p in fault_page(&s, "loop", "/loop", &[], true) {
        assert_eq!(p["error_kind"], "redirect", "{p}");
        assert!(error(&p).contains("redirect loop"), "{p}");
    }
    for p in fault_page(&s, "to-ftp", "/to-ftp", &[], true) {
        assert_eq!(p["error_kind"], "redirect", "{p}");
        assert!(error(&p).contains("non-HTTP"), "{p}");
    }
    // The host that did not resolve is the one redirected to, not the one asked.
    for p in fault_page(&s, "to-nowhere", "/to-nowhere", &[], true) {
        assert_eq!(p["error"], "could not resolve host nowhere.invalid", "{p}");
        assert_eq!(p["error_kind"], "connect", "{p}");
    }
}

/// A 4-hop chain that leaves the origin by host, port and scheme, then comes back: the user's
/// credential headers reach the origin only (twice), every other header reaches every hop.
#[test]
fn credential_headers_stay_with_their_origin_across_redirects() {
    let ca = pagefetch::server::tls::Authority::new("test CA").unwrap();
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.pem()).unwrap();
    for mode in MODES {
        let a = FaultServer::start();
        let b = FaultServer::start();
        let t = FaultServer::start_tls(ca.localhost().unwrap().server_config().unwrap());
        let (pa, pb, pt) = (a.port(), b.port(), t.port());
        let back = format!("http://127.0.0.1:{pa}/ok/7");
        let start = format!(
            "http://127.0.0.1:{pa}/to/http://localhost:{pa}/to/http://127.0.0.1:{pb}\
             /to/https://localhost:{pt}/to/{back}"
        );
        let out = pagefetch()
            .args(["fetch", "--format", "json", "-m", mode, "--cacert"])
            .arg(ca_file.path())
            .args([
                "-H",
                "Authorization: Bearer tok3n",
                "-H",
                "Cookie: sid=c00kie",
            ])
            .args([
                "-H",
                "Proxy-Authorization: Basic pr0xy",
                "-H",
                "X-Keep: yes",
            ])
            .arg(&start)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode}: {stderr}{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let page = &doc["pages"][0];
        assert_eq!(page["bytes"], 7, "{mode}: {page}");
        assert_eq!(page["final_url"], back, "{mode}: {page}");
        let heads: Vec<String> = [a.heads(), b.heads(), t.heads()]
            .concat()
            .iter()
            .map(|h| h.to_lowercase())
            .collect();
        assert_eq!(heads.len(), 5, "{mode}: five requests: {heads:#?}");
        for head in &heads {
            assert!(head.contains("x-keep: yes"), "{mode}: {head}");
            let at_origin = head.contains(&format!("host: 127.0.0.1:{pa}\r\n"));
            for secret in ["tok3n", "c00kie", "pr0xy"] {
                assert_eq!(
                    head.contains(secret),
                    at_origin,
                    "{mode}: {secret} at the origin only:\n{head}"
                );
            }
        }
        let at_origin = heads.iter().filter(|h| h.contains("tok3n")).count();
        assert_eq!(at_origin, 2, "{mode}: the first and the last hop");
    }
}

#[test]
fn http_errors_are_pages_unless_fail() {
    let s = FaultServer::start();
    for p in fault_page(&s, "status/503", "/status/503", &[], false) {
        assert_eq!(p["status"], 503);
        assert_eq!(p["bytes"], 20);
    }
    for p in fault_page(&s, "status/404 --fail", "/status/404", &["--fail"], true) {
        assert_eq!(p["error"], "HTTP 404");
        assert_eq!(p["error_kind"], "status");
    }
}

#[test]
fn close_before_answering_is_an_error() {
    let s = FaultServer::start();
    for p in fault_page(&s, "close", "/close", &[], true) {
        assert!(p["status"].is_null());
        assert!(!error(&p).is_empty());
    }
}

#[test]
fn http_1_0_without_keep_alive_reads_to_close() {
    let s = FaultServer::start();
    for p in fault_page(&s, "http10", "/http10", &[], false) {
        assert_eq!(p["status"], 200);
        assert_eq!(p["bytes"], 5000);
    }
}

/// Over TLS, every closing route here ends without close_notify. A close-delimited body is read
/// to its end and whole, as curl reads it; a body whose length was announced (Content-Length or
/// chunked) and cut short by that close still fails with the bytes read, in every loop.
#[test]
fn over_tls_a_close_without_close_notify_ends_only_a_close_delimited_body() {
    let ca = pagefetch::server::tls::Authority::new("test CA").unwrap();
    let ca_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca_file.path(), ca.pem()).unwrap();
    let cacert = ["--cacert", ca_file.path().to_str().unwrap()];
    for s in [
        FaultServer::start(),
        FaultServer::start_tls(ca.localhost().unwrap().server_config().unwrap()),
    ] {
        for p in fault_page(&s, "http10", "/http10", &cacert, false) {
            assert_eq!(p["status"], 200, "{p}");
            assert_eq!(p["http"], "1.0", "{p}");
            assert_eq!(p["bytes"], 5000, "{p}");
        }
        for (path, bytes) in [("/short", 4000), ("/chunked-cut", 3000)] {
            for p in fault_page(&s, path, path, &cacert, true) {
                assert_eq!(p["error_kind"], "body", "{path}: {p}");
                assert_eq!(p["error"], "body: connection closed early", "{path}: {p}");
                assert_eq!(p["bytes"], bytes, "{path}: {p}");
            }
        }
    }
}

/// HTTP/1.1 response heads as curl 7.88 reads them (a header under 100 KiB, a head up to 300 KiB,
/// thousands of headers) are read up to 256 KiB of head and 1000 headers (HTTP/2 also takes 256
/// KiB), in every loop; a larger head fails its page with words that say why, and the pages around
/// it are fetched.
#[test]
fn http1_response_heads_are_read_up_to_256_kib() {
    let s = FaultServer::start();
    for path in ["/head/100", "/head/250", "/one-header/200", "/headers/900"] {
        for p in fault_page(&s, path, path, &[], false) {
            assert_eq!(p["status"], 200, "{path}: {p}");
            assert_eq!(p["bytes"], 10, "{path}: {p}");
        }
    }
    for path in ["/head/300", "/headers/1100"] {
        for p in fault_page(&s, path, path, &[], true) {
            assert_eq!(p["error_kind"], "request", "{path}: {p}");
            assert_eq!(
                p["error"], "response head over 256 KiB (or over 1000 headers)",
                "{path}: {p}"
            );
            assert!(p["status"].is_null(), "{path}: {p}");
        }
    }
}

#[test]
fn a_listener_that_never_accepts_times_out() {
    let s = FaultServer::start();
    // The kernel completes the handshake into the backlog; nobody ever reads.
    let deaf = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", deaf.local_addr().unwrap());
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "--timeout",
            "700ms",
            &url,
            &s.url("/ok/5"),
        ])
        .assert()
        .code(1);
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["pages"][0]["error_kind"], "timeout");
    assert_eq!(v["pages"][1]["bytes"], 5);
}

#[test]
fn unresolvable_host_is_an_error_row() {
    let s = FaultServer::start();
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "http://no-such-host.invalid/",
            &s.url("/ok/7"),
        ])
        .assert()
        .code(1);
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["pages"][0]["error_kind"], "connect");
    assert_eq!(
        v["pages"][0]["error"],
        "could not resolve host no-such-host.invalid"
    );
    assert_eq!(v["pages"][1]["bytes"], 7);
}

#[test]
fn a_full_accept_queue_hits_the_connect_timeout() {
    use socket2::{Domain, Socket, Type};
    let s = FaultServer::start();
    // listen(0) and never accept: once a connection waits in the queue, the kernel drops new SYNs,
    // so the next connect hangs (on loopback, without any outside address).
    let deaf = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    deaf.bind(
        &"127.0.0.1:0"
            .parse::<std::net::SocketAddr>()
            .unwrap()
            .into(),
    )
    .unwrap();
    deaf.listen(0).unwrap();
    let addr = deaf.local_addr().unwrap().as_socket().unwrap();
    let _fill: Vec<_> = (0..3)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200)).ok()
        })
        .collect();
    let url = format!("http://{addr}/");
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "--connect-timeout",
            "300ms",
            &url,
            &s.url("/ok/9"),
        ])
        .assert()
        .code(1);
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    eprintln!("| full accept queue | joinset | {} |", v["pages"][0]);
    assert_eq!(v["pages"][0]["error_kind"], "timeout", "{}", v["pages"][0]);
    assert_eq!(v["pages"][0]["error"], "connect timed out after 300ms");
    assert_eq!(v["pages"][1]["bytes"], 9);
}

fn pages_of(out: &std::process::Output) -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    doc["pages"].as_array().unwrap().clone()
}

/// A server that closes HTTP/2 connections gracefully (GOAWAY after 5 streams, as nginx does after
/// `keepalive_requests`) or refuses streams (REFUSED_STREAM) has processed none of the requests it
/// turned away: every page is sent again and fetched, in every loop, and counts the resend.
#[test]
fn http2_requests_refused_by_goaway_or_refused_stream_are_sent_again() {
    use common::h2server::{H2Config, H2Server};
    use std::sync::atomic::Ordering::SeqCst;
    let configs = [
        (
            "GOAWAY after 5",
            H2Config {
                goaway_after: Some(5),
                ..Default::default()
            },
        ),
        (
            "REFUSED_STREAM every 4th",
            H2Config {
                refuse_every: Some(4),
                ..Default::default()
            },
        ),
    ];
    for (case, config) in configs {
        for mode in MODES {
            let s = H2Server::start(config);
            let urls: Vec<String> = (0..60)
                .map(|i| s.url(&format!("/ok/{}", 100 + i)))
                .collect();
            let out = pagefetch()
                .args([
                    "fetch", "--http2", "--format", "json", "-c", "16", "-m", mode,
                ])
                .args(&urls)
                .output()
                .unwrap();
            let pages = pages_of(&out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            for (i, p) in pages.iter().enumerate() {
                assert_eq!(p["status"], 200, "{case} {mode}: {p}\n{stderr}");
                assert_eq!(p["bytes"], 100 + i, "{case} {mode}: {p}");
            }
            assert_eq!(out.status.code(), Some(0), "{case} {mode}: {stderr}");
            let attempts: u64 = pages.iter().map(|p| p["attempts"].as_u64().unwrap()).sum();
            let stats = &s.stats;
            if config.refuse_every.is_some() {
                // Every stream the server saw is one attempt of a page.
                let refused = stats.refused.load(SeqCst);
                assert!(refused >= 15, "{case} {mode}: {refused} refused");
                assert_eq!(
                    attempts as usize,
                    stats.streams.load(SeqCst),
                    "{case} {mode}"
                );
            } else {
                let conns = stats.connections.load(SeqCst);
                assert!(
                    conns >= 3,
                    "{case} {mode}: {conns} connections for 60 pages"
                );
                eprintln!(
                    "{case} {mode}: {conns} connections, {} resends",
                    attempts - 60
                );
            }
        }
    }
}

/// One stream's failure (a reset, a body that does not decode, a head over the limit) fails its
/// own page; the other pages on that HTTP/2 connection are answered on it, in every loop.
#[test]
fn one_bad_http2_stream_fails_only_its_page() {
    use common::h2server::{H2Config, H2Server};
    use std::sync::atomic::Ordering::SeqCst;
    let cases = [
        (
            "/rst",
            "the server reset the HTTP/2 stream: an internal error (INTERNAL_ERROR)",
        ),
        ("/bad-gzip", "cannot decode gzip"),
        ("/head/300", "a response head over 256 KiB"),
    ];
    for (bad, words) in cases {
        for mode in MODES {
            let s = H2Server::start(H2Config::default());
            let mut urls = vec![s.url(bad)];
            urls.extend((0..15).map(|i| s.url(&format!("/after-bad/{}", 200 + i))));
            let out = pagefetch()
                .args([
                    "fetch",
                    "--http2",
                    "--compressed",
                    "--format",
                    "json",
                    "-c",
                    "16",
                ])
                .args(["--timeout", "20s", "-m", mode])
                .args(&urls)
                .output()
                .unwrap();
            let pages = pages_of(&out);
            assert_eq!(out.status.code(), Some(1), "{bad} {mode}");
            assert!(
                error(&pages[0]).contains(words),
                "{bad} {mode}: {}",
                pages[0]
            );
            for (i, p) in pages.iter().enumerate().skip(1) {
                assert_eq!(p["status"], 200, "{bad} {mode}: {p}");
                assert_eq!(p["bytes"], 199 + i, "{bad} {mode}: {p}");
            }
            let conns = s.stats.connections.load(SeqCst);
            assert_eq!(
                conns, 1,
                "{bad} {mode}: the connection outlived the bad stream"
            );
        }
    }
}

/// HTTP/2 response heads as large as curl accepts (100 KiB) are read.
#[test]
fn a_100_kib_http2_head_is_accepted() {
    let s = common::h2server::H2Server::start(Default::default());
    let out = pagefetch()
        .args(["fetch", "--http2", "--format", "json", &s.url("/head/100")])
        .output()
        .unwrap();
    let pages = pages_of(&out);
    assert_eq!(pages[0]["status"], 200, "{}", pages[0]);
    assert_eq!(pages[0]["bytes"], 10);
}

/// The timings of a retried page are its last attempt's, from that attempt's start: a 1 s wait
/// for a 503 is in `elapsed_ms` and `retry_wait_ms`, not in `ttfb_ms`.
#[test]
fn a_retried_pages_ttfb_is_its_last_attempts() {
    let s = common::TestServer::instant();
    let url = s.url("busy", "fail=1&status=503&retry_after=1&bytes=10");
    let out = pagefetch()
        .args(["fetch", "--format", "json", "--retry", "1", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["pages"][0];
    assert_eq!(
        (p["status"].as_u64(), p["attempts"].as_u64()),
        (Some(200), Some(2))
    );
    let wait = p["retry_wait_ms"].as_f64().unwrap();
    let ttfb = p["ttfb_ms"].as_f64().unwrap();
    assert!(wait >= 1000.0, "{p}");
    assert!(p["elapsed_ms"].as_f64().unwrap() >= wait, "{p}");
    assert!(
        ttfb < 900.0,
        "ttfb_ms counts the wait before the attempt: {p}"
    );
}
