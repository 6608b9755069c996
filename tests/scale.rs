//! Inputs of any size: read as they arrive, in flat memory, in completion order if asked, and split
//! across processes with --shard.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use common::{command, pagefetch, send, wait_for, TestServer};
use serde_json::Value;

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_slow_producers_records_appear_as_its_lines_do() {
    let s = TestServer::instant();
    let mut child = command()
        .args([
            "fetch",
            "--format",
            "ndjson",
            "-t",
            &s.template(),
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for (i, term) in ["apple", "pear", "grape"].iter().enumerate() {
        writeln!(stdin, "{term}").unwrap();
        stdin.flush().unwrap();
        // The input is still open: the record can only come from a line read as it arrived.
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (v["index"].as_u64(), v["input"].as_str()),
            (Some(i as u64), Some(*term))
        );
    }
    drop(stdin);
    let rest: Vec<String> = stdout.lines().map(Result::unwrap).collect();
    let summary: Value = serde_json::from_str(&rest[0]).unwrap();
    assert_eq!(summary["total"], 3);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn an_endless_producer_is_fetched_in_flat_memory_until_ctrl_c() {
    let s = TestServer::instant();
    let mut child = command()
        .args([
            "fetch",
            "-q",
            "--format",
            "ndjson",
            "-t",
            &s.template(),
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Like `yes apple`: writes until the reader is gone.
    let feeder = std::thread::spawn(move || while stdin.write_all(b"apple\n").is_ok() {});
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut rss = Vec::new();
    for n in 1..=40_000 {
        line.clear();
        stdout.read_line(&mut line).unwrap();
        if n % 10_000 == 0 {
            rss.push(rss_kb(child.id()));
        }
    }
    send(&child, libc::SIGINT);
    let rest: Vec<String> = stdout.lines().map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let _ = feeder.join();
    assert_eq!(status.code(), Some(130));
    let summary: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["interrupted"], true);
    assert!(summary["total"].as_u64().unwrap() >= 40_000);
    // Memory after 40,000 pages is about what it was after 10,000.
    let (first, last) = (rss[0], *rss.last().unwrap());
    assert!(first > 0, "{rss:?}");
    assert!(
        last < first + 8 * 1024,
        "RSS grew from {first} KB to {last} KB: {rss:?}"
    );
}

#[test]
fn completion_order_writes_each_record_as_it_finishes() {
    let s = TestServer::instant();
    // The first page is held until the other two are on stdout: written as they finished,
    // not in input order behind it.
    let mut child = command()
        .args(["fetch", "--format", "ndjson", "--order", "completion"])
        .args([s.url("slow", "gate=1"), s.url("a", ""), s.url("b", "")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut indices = Vec::new();
    let mut next = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        v["index"].as_u64()
    };
    indices.push(next());
    indices.push(next());
    s.stats().open_gate();
    indices.push(next());
    assert_eq!(next(), None, "then the summary");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let mut fast = indices[..2].to_vec();
    fast.sort_unstable();
    assert_eq!(fast, [Some(1), Some(2)], "{indices:?}");
    assert_eq!(indices[2], Some(0), "the slow page comes last: {indices:?}");
}

fn page_indices(out: &[u8]) -> Vec<u64> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["type"] == "page")
        .map(|v| v["index"].as_u64().unwrap())
        .collect()
}

#[test]
fn shards_split_one_list_by_index_and_keep_the_global_index() {
    let s = TestServer::instant();
    let terms: Vec<String> = (0..10).map(|i| format!("t{i}")).collect();
    let mut all = Vec::new();
    for k in 0..3 {
        let out = pagefetch()
            .args([
                "fetch",
                "--format",
                "ndjson",
                "--shard",
                &format!("{k}/3"),
                "-t",
                &s.template(),
            ])
            .args(&terms)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let got = page_indices(&out.stdout);
        assert!(got.iter().all(|i| i % 3 == k), "{k}: {got:?}");
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all, (0..10).collect::<Vec<u64>>());
    // K from the scheduler's environment.
    let out = pagefetch()
        .env("JOB_COMPLETION_INDEX", "2")
        .args([
            "fetch",
            "--format",
            "ndjson",
            "--shard",
            "auto/3",
            "-t",
            &s.template(),
        ])
        .args(&terms)
        .output()
        .unwrap();
    assert_eq!(page_indices(&out.stdout), [2, 5, 8]);
    let out = pagefetch()
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("PARALLEL_SEQ")
        .args(["fetch", "--shard", "auto/3", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JOB_COMPLETION_INDEX"));
}

#[test]
fn json_streams_its_pages_array() {
    let s = TestServer::instant();
    let mut child = command()
        .args([
            "fetch",
            "--format",
            "json",
            "--timeout",
            "10m",
            "-t",
            &s.template(),
        ])
        .args(["a", "b"])
        .arg(s.url("slow", "gate=1"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = Vec::new();
    // `{`, `"pages": [`, then the two fast pages, while the slow one is still in flight.
    while String::from_utf8_lossy(&head).matches("\"index\":").count() < 2 {
        let mut chunk = [0u8; 4096];
        let n = std::io::Read::read(&mut stdout, &mut chunk).unwrap();
        assert!(n > 0, "stdout ended: {}", String::from_utf8_lossy(&head));
        head.extend_from_slice(&chunk[..n]);
    }
    wait_for("the slow page in flight", || s.stats().in_flight() == 1);
    assert_eq!(s.stats().in_flight(), 1);
    child.kill().unwrap();
    let _ = child.wait();
}

fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

#[test]
fn a_killed_run_resumes_and_no_recorded_page_is_fetched_again() {
    let s = TestServer::start(
        std::time::Duration::from_millis(20),
        std::time::Duration::ZERO,
    );
    let dir = tempfile::tempdir().unwrap();
    let terms = dir.path().join("terms.txt");
    // Pages from 150 on are held until the first run is killed, so it cannot finish first
    // however the machine schedules the test's look at the file.
    std::fs::write(
        &terms,
        (0..300)
            .map(|i| s.url(&format!("t{i}"), if i < 150 { "" } else { "gate=1" }) + "\n")
            .collect::<String>(),
    )
    .unwrap();
    let out = dir.path().join("out.ndjson");
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = ["fetch", "-c", "8", "-t", &s.template(), "-f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.push(terms.display().to_string());
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let mut child = command()
        .args(args(&["--format", "ndjson"]))
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("a hundred records", || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count()
            >= 100
    });
    send(&child, libc::SIGKILL);
    let _ = child.wait();
    let first: Vec<u64> = records_until_cut(&out);
    assert!(first.len() >= 100 && first.len() <= 150, "{}", first.len());
    s.stats().open_gate();

    let resumed = pagefetch()
        .args(args(&["--resume", out.to_str().unwrap()]))
        .output()
        .unwrap();
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert!(resumed.stdout.is_empty(), "the records go to the file");
    let all = records(&out);
    let pages: Vec<u64> = all
        .iter()
        .filter(|r| r["type"] == "page")
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    // Every page once: the first run's records, then the rest, none fetched again.
    let mut sorted = pages.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..300).collect::<Vec<u64>>());
    assert_eq!(&pages[..first.len()], &first[..]);
    assert!(all
        .iter()
        .all(|r| r["type"] != "page" || r["error"].is_null()));
    // Resuming a complete file fetches nothing.
    let before = s.stats().requests();
    let again = pagefetch()
        .args(args(&["--resume", out.to_str().unwrap()]))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(s.stats().requests(), before);
}

/// The page indices of a file written by a killed run, without its unfinished last line.
fn records_until_cut(path: &std::path::Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "page")
        .map(|r| r["index"].as_u64().unwrap())
        .collect()
}
