//! 10,000 inputs at 1,000 in flight, in each concurrent loop: every record present, correct and in
//! input order, and the server really saw 1,000 requests at once.

mod common;

use std::time::Duration;

use common::{pagefetch, TestServer};
use pagefetch::server::page_bytes;
use serde_json::Value;

const PAGES: usize = 10_000;
const CONCURRENCY: usize = 1_000;

#[test]
fn ten_thousand_pages_at_a_thousand_in_flight() {
    // This process holds the server's side of every connection.
    let limit = pagefetch::limits::raise_open_files().unwrap_or(0);
    let needed = CONCURRENCY as u64 * 2 + 256;
    assert!(
        limit >= needed,
        "the open-files limit is {limit}; this test needs {needed} (raise it with ulimit -n)"
    );
    let s = TestServer::start(Duration::from_millis(200), Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("terms.txt");
    std::fs::write(
        &file,
        (0..PAGES)
            .map(|i| format!("term {i}\n"))
            .collect::<String>(),
    )
    .unwrap();
    for mode in ["joinset", "join-all"] {
        s.stats()
            .max_in_flight
            .store(0, std::sync::atomic::Ordering::SeqCst);
        let out = pagefetch()
            .args([
                "fetch",
                "-q",
                "--format",
                "ndjson",
                "-m",
                mode,
                "-c",
                &CONCURRENCY.to_string(),
            ])
            .args(["-t", &s.template(), "-f"])
            .arg(&file)
            .timeout(Duration::from_secs(120))
            .assert()
            .success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), PAGES + 1, "{mode}");
        for (i, p) in lines[..PAGES].iter().enumerate() {
            let term = format!("term {i}");
            assert_eq!(p["index"], i, "{mode}: out of order at {i}");
            assert_eq!(p["input"], term.as_str(), "{mode}");
            assert_eq!(p["bytes"], page_bytes(&term), "{mode}: page {i}: {p}");
        }
        assert_eq!(lines[PAGES]["ok"], PAGES);
        assert_eq!(s.stats().max_in_flight(), CONCURRENCY, "{mode}");
    }
}
