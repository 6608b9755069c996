//! 10,000 inputs at 1,000 in flight, in each concurrent loop: every record present, correct and in
//! input order, and the server really saw 1,000 requests at once (it answers none until it has:
//! a loaded client may take seconds to open 1,000 connections, and no latency waits for that).

mod common;

use std::time::Duration;

use common::{pagefetch, TestServer};
use pagefetch::server::page_bytes;
use serde_json::Value;

const PAGES: usize = 10_000;
const CONCURRENCY: usize = 1_000;

/// The two tests here each load both cores; run side by side, neither shows what it measures.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn ten_thousand_pages_at_a_thousand_in_flight() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // This process holds the server's side of every connection.
    let limit = pagefetch::limits::raise_open_files().unwrap_or(0);
    let needed = CONCURRENCY as u64 * 2 + 256;
    assert!(
        limit >= needed,
        "the open-files limit is {limit}; this test needs {needed} (raise it with ulimit -n)"
    );
    let s = TestServer::instant();
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
                // Past the server's 60 s hold: a run that never has 1,000 in flight gets 504s
                // (and the server says so on stderr) instead of timing out first.
                "--timeout",
                "2m",
            ])
            .args(["-t", &s.held_template(CONCURRENCY), "-f"])
            .arg(&file)
            .timeout(Duration::from_secs(300))
            .assert()
            .success();
        assert_eq!(
            s.stats().max_in_flight(),
            CONCURRENCY,
            "{mode}: the most requests the server saw in flight at once"
        );
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
    }
}

/// Runs the binary with its open-files limit (soft and hard) set to `limit`.
fn under_open_files_limit(limit: u64, args: &[String]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = common::command();
    cmd.args(args);
    // SAFETY: setrlimit is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &rl) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    cmd.output().unwrap()
}

/// 10,000 different hosts (one name each, all sent to the test server by `--resolve`) under an
/// open-files limit of 256: idle connections to hosts already done are closed as new ones open,
/// so no page runs out of descriptors, in any loop. At -c 150, 150 in flight plus as many idle
/// would pass the limit; only the cap on open connections keeps the run inside it.
#[test]
fn ten_thousand_hosts_under_a_low_open_files_limit() {
    const HOSTS: usize = 10_000;
    const LIMIT: u64 = 256;
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s = TestServer::instant();
    let port = s.addr().port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts.txt");
    let urls: String = (0..HOSTS)
        .map(|i| format!("http://h{i}.test:{port}/search?q=x&bytes=10\n"))
        .collect();
    std::fs::write(&file, urls).unwrap();
    for mode in ["sequential", "joinset", "join-all"] {
        let before = s.stats().connections();
        s.stats()
            .max_open
            .store(0, std::sync::atomic::Ordering::SeqCst);
        let args: Vec<String> = [
            "fetch",
            "-q",
            "--format",
            "csv",
            "-m",
            mode,
            "-c",
            "150",
            "--resolve",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([
            format!("*:{port}:127.0.0.1"),
            "-f".into(),
            file.display().to_string(),
        ])
        .collect();
        let out = under_open_files_limit(LIMIT, &args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let failed: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.contains(",200,10,"))
            .skip(1)
            .take(3)
            .collect();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode}: {failed:?} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout.lines().count(), HOSTS + 1, "{mode}");
        // One connection per host, as the server counted them. (How many it saw open at once is
        // not checked: its view of a close lags the client's, the more so on a busy machine.)
        assert_eq!(s.stats().connections() - before, HOSTS, "{mode}");
    }
}
