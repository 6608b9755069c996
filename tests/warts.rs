//! Sharp edges of the command line: durations the clock cannot hold, checks and baselines that
//! cannot be judged, and `-q` on an interrupted run.

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use common::{pagefetch, send, wait_for, TestServer};

/// A guard against a run that would never end, not a measurement: every case here ends at once
/// when it passes, and a busy machine must not make it look as if it never would.
const GUARD: Duration = Duration::from_secs(60);

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A usage error: exit 2, one `pagefetch: error:` line that names `flag`, no panic.
fn assert_usage_error(out: &Output, flag: &str, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.contains("pagefetch: error:"), "{what}: {err}");
    assert!(err.contains(flag), "{what}: the error names {flag}: {err}");
}

#[test]
fn durations_and_rates_the_clock_cannot_hold_are_usage_errors_in_every_loop() {
    let s = TestServer::instant();
    let url = s.url("t", "fail=1");
    let huge = [
        ("--timeout", "300000000000y"),
        ("--rate", "1/18446744073709551615s"),
        ("--retry-delay", "18446744073709551615s"),
    ];
    for mode in ["sequential", "joinset", "join-all"] {
        for (flag, value) in huge {
            // fail=1 on a query of its own: its first answer is a 503, so (had the flag been
            // taken) a retry, and its delay, would happen.
            let url = s.url(&format!("{mode}{flag}"), "fail=1");
            let out = pagefetch()
                .args(["fetch", "-q", "-m", mode, "--retry", "1", flag, value, &url])
                .timeout(GUARD)
                .output()
                .unwrap();
            assert_usage_error(&out, flag, &format!("{mode} {flag} {value}"));
        }
    }
    assert_eq!(s.stats().requests(), 0, "no request was made");
    // The other duration flags: fetch/compare limits, serve and demo delays.
    for args in [
        &["fetch", "--connect-timeout", "18446744073709551615s", &url][..],
        &["fetch", "--retry-max-time", "300000000000y", &url],
        &["compare", "--timeout", "300000000000y", &url],
        &["compare", "--rate", "1/18446744073709551615s", &url],
        &[
            "serve",
            "--latency",
            "300000000000y",
            "--addr",
            "127.0.0.1:0",
        ],
        &[
            "serve",
            "--jitter",
            "300000000000y",
            "--addr",
            "127.0.0.1:0",
        ],
        &["demo", "--latency", "18446744073709551615s"],
        &["demo", "--jitter", "18446744073709551615s"],
    ] {
        let out = pagefetch().args(args).timeout(GUARD).output().unwrap();
        assert_usage_error(&out, args[1], &args.join(" "));
    }
}

#[test]
fn a_speedup_check_on_the_baseline_loop_is_a_usage_error_before_any_request() {
    let s = TestServer::instant();
    let out = pagefetch()
        .args(["compare", "--modes", "sequential,joinset"])
        .args(["--check", "speedup.sequential>=1", &s.url("a", "")])
        .timeout(GUARD)
        .output()
        .unwrap();
    assert_usage_error(
        &out,
        "speedup.sequential>=1",
        "speedup of the baseline loop",
    );
    assert!(stderr(&out).contains("baseline loop"), "{}", stderr(&out));
    assert_eq!(s.stats().requests(), 0);
}

/// A one-loop baseline document (`fetch --format json`) with `fields` merged in.
fn baseline_file(dir: &std::path::Path, name: &str, fields: serde_json::Value) -> String {
    let mut doc = serde_json::json!({
        "schema": 1, "mode": "sequential", "wall_ms": 200.0, "page_ms": {"p95": 1.0},
    });
    for (k, v) in fields.as_object().unwrap() {
        doc[k] = v.clone();
    }
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn an_unqualified_change_check_on_a_loop_the_baseline_lacks_fails_before_the_run() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let base = baseline_file(dir.path(), "seq.json", serde_json::json!({}));
    let out = pagefetch()
        .args([
            "compare",
            "--modes",
            "sequential,joinset",
            "--baseline",
            &base,
        ])
        .args(["--check", "wall_change<=1000%", &s.url("a", "")])
        .timeout(GUARD)
        .output()
        .unwrap();
    assert_usage_error(&out, "wall_change<=1000%", "joinset not in the baseline");
    let err = stderr(&out);
    assert!(
        err.contains("joinset") && err.contains("sequential.wall_change<=1000%"),
        "says which loop and how to qualify the check: {err}"
    );
    assert_eq!(s.stats().requests(), 0);
}

#[test]
fn a_baseline_with_walls_no_run_can_have_is_refused_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let repeat = |mean: f64, sd: f64| serde_json::json!({"repeat": {"runs": 3, "mean_ms": mean, "stddev_ms": sd}});
    for (name, fields, field) in [
        ("zero.json", serde_json::json!({"wall_ms": 0.0}), "wall_ms"),
        ("neg.json", serde_json::json!({"wall_ms": -5.0}), "wall_ms"),
        (
            "huge.json",
            serde_json::json!({"wall_ms": 1e300}),
            "wall_ms",
        ),
        ("mean.json", repeat(0.0, 1.0), "repeat.mean_ms"),
        ("sd.json", repeat(100.0, -1.0), "repeat.stddev_ms"),
        (
            "p95.json",
            serde_json::json!({"page_ms": {"p95": -1.0}}),
            "page_ms.p95",
        ),
    ] {
        let base = baseline_file(dir.path(), name, fields);
        let out = pagefetch()
            .args(["fetch", "-m", "sequential", "--baseline", &base])
            .arg("http://127.0.0.1:9/")
            .timeout(GUARD)
            .output()
            .unwrap();
        assert_usage_error(&out, name, name);
        assert!(stderr(&out).contains(field), "{name}: {}", stderr(&out));
    }
}

#[test]
fn a_missing_baseline_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let out = pagefetch()
        .args(["fetch", "--baseline"])
        .arg(&missing)
        .arg("http://127.0.0.1:9/")
        .timeout(GUARD)
        .output()
        .unwrap();
    assert_usage_error(&out, "nope.json", "missing baseline");
    assert!(stderr(&out).contains("--export-json"), "{}", stderr(&out));
}

/// An interrupted run: a slow page in flight, then SIGINT.
fn interrupted(quiet: bool) -> Output {
    let s = TestServer::instant();
    let mut cmd = common::command();
    cmd.args([
        "fetch",
        "--format",
        "ndjson",
        "-m",
        "joinset",
        "--timeout",
        "10m",
    ]);
    if quiet {
        cmd.arg("-q");
    }
    let child = cmd
        .args([s.url("a", ""), s.url("slow", "gate=1")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pagefetch");
    wait_for("the slow page to be the only one in flight", || {
        s.stats().requests() >= 2 && s.stats().in_flight() == 1
    });
    send(&child, libc::SIGINT);
    child.wait_with_output().unwrap()
}

#[test]
fn quiet_leaves_out_the_interrupted_note_and_the_exit_code_still_says_it() {
    let out = interrupted(true);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("interrupted"),
        "-q: {:?}",
        stderr(&out)
    );
    let out = interrupted(false);
    assert_eq!(out.status.code(), Some(130));
    assert!(stderr(&out).contains("pagefetch: interrupted"));
}

#[test]
fn shard_auto_counts_slurm_tasks_from_the_arrays_first_id() {
    let s = TestServer::instant();
    let terms: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
    // sbatch --array=1-4: task 4 is shard 3 of 4.
    let out = pagefetch()
        .args(["fetch", "--format", "ndjson", "--shard", "auto/4", "-t"])
        .arg(s.template())
        .args(&terms)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("PARALLEL_SEQ")
        .env("SLURM_ARRAY_TASK_ID", "4")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .timeout(GUARD)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let indices: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["index"].as_u64())
        .collect();
    assert_eq!(indices, [3, 7]);
}
