//! The record files: `--resume FILE` shared by two processes or written with another template.
//! Every server is on 127.0.0.1:0.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{command, pagefetch, TestServer};
use serde_json::Value;

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
