//! Interruption and closed pipes: the child gets a real signal or loses its reader.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::Value;

fn spawn(args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("pagefetch"))
        .args(args)
        .env("NO_PROXY", "*")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pagefetch")
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn send(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill failed");
}

/// Pages: fast, slow (20 s), fast. Interrupt once the slow one is the only request left in flight.
fn interrupted_run(mode: &str, signal: i32, started: usize) -> (Option<i32>, Vec<Value>) {
    let s = TestServer::instant();
    let slow = s.url("slow", "ms=20000");
    let (a, b) = (s.url("a", ""), s.url("b", ""));
    let child = spawn(&["fetch", "--format", "ndjson", "-m", mode, &a, &slow, &b]);
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
    let (code, lines) = interrupted_run("joinset", libc::SIGINT, 3);
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
    // Sequential: the third page never started.
    let (code, lines) = interrupted_run("sequential", libc::SIGTERM, 2);
    assert_eq!(code, Some(143));
    let kinds: Vec<&Value> = lines[..3].iter().map(|l| &l["error_kind"]).collect();
    assert_eq!(
        kinds,
        [
            &Value::Null,
            &Value::from("cancelled"),
            &Value::from("cancelled")
        ]
    );
    assert_eq!(lines[3]["interrupted"], true);
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
