//! CI smoke timing: warm-up runs, statistics, checks with their own exit code, a baseline that
//! knows about noise, and exports beside stdout. Every server is started here.

mod common;

use std::time::Duration;

use common::{pagefetch, refused_addr, TestServer};
use serde_json::Value;

fn run(args: &[&str]) -> (Option<i32>, Value, String) {
    let out = pagefetch().args(args).output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn check<'a>(v: &'a Value, label: &str) -> &'a Value {
    v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == label)
        .unwrap_or_else(|| panic!("no check {label}: {}", v["checks"]))
}

#[test]
fn every_metric_and_operator_qualified_or_not() {
    // Only checks no load can flip: lower bounds the server's 30 ms guarantees, upper bounds of
    // an hour, a speedup above 0. How checks judge values near their limits is tested on built
    // values in src/check.rs and src/verdict.rs.
    let s = TestServer::start(Duration::from_millis(30), Duration::ZERO);
    let t = s.template();
    let (code, v, err) = run(&[
        "compare",
        "--format",
        "json",
        "--repeat",
        "2",
        "-t",
        &t,
        "a",
        "b",
        "c",
        "--check",
        "wall<1h",
        "--check",
        "p50>=30ms",
        "--check",
        "p90>1ms",
        "--check",
        "joinset.p95<=1h",
        "--check",
        "p99<1h",
        "--check",
        "sequential.max>=30ms",
        "--check",
        "failed==0",
        "--check",
        "failed_pct<1%",
        "--check",
        "speedup>0",
        "--check",
        "speedup.joinset>=0",
    ]);
    assert_eq!(code, Some(0), "{err}");
    for label in [
        "wall<1h (sequential)",
        "wall<1h (joinset)",
        "p50>=30ms (joinset)",
        "joinset.p95<=1h",
        "sequential.max>=30ms",
        "failed==0 (sequential)",
        "failed_pct<1% (joinset)",
        "speedup>0",
        "speedup.joinset>=0",
    ] {
        assert_eq!(check(&v, label)["pass"], true, "{label}");
    }
    // The values are the run's own: the sequential wall check carries its median wall, the
    // speedup check the speedup the document reports.
    let wall = check(&v, "wall<1h (sequential)")["value"].as_f64().unwrap();
    assert_eq!(wall, v["runs"][0]["repeat"]["median_ms"].as_f64().unwrap());
    assert_eq!(check(&v, "speedup>0")["value"], v["speedup"]["joinset"]);
    assert!(
        err.contains("check speedup>0: ") && err.contains(" ok"),
        "{err}"
    );
    // Every operator, failing where it should.
    for (expr, pass) in [
        ("failed<0", false),
        ("failed<=0", true),
        ("failed>0", false),
        ("failed>=0", true),
        ("failed==1", false),
    ] {
        let (code, v, _) = run(&["fetch", "--format", "json", "-t", &t, "a", "--check", expr]);
        assert_eq!(v["checks"][0]["pass"], pass, "{expr}");
        assert_eq!(code, Some(if pass { 0 } else { 3 }), "{expr}");
    }
}

#[test]
fn a_failed_check_exits_3_and_outranks_failed_pages() {
    let s = TestServer::instant();
    let t = s.template();
    // Every page fine, one check fails: 3, and the line says FAILED.
    let (code, _, err) = run(&[
        "fetch", "--format", "json", "-t", &t, "a", "--check", "p95<1us",
    ]);
    assert_eq!(code, Some(3));
    assert!(
        err.contains("check p95<1us: ") && err.contains("FAILED"),
        "{err}"
    );
    // A failed page alone: 1. With a failed check too: 3.
    let refused = format!("http://{}/", refused_addr());
    let (code, _, _) = run(&["fetch", "--format", "json", "-t", &t, "a", &refused]);
    assert_eq!(code, Some(1));
    let (code, _, _) = run(&[
        "fetch",
        "--format",
        "json",
        "-t",
        &t,
        "a",
        &refused,
        "--check",
        "failed==0",
    ]);
    assert_eq!(code, Some(3));
}

#[test]
fn a_malformed_check_is_a_usage_error_before_any_request() {
    let s = TestServer::instant();
    for bad in [
        "p95",
        "p95<=soon",
        "p96<1s",
        "joinset.wall<1s",
        "speedup>2",
        "wall_change<5%",
    ] {
        let out = pagefetch()
            .args([
                "fetch",
                "-m",
                "sequential",
                "-t",
                &s.template(),
                "a",
                "--check",
                bad,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("pagefetch: error: "), "{bad}: {err}");
    }
    assert_eq!(s.stats().requests(), 0, "no request was sent");
}

#[test]
fn warm_up_runs_happen_and_stay_out_of_the_statistics() {
    let s = TestServer::instant();
    let (code, v, _) = run(&[
        "fetch",
        "--format",
        "json",
        "--warmup",
        "2",
        "--repeat",
        "3",
        "-t",
        &s.template(),
        "a",
        "b",
    ]);
    assert_eq!(code, Some(0));
    // 2 warm-up runs and 3 measured, 2 pages each.
    assert_eq!(s.stats().requests(), 10);
    let r = &v["repeat"];
    assert_eq!(r["runs"], 3);
    let walls: Vec<f64> = r["walls_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_f64().unwrap())
        .collect();
    assert_eq!(walls.len(), 3);
    let mean = walls.iter().sum::<f64>() / 3.0;
    let sd = (walls.iter().map(|w| (w - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((r["mean_ms"].as_f64().unwrap() - mean).abs() < 0.002, "{r}");
    assert!((r["stddev_ms"].as_f64().unwrap() - sd).abs() < 0.002, "{r}");
    assert!(v["page_ms"]["p95"].is_number() && v["page_ms"]["p99"].is_number());
}

/// A baseline file with one loop whose wall was `mean_ms` ± `sd_ms` over `runs` runs.
fn baseline(dir: &std::path::Path, mean_ms: f64, sd_ms: f64, runs: u64) -> std::path::PathBuf {
    let path = dir.join(format!("base-{mean_ms}-{runs}.json"));
    let repeat = match runs {
        1 => Value::Null,
        n => serde_json::json!({"runs": n, "mean_ms": mean_ms, "stddev_ms": sd_ms,
                                "p95_mean_ms": 1.0, "p95_stddev_ms": 0.1}),
    };
    let doc = serde_json::json!({
        "schema": 1, "mode": "sequential", "wall_ms": mean_ms,
        "page_ms": {"p95": 1.0}, "repeat": repeat,
    });
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// The binary reads a baseline, judges the change and exits by the verdict. The baselines are far
/// enough from the run that its timing cannot change the verdict: how a change near its limit is
/// judged is tested on built runs in src/verdict.rs (`a_baseline_change_passes_fails_or_is_inconclusive`).
#[test]
fn a_baseline_change_passes_fails_or_is_inconclusive_and_sets_the_exit_code() {
    // Two sequential pages of 20 ms each: at least 40 ms a run, however busy the machine.
    let s = TestServer::start(Duration::from_millis(20), Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let go = |base: &std::path::Path, extra: &[&str]| {
        let b = base.to_str().unwrap().to_string();
        let mut args = vec![
            "fetch",
            "--format",
            "json",
            "-m",
            "sequential",
            "--repeat",
            "3",
            "-t",
        ];
        let t = s.template();
        args.push(&t);
        args.extend(["a", "b", "--baseline", &b, "--check", "wall_change<=10%"]);
        args.extend(extra);
        let out = pagefetch().args(&args).output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    // An hour a run before: faster now by nearly 100%, the whole interval within 10%: passes.
    let (code, v) = go(&baseline(dir.path(), 3_600_000.0, 1.0, 3), &[]);
    assert_eq!(code, Some(0), "{}", v["checks"]);
    assert_eq!(v["checks"][0]["pass"], true, "{}", v["checks"]);
    // Both sides repeated: an interval (too narrow to show at this ratio, but there).
    assert!(v["checks"][0]["uncertainty"].is_number(), "{}", v["checks"]);
    // 1 ms a run before, measured once: at least +3,900% now, no interval: fails with 3.
    let (code, v) = go(&baseline(dir.path(), 1.0, 0.0, 1), &[]);
    assert_eq!(
        (code, v["checks"][0]["pass"].clone()),
        (Some(3), Value::Bool(false)),
        "{}",
        v["checks"]
    );
    assert_eq!(v["checks"][0]["uncertainty"], Value::Null);
    // A baseline whose spread is a thousand times its mean: the interval straddles 10% whatever
    // the run took: inconclusive, exit 0; 3 if asked.
    let noisy = baseline(dir.path(), 200.0, 200_000.0, 3);
    let (code, v) = go(&noisy, &[]);
    assert_eq!(v["checks"][0]["pass"], Value::Null, "{}", v["checks"]);
    assert_eq!(code, Some(0));
    let (code, _) = go(&noisy, &["--fail-inconclusive"]);
    assert_eq!(code, Some(3));
    assert_eq!(v["baseline_comparison"]["loops"][0]["mode"], "sequential");
}

#[test]
fn a_baseline_of_another_schema_or_other_loops_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.json");
    std::fs::write(&other, r#"{"schema":2,"mode":"sequential","wall_ms":1}"#).unwrap();
    let out = pagefetch()
        .args(["fetch", "--baseline"])
        .arg(&other)
        .arg("http://127.0.0.1:9/")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let seq = baseline(dir.path(), 100.0, 0.0, 1);
    let out = pagefetch()
        .args(["fetch", "-m", "joinset", "--baseline"])
        .arg(&seq)
        .arg("http://127.0.0.1:9/")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("runs none of them"));
}

#[test]
fn exports_match_stdout_and_the_markdown_reads_back() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let (json, md) = (dir.path().join("run.json"), dir.path().join("summary.md"));
    let out = pagefetch()
        .args([
            "compare",
            "--format",
            "json",
            "--repeat",
            "2",
            "-t",
            &s.template(),
            "a",
            "b",
        ])
        .args(["--check", "failed==0", "--check", "p95<1us"])
        .arg("--export-json")
        .arg(&json)
        .arg("--export-markdown")
        .arg(&md)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        std::fs::read(&json).unwrap(),
        out.stdout,
        "the export is the same document"
    );
    let text = std::fs::read_to_string(&md).unwrap();
    let rows: Vec<Vec<String>> = text
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert_eq!(rows[0][..4], ["loop", "pages", "ok", "failed"]);
    assert_eq!(rows[1][0], "sequential");
    assert_eq!(rows[2][0], "joinset");
    assert!(
        rows[2][7].ends_with('x') || rows[2][7].contains("x ±"),
        "{:?}",
        rows[2]
    );
    let checks: Vec<&Vec<String>> = rows.iter().filter(|r| r[0].starts_with('`')).collect();
    assert_eq!(checks.len(), 4, "{text}");
    assert!(checks
        .iter()
        .any(|r| r[0].contains("p95<1us") && r[2].contains("FAILED")));
    // With a table on stdout, the JSON export is still the whole document.
    let out = pagefetch()
        .args(["fetch", "-t", &s.template(), "a", "--export-json"])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v["pages"][0]["input"], "a");
}
