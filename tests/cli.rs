//! The binary as a user or a script sees it: inputs, formats, exit codes, stdout/stderr split.
//! Every request goes to a server this test started on 127.0.0.1:0.

mod common;

use std::time::Duration;

use common::{pagefetch, refused_addr, TestServer};
use pagefetch::server::page_bytes;
use predicates::prelude::*;
use serde_json::Value;

trait OkStdout {
    /// Runs the command, asserts exit 0, returns stdout.
    fn ok_stdout(&mut self) -> Vec<u8>;
}

impl OkStdout for assert_cmd::Command {
    fn ok_stdout(&mut self) -> Vec<u8> {
        self.assert().success().get_output().stdout.clone()
    }
}

fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// The `input` of every NDJSON page line, in output order.
fn page_inputs(out: &[u8]) -> Vec<Value> {
    json_lines(out)
        .iter()
        .filter(|l| l["type"] == "page")
        .map(|l| l["input"].clone())
        .collect()
}

fn json_doc(out: &[u8]) -> Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON: {e}\n{}", String::from_utf8_lossy(out)))
}

#[test]
fn help_lists_commands_and_exit_codes() {
    pagefetch()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("compare").and(predicate::str::contains("130")));
    pagefetch()
        .args(["fetch", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--concurrency"));
}

#[test]
fn fetch_json_has_every_field_in_input_order() {
    let s = TestServer::instant();
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "-t",
            &s.template(),
            "apple",
            "pear pie",
            "grape",
        ])
        .ok_stdout();
    let v = json_doc(&out);
    for key in [
        "schema",
        "version",
        "mode",
        "concurrency",
        "total",
        "wall_ms",
        "ok",
        "failed",
        "bytes",
        "pages",
        "page_ms",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["schema"], 1);
    assert_eq!(v["mode"], "joinset");
    let pages = v["pages"].as_array().unwrap();
    for (i, (p, term)) in pages.iter().zip(["apple", "pear pie", "grape"]).enumerate() {
        for key in [
            "index",
            "input",
            "url",
            "status",
            "bytes",
            "elapsed_ms",
            "truncated",
            "error",
            "final_url",
        ] {
            assert!(p.get(key).is_some(), "missing page field {key}: {p}");
        }
        assert_eq!(p["index"], i);
        assert_eq!(p["input"], term);
        assert_eq!(p["status"], 200);
        assert_eq!(p["bytes"], page_bytes(term));
        assert_eq!(p["truncated"], false);
        assert!(p["elapsed_ms"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(
        pages[1]["url"],
        format!("http://{}/search?q=pear%20pie", s.addr())
    );
    assert_eq!(
        v["bytes"],
        ["apple", "pear pie", "grape"]
            .iter()
            .map(|t| page_bytes(t))
            .sum::<u64>()
    );
}

#[test]
fn ndjson_streams_pages_then_summary() {
    let s = TestServer::instant();
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "ndjson",
            "-m",
            "join-all",
            "-t",
            &s.template(),
            "a",
            "b",
            "c",
        ])
        .ok_stdout();
    let lines = json_lines(&out);
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["page", "page", "page", "summary"]);
    assert_eq!(lines[2]["input"], "c");
    assert_eq!(lines[2]["mode"], "join-all");
    assert_eq!(lines[3]["ok"], 3);
    assert_eq!(lines[3]["schema"], 1);
}

#[test]
fn csv_parses_with_a_csv_reader_and_summary_goes_to_stderr() {
    let s = TestServer::instant();
    let assert = pagefetch()
        .args([
            "fetch",
            "--format",
            "csv",
            "-t",
            &s.template(),
            "apple",
            "x,\"y\"",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("2 ok, 0 failed"));
    let out = &assert.get_output().stdout;
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[2], "input");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][2], "x,\"y\"");
    assert_eq!(rows[1][5].parse::<u64>().unwrap(), page_bytes("x,\"y\""));
}

#[test]
fn table_is_the_default_and_names_each_input() {
    let s = TestServer::instant();
    pagefetch()
        .args(["fetch", "-t", &s.template(), "apple", "pear"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("apple")
                .and(predicate::str::contains(page_bytes("pear").to_string()))
                .and(predicate::str::contains("2 ok, 0 failed")),
        );
}

#[test]
fn terms_from_file_and_stdin_after_arguments() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("terms.txt");
    std::fs::write(&file, "# fruit\r\npear\r\n\r\ngrape\n").unwrap();
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "ndjson",
            "-t",
            &s.template(),
            "apple",
            "-f",
        ])
        .arg(&file)
        .ok_stdout();
    assert_eq!(page_inputs(&out), ["apple", "pear", "grape"]);

    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "ndjson",
            "-t",
            &s.template(),
            "-f",
            "-",
        ])
        .write_stdin("orange\nlemon\n")
        .ok_stdout();
    assert_eq!(page_inputs(&out), ["orange", "lemon"]);
}

#[test]
fn url_terms_are_fetched_unchanged() {
    let s = TestServer::instant();
    let url = s.url("kiwi", "bytes=321");
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "-t",
            "http://unused.invalid/?q={}",
            &url,
        ])
        .ok_stdout();
    let v = json_doc(&out);
    assert_eq!(v["pages"][0]["url"], url);
    assert_eq!(v["pages"][0]["bytes"], 321);
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        vec!["fetch"],
        vec!["fetch", "-t", "http://h/search", "x"],
        vec!["fetch", "-t", "ftp://h/{}", "x"],
        vec!["fetch", "-c", "0", "x"],
        vec!["fetch", "--format", "xml", "x"],
        vec!["fetch", "-f", "/no/such/file.txt"],
        vec!["fetch", "-f", "/"],
        vec!["fetch", "-f", "/dev/null"],
    ] {
        let a = pagefetch().args(&args).write_stdin("").assert().code(2);
        let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert!(
            a.get_output().stdout.is_empty(),
            "{args:?}: stdout not empty"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{args:?}: {err}"
        );
        assert!(
            err.starts_with("pagefetch: error:") || err.starts_with("error:"),
            "{args:?}: {err}"
        );
    }
    pagefetch()
        .args(["fetch", "-f", "/no/such/file.txt"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/no/such/file.txt"));
}

/// The timeout must never catch the instant pages, however busy the machine: 20 s, and a slow page
/// the server never answers. The three loops run side by side, so the test takes 20 s, not 60.
#[test]
fn refused_connection_and_timeout_are_error_rows_and_the_rest_succeeds() {
    let s = std::sync::Arc::new(TestServer::instant());
    let refused = format!("http://{}/", refused_addr());
    let runs: Vec<_> = ["sequential", "joinset", "join-all"]
        .into_iter()
        .map(|mode| {
            let (s, refused) = (s.clone(), refused.clone());
            std::thread::spawn(move || {
                let slow = s.url(&format!("slow-{mode}"), "gate=1");
                let a = pagefetch()
                    .args(["fetch", "--format", "json", "-m", mode])
                    .args(["--timeout", "20s", "-t", &s.template()])
                    .args(["apple", &refused, &slow, "pear"])
                    .assert()
                    .code(1);
                (mode, json_doc(&a.get_output().stdout))
            })
        })
        .collect();
    for run in runs {
        let (mode, v) = run.join().unwrap();
        let p = &v["pages"];
        assert_eq!(p[0]["bytes"], page_bytes("apple"), "{mode}");
        assert_eq!(p[1]["error_kind"], "connect", "{mode}: {}", p[1]);
        assert!(
            p[1]["error"].as_str().unwrap().contains("refused"),
            "{mode}: {}",
            p[1]
        );
        assert_eq!(p[2]["error_kind"], "timeout", "{mode}: {}", p[2]);
        assert_eq!(p[2]["error"], "timed out after 20s", "{mode}");
        assert_eq!(p[3]["bytes"], page_bytes("pear"), "{mode}");
        assert_eq!(v["ok"], 2);
        assert_eq!(v["failed"], 2);
    }
}

#[test]
fn max_bytes_truncates() {
    let s = TestServer::instant();
    let big = s.url("big", "bytes=200000");
    let small = s.url("small", "bytes=10");
    let a = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "--max-bytes",
            "1K",
            &big,
            &small,
        ])
        .assert()
        .success();
    let v = json_doc(&a.get_output().stdout);
    assert_eq!(v["pages"][0]["bytes"], 1024);
    assert_eq!(v["pages"][0]["truncated"], true);
    assert_eq!(v["pages"][1]["bytes"], 10);
    assert_eq!(v["pages"][1]["truncated"], false);
}

#[test]
fn fail_turns_http_errors_into_failed_pages() {
    let s = TestServer::instant();
    let missing = s.url("gone", "status=404&bytes=50");
    // Without --fail a 404 is a page like any other.
    let a = pagefetch()
        .args(["fetch", "--format", "json", &missing])
        .assert()
        .success();
    assert_eq!(json_doc(&a.get_output().stdout)["pages"][0]["status"], 404);
    let a = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "--fail",
            &missing,
            &s.url("ok", ""),
        ])
        .assert()
        .code(1);
    let v = json_doc(&a.get_output().stdout);
    assert_eq!(v["pages"][0]["error"], "HTTP 404");
    assert_eq!(v["pages"][0]["error_kind"], "status");
    assert_eq!(v["pages"][0]["bytes"], 50);
    assert!(v["pages"][1]["error"].is_null());
}

#[test]
fn bad_lines_are_error_rows_naming_the_line_and_the_rest_runs() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("urls.txt");
    let mut content = b"apple\nhttp://[::1\npear\n\xff\xfe bad\n".to_vec();
    content.extend(vec![b'x'; 70 * 1024]);
    content.extend(b"\ngrape\n");
    std::fs::write(&file, content).unwrap();
    let a = pagefetch()
        .args(["fetch", "--format", "json", "-t", &s.template(), "-f"])
        .arg(&file)
        .assert()
        .code(1);
    let v = json_doc(&a.get_output().stdout);
    let err = v["pages"][1]["error"].as_str().unwrap();
    assert!(
        err.starts_with("line 2 of ") && err.contains("urls.txt: invalid URL"),
        "{err}"
    );
    assert_eq!(v["pages"][1]["error_kind"], "input");
    assert_eq!(v["pages"][2]["bytes"], page_bytes("pear"));
    let utf8 = v["pages"][3]["error"].as_str().unwrap();
    assert!(
        utf8.starts_with("line 4 of ") && utf8.contains("urls.txt: not valid UTF-8 (byte "),
        "{utf8}"
    );
    let long = v["pages"][4]["error"].as_str().unwrap();
    assert!(
        long.starts_with("line 5 of ") && long.ends_with("longer than 64 KiB"),
        "{long}"
    );
    assert_eq!(v["pages"][5]["bytes"], page_bytes("grape"));
    assert_eq!((v["ok"].clone(), v["failed"].clone()), (3.into(), 3.into()));
}

#[test]
fn compare_reports_a_speedup_from_its_own_wall_times() {
    // Whether the concurrent loops come out faster depends on the machine's load, so only the
    // arithmetic is checked here; the loops' concurrency is proven by the server's barrier in
    // `concurrent_binary_fills_the_limit`, and the speedup on constructed runs in src/run.rs.
    let s = TestServer::start(Duration::from_millis(150), Duration::ZERO);
    let a = pagefetch()
        .args([
            "compare",
            "--format",
            "json",
            "--modes",
            "sequential,joinset,join-all",
            "-t",
            &s.template(),
        ])
        .args(["a", "b", "c", "d", "e"])
        .assert()
        .success();
    let v = json_doc(&a.get_output().stdout);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let wall = |i: usize| runs[i]["wall_ms"].as_f64().unwrap();
    for (i, mode) in [(1, "joinset"), (2, "join-all")] {
        let reported = v["speedup"][mode].as_f64().unwrap();
        let own = wall(0) / wall(i);
        assert!(
            (reported / own - 1.0).abs() < 1e-3,
            "{mode}: {reported} vs {own}"
        );
        // Five pages of 150 ms one after another: the sequential wall is at least 750 ms.
        assert!(wall(0) >= 750.0, "{}", wall(0));
    }
    // Same pages, same sizes, in every loop.
    let sizes = |i: usize| {
        runs[i]["pages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["bytes"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(sizes(0), sizes(1));
    assert_eq!(sizes(0), sizes(2));
}

#[test]
fn compare_ndjson_ends_with_the_speedup_line() {
    let s = TestServer::start(Duration::from_millis(50), Duration::ZERO);
    let a = pagefetch()
        .args([
            "compare",
            "--format",
            "ndjson",
            "-t",
            &s.template(),
            "a",
            "b",
            "c",
        ])
        .assert()
        .success();
    let lines = json_lines(&a.get_output().stdout);
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "compare");
    assert!(last["speedup"]["joinset"].as_f64().unwrap() > 0.0);
    assert_eq!(lines.iter().filter(|l| l["type"] == "summary").count(), 2);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["type"] == "page" && l["mode"] == "sequential")
            .count(),
        3
    );
}

#[test]
fn repeat_reports_min_median_max() {
    let s = TestServer::instant();
    let a = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "--repeat",
            "3",
            "-t",
            &s.template(),
            "a",
            "b",
        ])
        .assert()
        .success();
    let v = json_doc(&a.get_output().stdout);
    let r = &v["repeat"];
    assert_eq!(r["runs"], 3);
    let (min, med, max) = (
        r["min_ms"].as_f64().unwrap(),
        r["median_ms"].as_f64().unwrap(),
        r["max_ms"].as_f64().unwrap(),
    );
    assert!(min <= med && med <= max, "{r}");
    assert_eq!(v["pages"].as_array().unwrap().len(), 2);
    assert_eq!(s.stats().requests(), 6);
}

#[test]
fn demo_runs_offline_and_prints_a_speedup() {
    pagefetch()
        .args(["demo", "--latency", "100ms", "--jitter", "50ms"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("speedup: joinset")
                .and(predicate::str::contains("strawberry")),
        );
}

/// `pagefetch serve` on a free loopback port, and the first line it printed.
fn spawn_serve() -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pagefetch"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

#[test]
fn serve_prints_its_address_first() {
    let (mut child, line) = spawn_serve();
    let addr: std::net::SocketAddr = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not an address: {line:?}"));
    let a = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "-t",
            &format!("http://{addr}/search?q={{}}"),
            "apple",
        ])
        .assert()
        .success();
    child.kill().unwrap();
    let _ = child.wait();
    assert_eq!(
        json_doc(&a.get_output().stdout)["pages"][0]["bytes"],
        page_bytes("apple")
    );
}

/// The process runs with transparent huge pages off (src/main.rs), which keeps the allocator's
/// arenas in 4 KiB pages: the kernel's own view of it, from /proc.
#[cfg(target_os = "linux")]
#[test]
fn the_process_runs_with_huge_pages_off() {
    let (mut child, _) = spawn_serve();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    // The field exists since Linux 5.0; without it there is nothing to check.
    if let Some(thp) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
        assert_eq!(thp.split_whitespace().nth(1), Some("0"), "{thp}");
    }
}

#[test]
fn sequential_binary_reuses_one_connection_per_run() {
    let s = TestServer::instant();
    let terms: Vec<String> = (0..30).map(|i| format!("t{i}")).collect();
    let runs = 25;
    pagefetch()
        .args([
            "fetch",
            "-q",
            "--format",
            "csv",
            "-m",
            "sequential",
            "--repeat",
            &runs.to_string(),
            "-t",
            &s.template(),
        ])
        .args(&terms)
        .assert()
        .success();
    // A fresh client per run: exactly one connection each, never two requests at once.
    assert_eq!(s.stats().requests(), 30 * runs);
    assert_eq!(s.stats().connections(), runs);
    assert_eq!(s.stats().max_in_flight(), 1);
}

#[test]
fn concurrent_binary_fills_the_limit() {
    // No page is answered until four are in flight: a run that never reaches four ends in 504s.
    let s = TestServer::instant();
    let terms: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    for mode in ["joinset", "join-all"] {
        s.stats()
            .max_in_flight
            .store(0, std::sync::atomic::Ordering::SeqCst);
        pagefetch()
            .args([
                "fetch",
                "-q",
                "--fail",
                "--timeout",
                "2m",
                "-m",
                mode,
                "-c",
                "4",
            ])
            .args(["-t", &s.held_template(4)])
            .args(&terms)
            .assert()
            .success();
        assert_eq!(s.stats().max_in_flight(), 4, "{mode}");
    }
}

#[test]
fn progress_goes_to_stderr_only_when_asked() {
    let s = TestServer::instant();
    let run = |progress: &str| {
        let a = pagefetch()
            .args([
                "fetch",
                "--format",
                "json",
                "--progress",
                progress,
                "-t",
                &s.template(),
                "a",
                "b",
            ])
            .assert()
            .success();
        let out = a.get_output();
        json_doc(&out.stdout); // stdout stays one JSON document either way
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    assert!(run("always").contains("pages"), "a bar was drawn on stderr");
    // stderr is a pipe here, so `auto` draws nothing.
    assert!(!run("auto").contains("pages"));
}

#[test]
fn headers_and_user_agent_are_sent() {
    let s = common::faults::FaultServer::start();
    pagefetch()
        .args([
            "fetch",
            "-q",
            "-H",
            "X-Test: one",
            "-H",
            "X-Other:two",
            &s.url("/ok/1"),
        ])
        .assert()
        .success();
    pagefetch()
        .args(["fetch", "-q", "-A", "custom/1.0", &s.url("/ok/2")])
        .assert()
        .success();
    let heads = s.heads().join("\n").to_lowercase();
    assert!(
        heads.contains("x-test: one") && heads.contains("x-other: two"),
        "{heads}"
    );
    assert!(heads.contains("user-agent: custom/1.0"), "{heads}");
    let default_ua = format!(
        "user-agent: mozilla/5.0 (compatible; pagefetch/{})",
        env!("CARGO_PKG_VERSION")
    );
    assert!(heads.contains(&default_ua), "{heads}");
    // No Accept-Encoding unless --compressed: bytes are counted as received, like curl.
    assert!(!heads.contains("accept-encoding"), "{heads}");
}

#[test]
fn header_injection_and_bad_names_are_usage_errors() {
    for bad in [
        "X-Test: a\r\nInjected: 1",
        "X-Test: a\nInjected: 1",
        "Bad Name: x",
        "NoColon",
    ] {
        let a = pagefetch()
            .args(["fetch", "-H", bad, "http://127.0.0.1:9/"])
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
        assert!(err.contains("--header"), "{bad:?}: {err}");
        assert!(a.get_output().stdout.is_empty());
    }
}

#[test]
fn credentials_are_sent_but_never_shown() {
    let s = common::faults::FaultServer::start();
    let with_creds = |path: &str| s.url(path).replace("http://", "http://user:s3cr3t@");
    let refused = format!("http://user:s3cr3t@{}/", refused_addr());
    let inputs = [with_creds("/ok/3"), with_creds("/chain/1"), refused];
    for format in ["table", "json", "ndjson", "csv"] {
        let out = pagefetch()
            .args(["fetch", "--format", format])
            .args(&inputs)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{format}");
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains("s3cr3t"),
            "{format} leaked the password:\n{all}"
        );
        assert!(
            all.contains("user:***@"),
            "{format} shows the masked input:\n{all}"
        );
    }
    // Only the userinfo differs between the URL asked and the URL answered: no redirect to show.
    let out = pagefetch()
        .args(["fetch", "--format", "json", &with_creds("/ok/4")])
        .output()
        .unwrap();
    assert_eq!(json_doc(&out.stdout)["pages"][0]["final_url"], Value::Null);
    // base64("user:s3cr3t")
    assert!(s.heads().iter().any(|h| h
        .to_lowercase()
        .contains("authorization: basic dxnlcjpzm2nym3q=")));
}

#[test]
fn no_speedup_when_pages_failed_and_the_table_says_why() {
    let refused = format!("http://{}/", refused_addr());
    let out = pagefetch()
        .args(["compare", &refused, &refused])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("speedup: joinset n/a over sequential (sequential had 2 failed pages"),
        "{table}"
    );
    assert!(table.contains("page time: no page answered"), "{table}");
    let out = pagefetch()
        .args(["compare", "--format", "ndjson", &refused])
        .output()
        .unwrap();
    let lines = json_lines(&out.stdout);
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "compare");
    assert_eq!(last["speedup"]["joinset"], Value::Null);
    assert_eq!(
        last["speedup_unavailable"]["joinset"],
        "sequential had 1 failed page"
    );
    assert_eq!(lines[1]["page_ms"]["p50"], Value::Null, "{}", lines[1]);
}

#[test]
fn speedup_keys_follow_the_modes_and_the_first_is_the_baseline() {
    let s = TestServer::instant();
    let out = pagefetch()
        .args([
            "compare",
            "--format",
            "json",
            "--modes",
            "joinset,sequential,join-all",
        ])
        .args(["-t", &s.template(), "apple", "pear"])
        .ok_stdout();
    let text = String::from_utf8_lossy(&out);
    let v = json_doc(&out);
    assert_eq!(v["baseline"], "joinset");
    let line = text.lines().find(|l| l.contains("\"speedup\":")).unwrap();
    let (seq, all) = (line.find("\"sequential\""), line.find("\"join-all\""));
    assert!(seq.unwrap() < all.unwrap(), "{line}");
    assert!(v["speedup"]["sequential"].is_number() && v["speedup"]["join-all"].is_number());
}

#[test]
fn summary_percentiles_are_over_answered_pages_and_match_the_rows() {
    let s = TestServer::instant();
    let refused = format!("http://{}/", refused_addr());
    let slow = s.url("slow", "ms=100");
    let out = pagefetch()
        .args(["fetch", "--format", "json", "-m", "sequential"])
        .args([&refused, &refused, &slow, &s.url("a", "ms=20")])
        .output()
        .unwrap();
    let v = json_doc(&out.stdout);
    let answered: Vec<f64> = v["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["status"].is_null())
        .map(|p| p["elapsed_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(answered.len(), 2);
    let max = answered.iter().cloned().fold(0.0, f64::max);
    let min = answered.iter().cloned().fold(f64::MAX, f64::min);
    // Nearest rank over the two answered pages: p50 is the faster one, max the slower, to the digit.
    assert_eq!(v["page_ms"]["max"].as_f64(), Some(max), "{}", v["page_ms"]);
    assert_eq!(v["page_ms"]["p50"].as_f64(), Some(min), "{}", v["page_ms"]);
    assert!(
        min >= 20.0,
        "a refused page is not the median: {}",
        v["page_ms"]
    );
}
