//! Flags borrowed from curl and oha: `-o FILE`, `-u USER[:PASSWORD]`, and the advice given when a
//! habit from those tools would do something else here.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{send, wait_for, TestServer};
use serde_json::Value;

fn spawn(args: &[&str]) -> Child {
    common::command()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pagefetch")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ndjson(path: &Path) -> Vec<Value> {
    let body = std::fs::read_to_string(path).unwrap();
    assert!(body.ends_with('\n'), "whole lines: {body:?}");
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

// ---- -o, --output -------------------------------------------------------------------------

#[test]
fn output_file_gets_ndjson_csv_and_json_and_stdout_stays_empty() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let template = s.template();
    for (sub, format) in [
        ("fetch", "ndjson"),
        ("fetch", "csv"),
        ("fetch", "json"),
        ("compare", "json"),
        ("compare", "ndjson"),
    ] {
        let path = dir.path().join(format!("{sub}.{format}"));
        let out = common::pagefetch()
            .args([
                sub, "-q", "--format", format, "-t", &template, "a", "b", "c",
            ])
            .arg("-o")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            out.stdout.is_empty(),
            "{sub} {format}: {}",
            text(&out.stdout)
        );
        match format {
            "ndjson" => {
                let lines = ndjson(&path);
                let pages = lines.iter().filter(|l| l["type"] == "page").count();
                let loops = if sub == "compare" { 2 } else { 1 };
                assert_eq!(pages, 3 * loops, "{lines:?}");
                let last = if sub == "compare" {
                    "compare"
                } else {
                    "summary"
                };
                assert_eq!(lines.last().unwrap()["type"], last);
            }
            "csv" => {
                let mut reader = csv::Reader::from_path(&path).unwrap();
                let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
                assert_eq!(rows.len(), 3);
                assert_eq!(&rows[1][2], "b");
            }
            _ => {
                let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                assert!(v.is_object(), "{v}");
            }
        }
    }
}

#[test]
fn output_file_gets_the_table_and_its_summary_as_stdout_would() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("table.txt");
    let out = common::pagefetch()
        .args(["fetch", "--waterfall", "-t", &s.template(), "apple", "pear"])
        .arg("--output")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let table = std::fs::read_to_string(&path).unwrap();
    assert!(table.contains("apple") && table.contains("pear"), "{table}");
    assert!(table.contains("2 ok, 0 failed"), "the summary: {table}");
    assert!(table.contains("when each page ran"), "the chart: {table}");
    assert!(!table.contains('\x1b'), "no colour in a file: {table:?}");
}

#[test]
fn output_dash_is_stdout() {
    let s = TestServer::instant();
    let out = common::pagefetch()
        .args([
            "fetch",
            "-q",
            "--format",
            "ndjson",
            "-o",
            "-",
            "-t",
            &s.template(),
            "a",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).lines().count(),
        2,
        "{}",
        text(&out.stdout)
    );
    assert!(!Path::new("-").exists());
}

#[test]
fn an_output_file_that_cannot_be_created_is_one_line_before_any_request() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("out.ndjson");
    let out = common::pagefetch()
        .args(["fetch", "-t", &s.template(), "a"])
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("pagefetch: error: -o "), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert_eq!(s.stats().requests(), 0);
}

#[test]
fn the_input_file_is_not_written_over() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("terms.txt");
    std::fs::write(&path, "a\nb\n").unwrap();
    let out = common::pagefetch()
        .args(["fetch", "-t", &s.template(), "-f"])
        .arg(&path)
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("input file"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
    assert_eq!(s.stats().requests(), 0);
}

#[test]
fn output_and_resume_do_not_mix() {
    let out = common::pagefetch()
        .args(["fetch", "-o", "x.ndjson", "--resume", "y.ndjson", "a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot be used with"),
        "{}",
        text(&out.stderr)
    );
}

/// As tests/signals.rs does it: fast, slow (20 s), fast; SIGINT once the client has the two fast
/// pages (the progress bar on the piped stderr says `2/3 pages,`) and only the slow one is out.
#[test]
fn sigint_leaves_whole_records_in_the_output_file() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.ndjson");
    let (a, slow, b) = (s.url("a", ""), s.url("slow", "ms=20000"), s.url("b", ""));
    let path_arg = path.to_str().unwrap();
    let mut child = spawn(&[
        "fetch",
        "--format",
        "ndjson",
        "--progress",
        "always",
        "-o",
        path_arg,
        &a,
        &slow,
        &b,
    ]);
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut seen, mut buf) = (Vec::new(), [0u8; 4096]);
        while let Ok(n @ 1..) = stderr.read(&mut buf) {
            seen.extend_from_slice(&buf[..n]);
            if text(&seen).contains("2/3 pages,") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the progress bar to count the fast pages done");
    wait_for("the slow page to be the only one in flight", || {
        s.stats().requests() >= 3 && s.stats().in_flight() == 1
    });
    send(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let lines = ndjson(&path);
    assert_eq!(lines.len(), 4, "three pages and a summary: {lines:?}");
    assert_eq!(lines[1]["error_kind"], "cancelled");
    assert_eq!(lines[3]["type"], "summary");
    assert_eq!(lines[3]["interrupted"], true);
}

/// A run killed outright (no chance to finish its output) still leaves only whole lines: each
/// write to FILE ends at a newline.
#[test]
fn a_killed_run_leaves_whole_lines_in_the_output_file() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let terms = dir.path().join("terms.txt");
    let many: String = (0..20_000).map(|i| format!("term-{i}\n")).collect();
    std::fs::write(&terms, many).unwrap();
    for format in ["ndjson", "csv"] {
        let path = dir.path().join(format!("out.{format}"));
        let template = s.template();
        let mut child = spawn(&[
            "fetch",
            "-q",
            "--rate",
            "5000",
            "--format",
            format,
            "-t",
            &template,
            "-f",
            terms.to_str().unwrap(),
            "-o",
            path.to_str().unwrap(),
        ]);
        let size = || std::fs::metadata(&path).map_or(0, |m| m.len());
        // Past a few writer buffers (64 KiB): at 5,000 pages a second, more than one buffer
        // fills between two flushes of the run, so a write that is not cut at a newline shows.
        wait_for("records past a buffer's size in the file", || {
            size() > 400_000
        });
        send(&child, libc::SIGKILL);
        child.wait().unwrap();
        let body = std::fs::read_to_string(&path).unwrap();
        assert!(
            body.ends_with('\n'),
            "{format}: cut mid-line: {:?}",
            &body[body.len() - 80..]
        );
        let lines = body.lines().count();
        assert!(
            lines < 20_000,
            "{format}: killed before the end ({lines} lines)"
        );
        if format == "ndjson" {
            for line in body.lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                assert_eq!(v["type"], "page");
            }
        } else {
            let mut reader = csv::Reader::from_reader(body.as_bytes());
            let rows = reader.records().map(Result::unwrap).count();
            assert_eq!(rows, lines - 1);
        }
    }
}

// ---- -u, --user ---------------------------------------------------------------------------

/// The `Authorization` value of a recorded request head, if it has one.
fn authorization(head: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_string())
    })
}

fn path_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("")
}

#[test]
fn user_goes_to_every_input_url_and_its_password_is_never_shown() {
    let s = common::faults::FaultServer::start();
    let port = s.port();
    let other = format!("http://other.test:{port}/ok/7");
    let resolve = format!("other.test:{port}:127.0.0.1");
    let refused = format!("http://user:pw@{}/x", common::refused_addr());
    let token = "Basic YWxpY2U6czNjcjN0OnBhcnQ="; // alice:s3cr3t:part
    for format in ["table", "json", "ndjson", "csv"] {
        let out = common::pagefetch()
            .args(["fetch", "--progress", "always", "--format", format])
            .args(["-u", "alice:s3cr3t:part", "--resolve", &resolve])
            .args([&s.url("/ok/5"), &other, &refused])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "the refused page failed");
        let shown = text(&out.stdout) + &text(&out.stderr);
        for secret in ["s3cr3t", "YWxpY2U6czNjcjN0OnBhcnQ="] {
            assert!(!shown.contains(secret), "{format}: {secret} shown: {shown}");
        }
    }
    let heads = s.heads();
    assert_eq!(heads.len(), 8, "{heads:?}");
    for head in &heads {
        assert_eq!(authorization(head).as_deref(), Some(token), "{head}");
    }
}

#[test]
fn user_without_a_password_sends_an_empty_one_and_says_so_once() {
    let s = common::faults::FaultServer::start();
    let out = common::pagefetch()
        .args([
            "fetch",
            "--format",
            "ndjson",
            "-u",
            "alice",
            &s.url("/ok/5"),
        ])
        .args([&s.url("/ok/6")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("empty password"), "{err}");
    // A lone user name may be a token: it is not repeated either.
    assert!(!err.contains("alice"), "{err}");
    let basic = |head: &String| authorization(head);
    let sent: Vec<Option<String>> = s.heads().iter().map(basic).collect();
    let alice = Some("Basic YWxpY2U6".to_string()); // alice:
    assert_eq!(sent, [alice.clone(), alice]);
    // -q: no warning, the same header.
    let out = common::pagefetch()
        .args(["fetch", "-q", "-u", "alice", &s.url("/ok/5")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn user_stays_with_its_host_on_redirects_and_a_header_of_ones_own_wins() {
    let s = common::faults::FaultServer::start();
    let port = s.port();
    let resolve = format!("other.test:{port}:127.0.0.1");
    let away = s.url(&format!("/to/http://other.test:{port}/ok/5"));
    let out = common::pagefetch()
        .args([
            "fetch",
            "-q",
            "-u",
            "alice:pw",
            "--resolve",
            &resolve,
            &away,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let heads = s.heads();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert_eq!(
        path_of(&heads[0]),
        format!("/to/http://other.test:{port}/ok/5")
    );
    assert!(authorization(&heads[0]).is_some(), "{}", heads[0]);
    assert_eq!(authorization(&heads[1]), None, "another host: {}", heads[1]);

    let s = common::faults::FaultServer::start();
    let out = common::pagefetch()
        .args([
            "fetch",
            "-q",
            "-u",
            "alice:pw",
            "-H",
            "Authorization: Bearer t",
        ])
        .arg(s.url("/ok/5"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(authorization(&s.heads()[0]).as_deref(), Some("Bearer t"));
}

// ---- habits from curl, xh and oha ---------------------------------------------------------

/// Runs pagefetch with `args`; (exit code, stdout, stderr).
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::pagefetch().args(args).output().unwrap();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn a_url_or_host_where_the_subcommand_goes_gets_the_fetch_command_to_run() {
    for (args, meant) in [
        (
            &["https://example.com/"][..],
            "pagefetch fetch https://example.com/",
        ),
        (
            &["https://example.com/", "-c", "4"],
            "pagefetch fetch https://example.com/ -c 4",
        ),
        (&["example.com"], "pagefetch fetch https://example.com/"),
        (
            &["www.example.org/a?b=c"],
            "pagefetch fetch 'https://www.example.org/a?b=c'",
        ),
        (
            &["localhost:8080"],
            "pagefetch fetch http://localhost:8080/",
        ),
        (
            &["https://u:pw@example.com/"],
            "pagefetch fetch https://u:***@example.com/",
        ),
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("pagefetch: error: "), "{stderr}");
        assert!(
            stderr
                .trim_end()
                .ends_with(&format!("did you mean: {meant}")),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains(":pw@"), "{stderr}");
    }
}

#[test]
fn a_file_where_the_subcommand_goes_is_suggested_as_the_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("urls");
    std::fs::write(&path, "https://example.com/\n").unwrap();
    let path = path.to_str().unwrap();
    let (code, _, stderr) = run(&[path]);
    assert_eq!(code, Some(2));
    let meant = format!("did you mean: pagefetch fetch -f {path}");
    assert!(stderr.trim_end().ends_with(&meant), "{stderr}");
}

#[test]
fn a_bare_word_where_the_subcommand_goes_keeps_clap_s_message() {
    // A word may be a mistyped subcommand as well as a search term: no guess.
    for word in ["apple", "notes.txt", "fech"] {
        let (code, _, stderr) = run(&[word]);
        assert_eq!(code, Some(2));
        assert!(!stderr.contains("did you mean"), "{word}: {stderr}");
        assert!(
            stderr.contains("unrecognized subcommand"),
            "{word}: {stderr}"
        );
    }
}

#[test]
fn quiet_followed_by_a_number_warns_that_the_rate_is_rate_and_runs_on() {
    let s = TestServer::instant();
    let template = s.template();
    let (code, stdout, stderr) = run(&["fetch", "-q", "10", "--format", "ndjson", "-t", &template]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("warning: '-q 10'"), "{stderr}");
    assert!(stderr.contains("--rate 10"), "{stderr}");
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["input"], "10", "the run went on");
    assert_eq!(s.stats().requests(), 1);
    // A number elsewhere, or a word after -q, is just a term.
    for args in [
        &["fetch", "-q", "apple", "-t", &template][..],
        &["fetch", "-q", "-t", &template, "10"],
        &[
            "compare", "-q", "--format", "json", "-t", &template, "--", "-q", "10",
        ],
    ] {
        let (code, _, stderr) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

#[test]
fn flags_of_other_tools_get_one_line_naming_what_to_use() {
    for (args, flag, advice) in [
        (
            &["fetch", "--cookie", "a=b", "x"][..],
            "--cookie",
            "-H 'Cookie: NAME=VALUE'",
        ),
        (
            &["fetch", "--cookie=a=b", "x"],
            "--cookie",
            "-H 'Cookie: NAME=VALUE'",
        ),
        (
            &["compare", "-b", "a=b", "x"],
            "-b",
            "-H 'Cookie: NAME=VALUE'",
        ),
        (
            &["fetch", "-d", "a=b", "x"],
            "-d",
            "only sends GET requests",
        ),
        (
            &["fetch", "--data", "a=b", "x"],
            "--data",
            "only sends GET requests",
        ),
        (
            &["fetch", "-X", "POST", "x"],
            "-X",
            "only sends GET requests",
        ),
        (
            &["fetch", "-L", "x"],
            "-L",
            "redirects are followed by default",
        ),
        (
            &["fetch", "--location", "x"],
            "--location",
            "redirects are followed by default",
        ),
        (&["fetch", "-s", "x"], "-s", "-q (--quiet)"),
        (&["fetch", "--json", "x"], "--json", "--format json"),
        (&["merge", "-o", "all.ndjson", "a.ndjson"], "-o", "> FILE"),
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        let expect = format!("pagefetch: error: unexpected argument '{flag}': ");
        assert!(stderr.starts_with(&expect), "{args:?}: {stderr}");
        assert!(stderr.contains(advice), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("--color"),
            "not the nearest name: {stderr}"
        );
    }
    // A flag of ours is not advised against; an unknown flag of no tool keeps clap's message.
    let (code, _, stderr) = run(&["fetch", "--bogus", "x"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("unexpected argument '--bogus' found"),
        "{stderr}"
    );
}
