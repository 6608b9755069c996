//! stdout carries the data and stderr the people's part: a closed or full stdout, an unread stderr,
//! and a slow page must never cost a record, an exit code or a panic.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Output, Stdio};

use common::faults::FaultServer;
use common::{command, refused_addr, TestServer};

/// Runs pagefetch with stderr on a pipe whose reader is already gone.
fn run_with_stderr_closed(args: &[&str]) -> Output {
    let mut child = command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // every write to stderr now fails with EPIPE
    child.wait_with_output().unwrap()
}

/// Reads one line of stdout, closes it (like `| head -1`), returns (exit code, stderr).
fn read_one_line_and_close(mut child: Child) -> (Option<i32>, String) {
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "no first line");
    drop(stdout);
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

#[test]
fn a_closed_stdout_exits_0_quietly_in_every_format_for_fetch_and_compare() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("terms.txt");
    // Far more output than a pipe buffers, in every format, so writes go on after the reader left.
    let terms: String = (0..3000).map(|i| format!("t{i}\n")).collect();
    std::fs::write(&file, terms).unwrap();
    let template = s.template();
    for command_name in ["fetch", "compare"] {
        for format in ["table", "json", "ndjson", "csv"] {
            let child = command()
                .args([command_name, "--format", format, "-t", &template, "-f"])
                .arg(&file)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let (code, stderr) = read_one_line_and_close(child);
            assert_eq!(code, Some(0), "{command_name} {format}: {stderr}");
            assert!(
                !stderr.contains("error") && !stderr.contains("panicked"),
                "{command_name} {format}: {stderr}"
            );
        }
    }
}

#[test]
fn a_full_stdout_is_an_error_that_names_stdout() {
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    let s = TestServer::instant();
    let out = command()
        .args(["fetch", "-t", &s.template(), "apple"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("pagefetch: error: cannot write to stdout: No space left on device"),
        "{err}"
    );
}

#[test]
fn an_unread_stderr_changes_no_exit_code_and_loses_no_output() {
    let s = TestServer::instant();
    let refused = format!("http://{}/", refused_addr());
    // A failed page: exit 1, every row on stdout (csv writes its summary to stderr).
    let out = run_with_stderr_closed(&[
        "fetch",
        "--format",
        "csv",
        "-t",
        &s.template(),
        "apple",
        &refused,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let rows = String::from_utf8_lossy(&out.stdout);
    assert_eq!(rows.lines().count(), 3, "{rows}");

    // A compare whose size warning cannot be written: the whole report, exit 0.
    let f = FaultServer::start();
    let vary = f.url("/vary");
    let out = run_with_stderr_closed(&["compare", &vary]);
    assert_eq!(out.status.code(), Some(0));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("speedup: joinset"), "{report}");

    // A usage error: 2, not a panic.
    let out = run_with_stderr_closed(&["fetch", "-t", "http://h/search", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run_with_stderr_closed(&["fetch", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    // All fine: 0.
    let out = run_with_stderr_closed(&["fetch", "-t", &s.template(), "apple"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 ok"));
}

#[test]
fn an_interrupt_with_an_unread_stderr_still_exits_130() {
    let s = TestServer::instant();
    let slow = s.url("slow", "gate=1");
    let mut child = command()
        .args(["fetch", "--format", "ndjson", "--timeout", "10m"])
        .args([&s.url("a", ""), &slow])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    common::wait_for("the slow page in flight", || s.stats().in_flight() == 1);
    common::send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let lines = String::from_utf8_lossy(&out.stdout);
    assert_eq!(lines.lines().count(), 3, "two pages and a summary: {lines}");
}

/// Every record that can be written is on stdout while a later page is still in flight.
#[test]
fn records_are_not_held_behind_a_slow_page_in_any_streaming_format() {
    let s = TestServer::instant();
    let fast: Vec<String> = (0..10).map(|i| s.url(&format!("f{i}"), "")).collect();
    // Held by the server until the test opens the gate.
    let slow = s.url("slow", "gate=1");
    // Lines before the first page row: the table and CSV have a header.
    for (format, header_lines) in [("ndjson", 0), ("csv", 1), ("table", 1)] {
        s.stats().close_gate();
        let mut child = command()
            .args(["fetch", "--format", format, "--timeout", "10m"])
            .args(&fast)
            .arg(&slow)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        for i in 0..header_lines + 10 {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "{format}: stdout ended at line {i}");
        }
        // Had the ten rows waited for a flush after the slow page, they would arrive only once it
        // was done, and it cannot be: it is still in flight.
        assert_eq!(s.stats().in_flight(), 1, "{format}");
        child.kill().unwrap();
        let _ = child.wait();
        s.stats().open_gate();
        common::wait_for("the killed client's request to end", || {
            s.stats().in_flight() == 0
        });
    }
}

/// A reader that stops reading for 4 s while 2,000 pages of 100 ms run: writes wait on a thread
/// of their own, so no page's time takes in the pause (it did: the runtime stood still while a
/// write to the full pipe blocked it, and every page in flight grew by the pause).
#[test]
fn a_paused_reader_does_not_stretch_page_times() {
    let server = TestServer::start(
        std::time::Duration::from_millis(100),
        std::time::Duration::ZERO,
    );
    let list = tempfile::NamedTempFile::new().unwrap();
    let urls: Vec<String> = (0..2000)
        .map(|i| server.url(&format!("p{i}"), "bytes=100"))
        .collect();
    std::fs::write(list.path(), urls.join("\n")).unwrap();
    for mode in ["joinset", "join-all", "sequential"] {
        // Sequential would take 200 s at 100 ms a page: 60 pages show the same.
        let count = if mode == "sequential" { 60 } else { 2000 };
        let mut cmd = command();
        cmd.args(["fetch", "--format", "ndjson", "-q", "-c", "200", "-m", mode]);
        if mode == "sequential" {
            cmd.args(&urls[..count]);
        } else {
            cmd.arg("-f").arg(list.path());
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        std::thread::sleep(std::time::Duration::from_secs(4));
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        assert!(child.wait().unwrap().success(), "{mode}");
        let pages: Vec<serde_json::Value> = std::iter::once(first.as_str())
            .chain(rest.lines())
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|v: &serde_json::Value| v["type"] == "page")
            .collect();
        assert_eq!(pages.len(), count, "{mode}");
        // Each page is 100 ms at the server; 1.9 s more is load, never the 4 s pause.
        let slowest = pages
            .iter()
            .map(|p| p["elapsed_ms"].as_f64().unwrap())
            .fold(0.0, f64::max);
        assert!(slowest < 2000.0, "{mode}: a page took {slowest} ms");
    }
}
