//! Retries, a request rate and a per-host limit, in every loop, against servers the test starts:
//! what the server saw proves them, and each page's record says what happened.

mod common;

use std::time::{Duration, Instant};

use common::{command, pagefetch, refused_addr, send, wait_for, TestServer};
use serde_json::Value;

const MODES: [&str; 3] = ["sequential", "joinset", "join-all"];

fn pages(out: &std::process::Output) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    v["pages"].as_array().unwrap().clone()
}

fn fetch_json(args: &[&str]) -> (Option<i32>, Vec<Value>, Value) {
    let out = pagefetch()
        .args(["fetch", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), pages(&out), v)
}

#[test]
fn retry_after_is_waited_exactly() {
    let s = TestServer::instant();
    let url = s.url("busy", "fail=2&status=503&retry_after=1&bytes=77");
    let (code, p, summary) = fetch_json(&["--retry", "3", &url]);
    assert_eq!(code, Some(0));
    assert_eq!(
        (p[0]["status"].as_u64(), p[0]["bytes"].as_u64()),
        (Some(200), Some(77))
    );
    assert_eq!(p[0]["attempts"], 3);
    let wait = p[0]["retry_wait_ms"].as_f64().unwrap();
    assert!((2000.0..2500.0).contains(&wait), "two waits of 1 s: {wait}");
    assert!(
        p[0]["elapsed_ms"].as_f64().unwrap() >= wait,
        "waits are inside the page's time"
    );
    assert_eq!(summary["retries"], 2);
    assert_eq!(s.stats().requests(), 3);
}

#[test]
fn waits_grow_exponentially_on_a_refused_port() {
    let url = format!("http://{}/", refused_addr());
    let (code, p, _) = fetch_json(&["--retry", "2", "--retry-delay", "100ms", &url]);
    assert_eq!(code, Some(1));
    assert_eq!(p[0]["attempts"], 3);
    assert_eq!(p[0]["error"], "connection refused");
    // 100 ms then 200 ms at least; jitter never shortens a wait, and at most doubles it.
    let wait = p[0]["retry_wait_ms"].as_f64().unwrap();
    assert!((300.0..=600.0).contains(&wait), "{wait}");
}

#[test]
fn a_404_is_never_retried_and_max_time_stops_early() {
    let s = TestServer::instant();
    let (_, p, _) = fetch_json(&[
        "--retry",
        "3",
        "--retry-delay",
        "10ms",
        &s.url("gone", "status=404"),
    ]);
    assert_eq!(
        (p[0]["attempts"].as_u64(), p[0]["status"].as_u64()),
        (Some(1), Some(404))
    );
    assert_eq!(s.stats().requests(), 1);
    // Waits of 10 s each: a third attempt would start after 20 s, past --retry-max-time 19999ms;
    // the second starts after 10 s plus the first attempt, which even a busy machine makes in
    // well under the 10 s left.
    let busy = s.url("busy", "fail=5&retry_after=10");
    let (_, p, _) = fetch_json(&["--retry", "10", "--retry-max-time", "19999ms", &busy]);
    assert_eq!(p[0]["attempts"], 2, "{}", p[0]);
    assert_eq!(p[0]["status"], 503);
}

#[test]
fn a_body_cut_off_is_retried_and_only_the_last_body_counts() {
    let s = TestServer::instant();
    let url = s.url("cut", "cut=1&bytes=100000");
    for mode in MODES {
        let url = format!("{url}&m={mode}");
        let (code, p, _) = fetch_json(&["-m", mode, "--retry", "2", "--retry-delay", "10ms", &url]);
        assert_eq!(code, Some(0), "{mode}");
        assert_eq!(p[0]["attempts"], 2, "{mode}: {}", p[0]);
        assert_eq!(
            p[0]["bytes"], 100000,
            "{mode}: not 150,000: the cut body does not count"
        );
    }
    // Without --retry the cut body is the page's fate.
    let (code, p, _) = fetch_json(&[&s.url("cut2", "cut=1&bytes=100000")]);
    assert_eq!(code, Some(1));
    assert_eq!(p[0]["error_kind"], "body");
}

#[test]
fn a_dropped_connection_is_retried_in_every_loop_with_the_same_records() {
    let s = TestServer::instant();
    let mut seen = Vec::new();
    for mode in MODES {
        let urls: Vec<String> = (0..4)
            .map(|i| {
                s.url(
                    &format!("{mode}{i}"),
                    &format!("drop={}&bytes={}", i % 2, 100 + i),
                )
            })
            .collect();
        let out = pagefetch()
            .args([
                "fetch",
                "--format",
                "json",
                "-m",
                mode,
                "--retry",
                "1",
                "--retry-delay",
                "10ms",
            ])
            .args(&urls)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{mode}");
        let records: Vec<(u64, u64, u64, u64)> = pages(&out)
            .iter()
            .map(|p| {
                let n = |k: &str| p[k].as_u64().unwrap();
                (n("index"), n("status"), n("bytes"), n("attempts"))
            })
            .collect();
        seen.push(records);
    }
    assert_eq!(
        seen[0],
        [
            (0, 200, 100, 1),
            (1, 200, 101, 2),
            (2, 200, 102, 1),
            (3, 200, 103, 2)
        ]
    );
    assert!(seen.iter().all(|r| *r == seen[0]), "{seen:?}");
}

/// With `--rate 20` no request starts before its turn, 50 ms after the one before; so, counted from
/// before the client was started, the k-th request to arrive arrives at k x 50 ms or later. A
/// loaded machine can only make requests later. (That the turns are evenly spaced, not bunched, is
/// tested on a paused clock in src/fetch/pace.rs.)
#[test]
fn rate_spaces_request_starts_in_every_loop() {
    let s = TestServer::instant();
    for mode in MODES {
        s.stats().record_arrivals();
        let urls: Vec<String> = (0..60)
            .map(|i| s.url(&format!("r{i}"), "bytes=10"))
            .collect();
        let out = pagefetch()
            .args(["fetch", "-q", "--format", "csv", "-m", mode, "--rate", "20"])
            .args(&urls)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{mode}");
        let mut arrivals = s.stats().arrivals();
        assert_eq!(arrivals.len(), 60);
        arrivals.sort_unstable();
        for (k, at) in arrivals.iter().enumerate() {
            assert!(
                *at >= Duration::from_millis(50) * k as u32,
                "{mode}: request {k} arrived at {at:?}, before its turn at {} ms: {arrivals:?}",
                50 * k
            );
        }
    }
}

/// Each slow host's answers are held until the fast host's ten pages are on stdout: the fast
/// host was not held back behind the slow ones, and each slow host had exactly its 2 places
/// in flight while it waited.
#[test]
fn per_host_caps_each_host_and_a_fast_host_is_not_held_back() {
    let slow_a = TestServer::instant();
    let slow_b = TestServer::instant();
    let fast = TestServer::instant();
    let mut urls = Vec::new();
    for i in 0..10 {
        urls.push(slow_a.url(&format!("a{i}"), "bytes=10&gate=1"));
        urls.push(slow_b.url(&format!("b{i}"), "bytes=10&gate=1"));
        urls.push(fast.url(&format!("f{i}"), "bytes=10"));
    }
    for mode in ["joinset", "join-all"] {
        for s in [&slow_a, &slow_b, &fast] {
            s.stats().close_gate();
            s.stats()
                .max_in_flight
                .store(0, std::sync::atomic::Ordering::SeqCst);
        }
        let mut child = command()
            .args([
                "fetch",
                "--format",
                "ndjson",
                "--order",
                "completion",
                "-m",
                mode,
            ])
            .args(["-c", "10", "--per-host", "2"])
            .args(&urls)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
                if v["type"] == "page" && tx.send(v["input"].as_str().unwrap().to_string()).is_err()
                {
                    break;
                }
            }
        });
        let mut order = Vec::new();
        while order.len() < 10 {
            let next = rx.recv_timeout(common::DEADLINE).unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("{mode}: the fast host's pages did not all finish while the slow hosts waited: {order:?}")
            });
            order.push(next);
        }
        assert!(order.iter().all(|u| u.contains("q=f")), "{mode}: {order:?}");
        wait_for("two requests in flight at each slow host", || {
            slow_a.stats().in_flight() == 2 && slow_b.stats().in_flight() == 2
        });
        slow_a.stats().open_gate();
        slow_b.stats().open_gate();
        order.extend(rx.iter());
        reader.join().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{mode}");
        assert_eq!(order.len(), 30, "{mode}: {order:?}");
        assert_eq!(slow_a.stats().max_in_flight(), 2, "{mode}");
        assert_eq!(slow_b.stats().max_in_flight(), 2, "{mode}");
    }
}

#[test]
fn ctrl_c_during_a_retry_wait_exits_at_once() {
    let s = TestServer::instant();
    // Retry-After 60 s, the longest wait pagefetch takes: exiting within half that is at once.
    let url = s.url("later", "fail=1&retry_after=60");
    let child = command()
        .args(["fetch", "--format", "ndjson", "--retry", "1", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first answer", || {
        s.stats().requests() == 1 && s.stats().in_flight() == 0
    });
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.status.code(), Some(130));
    let first: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["error_kind"], "cancelled");
}
