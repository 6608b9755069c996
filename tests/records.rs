//! The record files: `--resume FILE` shared by two processes, `merge` of files that disagree or
//! hold bad numbers, and `merge` under a low open-files limit. Every server is on 127.0.0.1:0.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{command, pagefetch, TestServer};
use serde_json::{json, Value};

/// Generous: only a hung run or a missing refusal gets near it.
const DEADLINE: Duration = Duration::from_secs(60);

/// An HTTP/1.1 server that answers the first `free` requests at once and holds every later one
/// until `release`: a run against it stays in flight for as long as the test needs.
struct Gate {
    addr: std::net::SocketAddr,
    released: Arc<AtomicBool>,
}

impl Gate {
    fn start(free: usize) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let released = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (r, n) = (released.clone(), requests.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (r, n) = (r.clone(), n.clone());
                std::thread::spawn(move || serve(conn, free, &r, &n));
            }
        });
        Gate { addr, released }
    }

    fn template(&self) -> String {
        format!("http://{}/p?q={{}}", self.addr)
    }

    fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.release();
    }
}

/// Answers the requests of one keep-alive connection.
fn serve(mut conn: TcpStream, free: usize, released: &AtomicBool, requests: &AtomicUsize) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        head.clear();
        while !head.ends_with(b"\r\n\r\n") {
            match conn.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        if requests.fetch_add(1, Ordering::SeqCst) >= free {
            while !released.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
        if conn.write_all(answer).is_err() {
            return;
        }
    }
}

/// Waits for `child` up to DEADLINE; None (after killing it) when it is still running.
fn wait_exit(child: &mut Child) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("torn record? {e}: {l:?}")))
        .collect()
}

fn page_indices(records: &[Value]) -> Vec<u64> {
    records
        .iter()
        .filter(|r| r["type"] == "page")
        .map(|r| r["index"].as_u64().unwrap())
        .collect()
}

fn stderr_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_second_resume_on_the_same_file_is_refused_at_once_and_the_first_loses_nothing() {
    let gate = Gate::start(1);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.ndjson");
    let terms: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    let run = |err: &Path| -> Child {
        command()
            .args([
                "fetch",
                "-c",
                "1",
                "--format",
                "ndjson",
                "-t",
                &gate.template(),
            ])
            .arg("--resume")
            .arg(&file)
            .args(&terms)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(err).unwrap())
            .spawn()
            .unwrap()
    };
    let (err1, err2) = (dir.path().join("1.err"), dir.path().join("2.err"));
    let mut first = run(&err1);
    // The first page is answered and recorded; the second is held at the gate.
    wait_until("the first run's first record", || {
        std::fs::read_to_string(&file)
            .is_ok_and(|t| t.contains("\"type\":\"page\"") && t.ends_with('\n'))
    });
    let mut second = run(&err2);
    let status = wait_exit(&mut second);
    let still_running = first.try_wait().unwrap().is_none();
    if status.is_none() {
        gate.release();
        let _ = first.kill();
        let _ = first.wait();
    }
    let status = status.expect("the second run on the same file was not refused");
    let err = stderr_of(&err2);
    assert_eq!(status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("pagefetch: error: ")
            && err.contains(&file.display().to_string())
            && err.contains("another pagefetch"),
        "{err}"
    );
    assert!(still_running, "the first run holds pages at the gate");

    gate.release();
    let status = wait_exit(&mut first).expect("the first run ends once the gate opens");
    assert_eq!(status.code(), Some(0), "{}", stderr_of(&err1));
    let records = lines(&file);
    let mut pages = page_indices(&records);
    pages.sort_unstable();
    assert_eq!(pages, (0..6).collect::<Vec<u64>>(), "every page once");
    assert_eq!(records.last().unwrap()["type"], "summary");
    assert_eq!(records.iter().filter(|r| r["type"] == "summary").count(), 1);
}

#[test]
fn resume_refuses_a_file_written_with_another_template() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.ndjson");
    let one = s.template();
    let other = format!("http://{}/search?lang=en&q={{}}", s.addr());
    let resume = |template: &str| {
        pagefetch()
            .args(["fetch", "--format", "ndjson", "-t", template, "--resume"])
            .arg(&file)
            .args(["a", "b", "c"])
            .output()
            .unwrap()
    };
    assert_eq!(resume(&one).status.code(), Some(0));
    let requests = s.stats().requests();
    let out = resume(&other);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let recorded = one.replace("{}", "a");
    let now = other.replace("{}", "a");
    assert!(
        err.contains(&file.display().to_string())
            && err.contains("line 1")
            && err.contains(&recorded)
            && err.contains(&now),
        "{err}"
    );
    assert_eq!(s.stats().requests(), requests, "nothing fetched");
    assert_eq!(lines(&file).len(), 4, "the file is left as it was");
}

/// A finished run's NDJSON over `terms`, as lines.
fn ndjson_run(template: &str, terms: &[&str], extra: &[&str]) -> Vec<Value> {
    let out = pagefetch()
        .args(["fetch", "--format", "ndjson", "-t", template])
        .args(extra)
        .args(terms)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_lines(path: &Path, records: &[Value]) {
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// `merge FILES`: exit code, stdout, stderr.
fn merge(files: &[&PathBuf]) -> (Option<i32>, String, String) {
    let out = pagefetch().arg("merge").args(files).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn merge_refuses_bad_numbers_naming_file_and_line_before_writing() {
    let s = TestServer::instant();
    let good = ndjson_run(&s.template(), &["a", "b", "c"], &[]);
    assert_eq!(good.len(), 4);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.ndjson"), dir.path().join("b.ndjson"));
    // (what, (line (1-based), field, value) to change, the same change in a second file too)
    type Edit = (usize, &'static str, Value);
    let cases: Vec<(&str, Vec<Edit>, bool)> = vec![
        ("negative wall", vec![(4, "wall_ms", json!(-5))], false),
        ("huge wall", vec![(4, "wall_ms", json!(1e300))], false),
        (
            "walls summing past f64",
            vec![(4, "wall_ms", json!(1.5e308))],
            true,
        ),
        (
            "wall not a number",
            vec![(4, "wall_ms", json!("fast"))],
            false,
        ),
        (
            "negative connections",
            vec![(4, "connections", json!(-1))],
            false,
        ),
        (
            "connections summing past u64",
            vec![(4, "connections", json!(u64::MAX))],
            true,
        ),
        (
            "huge concurrency",
            vec![(4, "concurrency", json!(1e300))],
            false,
        ),
        (
            "negative page time",
            vec![(2, "elapsed_ms", json!(-1.5))],
            false,
        ),
        (
            "huge page time",
            vec![(2, "elapsed_ms", json!(1e300))],
            false,
        ),
        ("negative bytes", vec![(2, "bytes", json!(-10))], false),
        (
            "bytes summing past u64",
            vec![(2, "bytes", json!(u64::MAX)), (3, "bytes", json!(u64::MAX))],
            false,
        ),
        (
            "fractional attempts",
            vec![(3, "attempts", json!(1.5))],
            false,
        ),
    ];
    let mut failures = Vec::new();
    for (what, edits, both) in &cases {
        let mut bad = good.clone();
        for (line, field, value) in edits {
            bad[line - 1][*field] = value.clone();
        }
        write_lines(&a, &bad);
        write_lines(&b, &bad);
        let field = edits[0].1;
        let files = if *both { vec![&a, &b] } else { vec![&a] };
        let (code, stdout, stderr) = merge(&files);
        let named = stderr.contains(&a.display().to_string())
            || (*both && stderr.contains(&b.display().to_string()));
        let ok = code == Some(2)
            && stdout.is_empty()
            && stderr.lines().count() == 1
            && stderr.starts_with("pagefetch: error: ")
            && named
            && stderr.contains("line ")
            && stderr.contains(field);
        if !ok {
            failures.push(format!(
                "{what}: exit {code:?}, {} bytes on stdout, stderr {stderr:?}",
                stdout.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn merge_refuses_files_from_different_templates_or_lists_naming_them() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let terms = ["a", "b", "c", "d"];
    let one = s.template();
    let other = format!("http://{}/search?lang=en&q={{}}", s.addr());
    let (x, y) = (dir.path().join("x.ndjson"), dir.path().join("y.ndjson"));

    // Shards 0/2 and 1/2 of one list under two templates: no index in common.
    write_lines(&x, &ndjson_run(&one, &terms, &["--shard", "0/2"]));
    write_lines(&y, &ndjson_run(&other, &terms, &["--shard", "1/2"]));
    let (code, stdout, err) = merge(&[&x, &y]);
    assert_eq!(code, Some(2), "{err}");
    assert!(stdout.is_empty(), "nothing written before the error");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&x.display().to_string())
            && err.contains(&y.display().to_string())
            && err.contains(&one.replace("{}", "a"))
            && err.contains(&other.replace("{}", "b")),
        "{err}"
    );

    // The same inputs under two templates, every index in both files.
    write_lines(&x, &ndjson_run(&one, &terms, &[]));
    write_lines(&y, &ndjson_run(&other, &terms, &[]));
    let (code, stdout, err) = merge(&[&x, &y]);
    assert_eq!(code, Some(2), "{err}");
    assert!(stdout.is_empty(), "nothing written before the error");
    assert!(
        err.contains(&x.display().to_string()) && err.contains(&y.display().to_string()),
        "{err}"
    );

    // Two lists of the same length, one template: the inputs at index 2 differ.
    write_lines(&x, &ndjson_run(&one, &terms, &[]));
    write_lines(&y, &ndjson_run(&one, &["a", "b", "zz", "d"], &[]));
    let (code, stdout, err) = merge(&[&x, &y]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        stdout.is_empty(),
        "nothing written before the error: {stdout}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{} line 3", x.display()))
            && err.contains(&format!("{} line 3", y.display()))
            && err.contains("page 2")
            && err.contains("\"c\"")
            && err.contains("\"zz\""),
        "{err}"
    );

    // One template, one list: shards merge as before.
    write_lines(&x, &ndjson_run(&one, &terms, &["--shard", "0/2"]));
    write_lines(&y, &ndjson_run(&one, &terms, &["--shard", "1/2"]));
    let (code, stdout, err) = merge(&[&x, &y]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(stdout.lines().count(), 5);
}

/// A page record as `fetch` writes it, for files built without a server.
fn page(index: u64) -> Value {
    json!({
        "type": "page", "mode": "joinset", "index": index, "input": format!("t{index}"),
        "url": format!("http://127.0.0.1:9/search?q=t{index}"), "status": 200, "bytes": 10,
        "elapsed_ms": 1.5, "truncated": false, "error": null, "error_kind": null,
        "attempts": 1, "retry_wait_ms": 0.0,
    })
}

fn summary(inputs: u64) -> Value {
    json!({
        "type": "summary", "schema": 1, "version": "0.1.0", "mode": "joinset", "concurrency": 10,
        "total": inputs, "ok": inputs, "failed": 0, "bytes": inputs * 10, "wall_ms": 100.0,
        "interrupted": false, "connections": 10, "http": ["1.1"], "inputs": inputs, "retries": 0,
    })
}

/// `pagefetch ARGS` under `ulimit -n 64` (soft and hard).
fn under_low_limit(args: &[&Path]) -> std::process::Output {
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" merge \"$@\"")
        .arg(env!("CARGO_BIN_EXE_pagefetch"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd.output().unwrap()
}

#[test]
fn merge_of_a_completion_order_file_works_under_a_low_open_files_limit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("completion.ndjson");
    // 2,000 pages in completion order, two ways: 200 runs in input order (run r holds r, r + 200,
    // r + 400...), and 1,801 (each block of ten finished in reverse).
    let spread: Vec<u64> = (0..200u64)
        .flat_map(|r| (0..10).map(move |i| r + 200 * i))
        .collect();
    let reversed: Vec<u64> = (0..200u64)
        .flat_map(|block| (0..10).rev().map(move |i| block * 10 + i))
        .collect();
    for order in [spread, reversed] {
        let mut records: Vec<Value> = order.iter().map(|&i| page(i)).collect();
        records.push(summary(2000));
        write_lines(&file, &records);
        let out = under_low_limit(&[&file]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let merged: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(page_indices(&merged), (0..2000).collect::<Vec<u64>>());
        assert_eq!(merged.last().unwrap()["total"], 2000);
    }
}

#[test]
fn an_open_failure_in_merge_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // More files than the limit allows open at once: one shard of 100 each.
    let files: Vec<PathBuf> = (0..100u64)
        .map(|k| {
            let path = dir.path().join(format!("shard-{k}.ndjson"));
            let mut s = summary(100);
            s["total"] = json!(1);
            write_lines(&path, &[page(k), s]);
            path
        })
        .collect();
    let args: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = under_low_limit(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    match out.status.code() {
        // Merged: every shard was read.
        Some(0) => assert_eq!(
            page_indices(
                &stdout
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<Value>>()
            ),
            (0..100).collect::<Vec<u64>>()
        ),
        // Refused: the error says which file could not be opened, and nothing was written.
        _ => {
            assert_eq!(out.status.code(), Some(2), "{err}");
            assert!(stdout.is_empty(), "{stdout}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(
                err.contains("shard-") && err.contains(".ndjson") && err.contains("open"),
                "{err}"
            );
        }
    }
}
