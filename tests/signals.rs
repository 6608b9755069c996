//! Interruption and closed pipes: the child gets a real signal or loses its reader.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{send, wait_for, TestServer};
use serde_json::Value;

fn spawn(args: &[&str]) -> Child {
    common::command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pagefetch")
}

/// Pages: fast, slow (held by the server until the test ends), fast. Interrupt once the slow one is the only request left in flight
/// and the client has finished the other two: the server's count drops when it has written a
/// response, before the client has read it, so the client's own count (the progress bar's
/// `2/3 pages`, drawn on the piped stderr with `--progress always`) says when: `done`.
fn interrupted_run(
    mode: &str,
    signal: i32,
    started: usize,
    done: &'static str,
) -> (Option<i32>, Vec<Value>) {
    let s = TestServer::instant();
    let slow = s.url("slow", "gate=1");
    let (a, b) = (s.url("a", ""), s.url("b", ""));
    let mut child = spawn(&[
        "fetch",
        "--format",
        "ndjson",
        "--progress",
        "always",
        "--timeout",
        "10m",
        "-m",
        mode,
        &a,
        &slow,
        &b,
    ]);
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut seen, mut buf) = (Vec::new(), [0u8; 4096]);
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains(done) {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(common::DEADLINE)
        .expect("the progress bar to count the fast pages done");
    wait_for("the slow page to be the only one in flight", || {
        s.stats().requests() >= started && s.stats().in_flight() == 1
    });
    send(&child, signal);
    let out = child.wait_with_output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    (out.status.code(), lines)
}

#[test]
fn sigint_prints_finished_pages_in_order_marks_the_rest_cancelled_and_exits_130() {
    let (code, lines) = interrupted_run("joinset", libc::SIGINT, 3, "2/3 pages,");
    assert_eq!(code, Some(130));
    assert_eq!(lines.len(), 4, "three pages and a summary: {lines:?}");
    assert!(
        lines[0]["error"].is_null() && lines[2]["error"].is_null(),
        "{lines:?}"
    );
    assert_eq!(lines[1]["error_kind"], "cancelled");
    assert_eq!(lines[1]["index"], 1);
    assert_eq!(lines[3]["type"], "summary");
    assert_eq!(lines[3]["interrupted"], true);
    assert_eq!(lines[3]["ok"], 2);
}

#[test]
fn sigterm_stops_a_sequential_run_and_exits_143() {
    // Sequential: the third page never started. `fetch` reads its input as it goes, so a page not
    // started is not reported; `compare` knows its whole list and reports it as cancelled.
    let (code, lines) = interrupted_run("sequential", libc::SIGTERM, 2, " 1 page,");
    assert_eq!(code, Some(143));
    let kinds: Vec<&Value> = lines[..2].iter().map(|l| &l["error_kind"]).collect();
    assert_eq!(kinds, [&Value::Null, &Value::from("cancelled")]);
    assert_eq!(lines[2]["type"], "summary");
    assert_eq!(lines[2]["interrupted"], true);
    assert_eq!(lines[2]["total"], 2);

    let s = TestServer::instant();
    let slow = s.url("slow", "gate=1");
    let child = spawn(&[
        "compare",
        "--timeout",
        "10m",
        "--format",
        "ndjson",
        "--modes",
        "sequential",
        &s.url("a", ""),
        &slow,
        &s.url("b", ""),
    ]);
    wait_for("the slow page", || {
        s.stats().requests() == 2 && s.stats().in_flight() == 1
    });
    send(&child, libc::SIGTERM);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    let kinds: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["error_kind"].clone())
        .take(3)
        .collect();
    assert_eq!(
        kinds,
        [
            Value::Null,
            Value::from("cancelled"),
            Value::from("cancelled")
        ]
    );
}

#[test]
fn closed_stdout_exits_quietly() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("terms.txt");
    // Far more output than a pipe buffers, so writes continue after the reader is gone.
    std::fs::write(
        &file,
        (0..3000).map(|i| format!("t{i}\n")).collect::<String>(),
    )
    .unwrap();
    let template = s.template();
    let mut child = spawn(&[
        "fetch",
        "--format",
        "ndjson",
        "-t",
        &template,
        "-f",
        file.to_str().unwrap(),
    ]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.contains("\"index\":0"), "{first}");
    drop(stdout); // like `| head -1`
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(stderr.is_empty(), "nothing on stderr: {stderr}");
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn an_interrupted_compare_gives_no_speedup_and_says_why() {
    let s = TestServer::instant();
    // The sequential loop's request for it is answered; the joinset loop's (the second) is held.
    let slow = s.url("slow", "gate=2");
    let child = spawn(&["compare", "--format", "json", &s.url("a", ""), &slow]);
    // Sequential completes (2 requests); joinset sends both, and the slow one is in flight.
    wait_for("the joinset run's slow page", || {
        s.stats().requests() == 4 && s.stats().in_flight() == 1
    });
    send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let v = json_of(&out);
    assert_eq!(v["runs"][0]["interrupted"], false);
    assert_eq!(v["runs"][1]["interrupted"], true);
    // The cut-short joinset run looks far faster than it was: no speedup from it.
    assert_eq!(v["speedup"]["joinset"], Value::Null, "{v}");
    assert_eq!(
        v["speedup_unavailable"]["joinset"],
        "joinset was interrupted"
    );
}

#[test]
fn an_interrupt_in_a_later_round_keeps_the_completed_rounds() {
    let s = TestServer::instant();
    // 1 s in round 1 (both loops); round 2's sequential request, the third, is held.
    let slow = s.url("slow", "ms=1000&gate=3");
    let child = spawn(&[
        "compare",
        "--format",
        "json",
        "--repeat",
        "3",
        &s.url("a", ""),
        &slow,
    ]);
    // Round 1: sequential (2 requests), joinset (2). Round 2: sequential sends a, then the slow one.
    wait_for("round 2's slow sequential page", || {
        s.stats().requests() == 6 && s.stats().in_flight() == 1
    });
    send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let v = json_of(&out);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "both loops keep a summary: {v}");
    let (seq, joinset) = (&runs[0], &runs[1]);
    assert_eq!(seq["interrupted"], true);
    // Only round 1 completed for either loop; the interrupted round's wall is not in the stats.
    assert_eq!(seq["repeat"]["runs"], 1, "{seq}");
    let walls = seq["repeat"]["walls_ms"].as_array().unwrap();
    assert_eq!(walls.len(), 1, "{seq}");
    assert_eq!(walls[0], seq["repeat"]["median_ms"], "{seq}");
    assert!(walls[0].as_f64().unwrap() >= 1000.0, "{seq}");
    // The totals and wall_ms are the interrupted round's: its slow page was cancelled (counted
    // apart from the failed).
    assert_eq!(
        (
            seq["ok"].as_u64(),
            seq["failed"].as_u64(),
            seq["cancelled"].as_u64()
        ),
        (Some(1), Some(0), Some(1)),
        "{seq}"
    );
    assert_ne!(seq["wall_ms"], walls[0], "{seq}");
    assert_eq!(joinset["interrupted"], false);
    assert_eq!(joinset["repeat"]["runs"], 1, "{joinset}");
    assert_eq!(v["speedup"]["joinset"], Value::Null);
    assert_eq!(
        v["speedup_unavailable"]["joinset"],
        "sequential was interrupted"
    );
}

/// A request in flight when `serve` gets its first signal is answered, not cut off. Whether the
/// request reached the server before the signal is up to the scheduler, so each try reads the
/// server's own count on stopping ("N requests served, M in flight") and tries again, waiting
/// longer, when the request was not in flight; the answer is checked only when it was.
#[test]
fn serve_stops_on_request_after_draining_and_exits_0() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut exercised = false;
        for wait_ms in [200, 400, 800, 1600, 3200] {
            let mut child = common::command()
                .args(["serve", "--addr", "127.0.0.1:0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let addr = line.trim().to_string();
            // 4 s: longer than any wait here, shorter than serve's 5 s drain.
            let url = format!("http://{addr}/search?q=x&ms=4000&bytes=42");
            let fetch = std::thread::spawn(move || {
                common::pagefetch()
                    .args(["fetch", "--format", "json", &url])
                    .output()
                    .unwrap()
            });
            std::thread::sleep(Duration::from_millis(wait_ms));
            send(&child, signal);
            let out = child.wait_with_output().unwrap();
            let fetched = fetch.join().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{err}");
            assert!(err.contains("pagefetch serve: stopped"), "{err}");
            assert!(!err.contains("interrupted"), "{err}");
            if !err.contains("1 requests served, 1 in flight") {
                continue; // the request came too late (or, on a stalled machine, was done)
            }
            assert!(!err.contains("cut off"), "{err}");
            let v = json_of(&fetched);
            assert_eq!(v["pages"][0]["bytes"], 42, "{v}");
            exercised = true;
            break;
        }
        assert!(
            exercised,
            "signal {signal}: in no try was the request in flight when serve was stopped"
        );
    }
}
