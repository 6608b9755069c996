//! Sharp edges of the command line: durations the clock cannot hold, checks and baselines that
//! cannot be judged, and `-q` on an interrupted run.

mod common;

use std::process::Output;
use std::time::Duration;

use common::{pagefetch, TestServer};

/// A guard against a run that would never end, not a measurement: every case here ends at once
/// when it passes.
const GUARD: Duration = Duration::from_secs(15);

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
    // fail=1: the first answer is a 503, so a retry (and its delay) happens.
    let url = s.url("t", "fail=1");
    let huge = [
        ("--timeout", "300000000000y"),
        ("--rate", "1/18446744073709551615s"),
        ("--retry-delay", "18446744073709551615s"),
    ];
    for mode in ["sequential", "joinset", "join-all"] {
        for (flag, value) in huge {
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
