//! What the summaries say about the pages: the status breakdown and pages per second, the note on
//! a speedup that timed error pages, cancelled pages counted apart, and inputs that look like host
//! names sent to the default search template.

mod common;

use common::faults::FaultServer;
use common::pagefetch;
use serde_json::Value;

/// Three pages: 200, 404, 500 (none fails without `--fail`).
fn mixed(s: &FaultServer) -> Vec<String> {
    vec![s.url("/ok/10"), s.url("/status/404"), s.url("/status/500")]
}

fn stdout_of(args: &[&str], code: i32) -> String {
    let out = pagefetch().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_compare_table_shows_each_loops_status_and_fits_80_columns() {
    let s = FaultServer::start();
    let urls = mixed(&s);
    let mut args = vec!["compare", "-q", "--modes", "sequential,joinset,join-all"];
    args.extend(urls.iter().map(String::as_str));
    let out = stdout_of(&args, 0);
    let rows: Vec<&str> = out.lines().collect();
    assert!(rows[1].contains("st") && rows[1].contains("bytes"), "{out}");
    for (row, status) in rows[2..5].iter().zip(["200", "404", "500"]) {
        assert_eq!(
            row.matches(&format!(" {status} ")).count(),
            3,
            "a status cell per loop: {row}\n{out}"
        );
    }
    let table_end = rows.iter().position(|l| l.is_empty()).unwrap();
    for row in &rows[..table_end] {
        let width = row.chars().count();
        assert!(width <= 80, "{width} columns: {row}\n{out}");
    }
    assert!(
        out.contains("  status 200 ×1, 404 ×1, 500 ×1; "),
        "the breakdown in every loop's summary: {out}"
    );
    assert!(out.contains(" pages/s\n"), "{out}");
    let speedups: Vec<&str> = rows
        .iter()
        .filter(|l| l.starts_with("speedup:"))
        .copied()
        .collect();
    assert_eq!(speedups.len(), 2, "{out}");
    for line in speedups {
        assert!(
            line.contains("x over sequential")
                && line.contains("; note: pages answered 4xx/5xx: sequential 404 ×1, 500 ×1;"),
            "the speedup is given, and says it timed error pages: {line}"
        );
    }
}

#[test]
fn json_ndjson_and_markdown_summaries_carry_statuses_pages_per_second_and_the_note() {
    let s = FaultServer::start();
    let urls = mixed(&s);
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("summary.md");
    let export = dir.path().join("run.json");
    let mut args = vec!["compare", "-q", "--format", "ndjson"];
    args.extend(urls.iter().map(String::as_str));
    let out = pagefetch()
        .args(&args)
        .arg("--export-markdown")
        .arg(&md)
        .arg("--export-json")
        .arg(&export)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let mut summaries: Vec<&Value> = lines.iter().filter(|l| l["type"] == "summary").collect();
    summaries.extend(doc["runs"].as_array().unwrap());
    assert_eq!(summaries.len(), 4);
    for summary in summaries {
        assert_eq!(
            summary["statuses"],
            serde_json::json!({"200": 1, "404": 1, "500": 1}),
            "{summary}"
        );
        assert!(summary["pages_per_s"].as_f64().unwrap() > 0.0, "{summary}");
    }
    let last = lines.last().unwrap();
    let note = "pages answered 4xx/5xx: sequential 404 ×1, 500 ×1; joinset 404 ×1, 500 ×1";
    for compare in [last, &doc] {
        assert!(compare["speedup"]["joinset"].is_number(), "{compare}");
        assert_eq!(compare["speedup_note"]["joinset"], note, "{compare}");
    }
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.contains("| speedup | statuses | pages/s |"), "{md}");
    assert!(md.contains(" | 200 ×1, 404 ×1, 500 ×1 | "), "{md}");
    assert!(md.contains(note), "{md}");
}

#[test]
fn a_speedup_between_pages_that_all_answered_2xx_has_no_note() {
    let s = FaultServer::start();
    let (a, b) = (s.url("/ok/10"), s.url("/ok/20"));
    let out = stdout_of(&["compare", "-q", "--format", "json", &a, &b], 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["speedup_note"], serde_json::json!({}));
    assert_eq!(doc["runs"][0]["statuses"], serde_json::json!({"200": 2}));
    let out = stdout_of(&["compare", "-q", &a, &b], 0);
    assert!(!out.contains("note:"), "{out}");
    assert!(out.contains("  status 200 ×2; "), "{out}");
}

/// `compare --modes sequential` over a fast page, a page the server holds, and a third that never
/// starts; interrupted with SIGINT once the held page is the one in flight.
fn interrupted_compare(format: &str) -> (Option<i32>, String) {
    let s = common::TestServer::instant();
    let slow = s.url("slow", "gate=1");
    let (a, b) = (s.url("a", ""), s.url("b", ""));
    let child = common::command()
        .args(["compare", "--timeout", "10m", "--modes", "sequential"])
        .args(["--format", format, &a, &slow, &b])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pagefetch");
    common::wait_for("the slow page", || {
        s.stats().requests() == 2 && s.stats().in_flight() == 1
    });
    common::send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

#[test]
fn cancelled_pages_are_counted_apart_from_failed_ones_with_the_time_they_had_run() {
    let (code, out) = interrupted_compare("ndjson");
    assert_eq!(code, Some(130));
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[1]["error_kind"], "cancelled", "{out}");
    assert!(
        lines[1]["elapsed_ms"].as_f64().unwrap() > 0.0,
        "the held page had run when it was cancelled: {}",
        lines[1]
    );
    assert_eq!(lines[2]["error_kind"], "cancelled", "{out}");
    assert_eq!(lines[2]["elapsed_ms"], 0.0, "never started: {}", lines[2]);
    let summary = &lines[3];
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        (
            &summary["total"],
            &summary["ok"],
            &summary["failed"],
            &summary["cancelled"]
        ),
        (
            &Value::from(3),
            &Value::from(1),
            &Value::from(0),
            &Value::from(2)
        ),
        "{summary}"
    );

    let (code, out) = interrupted_compare("table");
    assert_eq!(code, Some(130));
    assert!(
        out.contains("3 pages, 1 ok, 0 failed, 2 cancelled,"),
        "{out}"
    );
    let held = out.lines().find(|l| l.starts_with("    1  ")).unwrap();
    assert!(held.contains(" cxl ") && !held.contains("0 µs"), "{held}");
}

/// Five inputs, three like host names; `--shard 5/6` selects none of them, so nothing is fetched
/// (the default template is a search engine on the internet) while every input is still read.
const HOSTISH: [&str; 5] = [
    "apple",
    "example.com",
    "10.0.0.5:8080/health",
    "pear",
    "a.io",
];

#[test]
fn inputs_like_host_names_sent_to_the_default_template_are_warned_about_and_counted() {
    for sub in ["fetch", "compare"] {
        let out = pagefetch()
            .args([sub, "--format", "ndjson", "--shard", "5/6"])
            .args(HOSTISH)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches("warning:").count(), 1, "once: {err}");
        assert!(
            err.contains("3 inputs look like host names but have no scheme")
                && err.contains("\"example.com\", \"10.0.0.5:8080/health\", \"a.io\"")
                && err.contains("add https://"),
            "{sub}: {err}"
        );
        let summaries: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["type"] == "summary")
            .collect();
        assert!(!summaries.is_empty(), "{sub}");
        for s in summaries {
            assert_eq!(s["inputs_like_hosts"], 3, "{sub}: {s}");
        }
    }
}

#[test]
fn bare_words_and_a_users_template_give_no_host_warning() {
    let words = pagefetch()
        .args(["fetch", "--format", "ndjson", "--shard", "5/6"])
        .args(["apple", "pear", "pear pie", "3.14"])
        .output()
        .unwrap();
    let own = pagefetch()
        .args(["compare", "--format", "ndjson", "--shard", "5/6"])
        .args(["-t", "http://127.0.0.1:9/lookup?host={}"])
        .args(HOSTISH)
        .output()
        .unwrap();
    for out in [words, own] {
        assert_eq!(out.status.code(), Some(0));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("host name"), "{err}");
        let last_summary = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .rfind(|l| l["type"] == "summary")
            .unwrap();
        assert_eq!(last_summary["inputs_like_hosts"], 0, "{last_summary}");
    }
}
