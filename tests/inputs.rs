//! Input as an outsider writes it: passwords in broken URLs, byte-order marks, other encodings, NUL
//! bytes, terminal escapes, over-long URLs, and templates and limits that cannot work.

mod common;

use common::faults::FaultServer;
use common::{pagefetch, TestServer};
use serde_json::Value;

fn stdout_and_stderr(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `fetch` of `inputs` in each format: the format and all it wrote, stdout then stderr.
fn in_every_format(s: &TestServer, inputs: &[&str]) -> Vec<(&'static str, String)> {
    ["table", "json", "ndjson", "csv"]
        .into_iter()
        .map(|format| {
            let out = pagefetch()
                .args(["fetch", "--format", format, "-t", &s.template()])
                .args(inputs)
                .output()
                .unwrap();
            (format, stdout_and_stderr(&out))
        })
        .collect()
}

#[test]
fn a_password_in_a_url_that_does_not_parse_is_never_shown() {
    let inputs = [
        "http://alice:s3cret@127.0.0.1:99999/x",
        "http://alice:s3cret@/x",
        "http://alice:s3cret@[::1/x",
        "ftp://alice:s3cret@h/x",
    ];
    let s = TestServer::instant();
    for (format, all) in in_every_format(&s, &inputs) {
        assert!(
            !all.contains("s3cret"),
            "{format} leaked the password:\n{all}"
        );
        assert!(all.contains("alice:***@"), "{format}:\n{all}");
    }
    // The same for a template that carries one.
    let out = pagefetch()
        .args(["fetch", "-t", "http://bob:hunter2@h:99999/{}", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let all = stdout_and_stderr(&out);
    assert!(
        !all.contains("hunter2") && all.contains("bob:***@"),
        "{all}"
    );
}

#[test]
fn a_token_as_user_name_is_never_shown() {
    let s = TestServer::instant();
    let fetched = s
        .url("tok", "bytes=10")
        .replace("http://", "http://ghp_T0KEN@");
    let inputs = [fetched.as_str(), "http://ghp_T0KEN@127.0.0.1:99999/x"];
    for (format, all) in in_every_format(&s, &inputs) {
        assert!(!all.contains("T0KEN"), "{format} leaked the token:\n{all}");
        assert_eq!(
            all.matches("://***@").count(),
            if format == "table" { 2 } else { 3 },
            "{format}:\n{all}"
        );
    }
}

#[test]
fn a_byte_order_mark_does_not_send_line_1_through_the_template() {
    let f = FaultServer::start();
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bom.txt");
    let line = s.url("bom", "bytes=77");
    std::fs::write(&file, format!("\u{feff}{line}\npear\n")).unwrap();
    // Had the BOM stayed, line 1 would be a search term sent to the template's host.
    let template = f.url("/search?q={}");
    let out = pagefetch()
        .args(["fetch", "--format", "json", "-t", &template, "-f"])
        .arg(&file)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pages"][0]["input"], line);
    assert_eq!(v["pages"][0]["url"], line);
    assert_eq!(v["pages"][0]["bytes"], 77);
    assert!(
        f.heads().iter().all(|h| !h.contains("bom")),
        "{:?}",
        f.heads()
    );
    // The same through stdin.
    let out = pagefetch()
        .args(["fetch", "--format", "json", "-t", &template, "-f", "-"])
        .write_stdin(format!("\u{feff}{line}\n"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pages"][0]["bytes"], 77);
}

#[test]
fn utf16_input_is_a_usage_error_naming_the_encoding_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("utf16.txt");
    let bytes: Vec<u8> = "\u{feff}apple\r\npear\r\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    std::fs::write(&file, bytes).unwrap();
    let out = pagefetch()
        .args(["fetch", "-t", "http://127.0.0.1:9/?q={}", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("utf16.txt") && err.contains("UTF-16LE"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_nul_byte_makes_its_line_an_error_row_and_the_rest_runs() {
    let s = TestServer::instant();
    let out = pagefetch()
        .args(["fetch", "--format", "json", "-t", &s.template(), "-f", "-"])
        .write_stdin("apple\nbad\0term\npear\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["pages"];
    assert_eq!(p[1]["error"], "line 2 of <stdin>: contains a NUL byte");
    assert_eq!(p[1]["error_kind"], "input");
    assert_eq!(
        (p[0]["status"].as_u64(), p[2]["status"].as_u64()),
        (Some(200), Some(200))
    );
}

#[test]
fn terminal_escapes_are_shown_escaped_in_the_table_and_on_stderr() {
    let s = TestServer::instant();
    let evil = ["\x1b]0;owned\x07", "\x1b[2Jcleared", "two\nlines"];
    let out = pagefetch()
        .args(["fetch", "-t", &s.template()])
        .args(evil)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        !table.contains('\x1b') && !table.contains('\x07'),
        "{table:?}"
    );
    assert!(table.contains("\\e]0;owned\\x07"), "{table}");
    assert!(table.contains("\\e[2Jcleared"), "{table}");
    assert!(table.contains("two\\nlines"), "{table}");
    // Header, three rows, blank, three summary lines: no row was split.
    assert_eq!(table.lines().count(), 8, "{table}");
    // JSON keeps the exact text.
    let out = pagefetch()
        .args(["fetch", "--format", "json", "-t", &s.template()])
        .args(evil)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pages"][0]["input"], evil[0]);
    // An error line on stderr that names a file with an escape in its name.
    let out = pagefetch()
        .args(["fetch", "-f", "/no/such/\x1b[2Jfile"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains('\x1b') && err.contains("\\e[2Jfile"),
        "{err:?}"
    );
}

#[test]
fn a_url_too_long_to_send_is_an_error_row_with_its_line() {
    let s = TestServer::instant();
    // 65,536 bytes: within the 64 KiB line limit, past the 65,534 a request target may have.
    let head = format!("{}&pad=", s.url("x", ""));
    let long = format!("{head}{}", "a".repeat(65_536 - head.len()));
    let out = pagefetch()
        .args(["fetch", "--format", "json", "-f", "-"])
        .write_stdin(format!("{}\n{long}\n", s.url("ok", "")))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &v["pages"][1];
    assert_eq!(p["error_kind"], "input", "{p}");
    let err = p["error"].as_str().unwrap();
    assert!(
        err.starts_with("line 2 of <stdin>: URL too long ("),
        "{err}"
    );
    assert_eq!(v["pages"][0]["status"], 200);
}

#[test]
fn templates_and_limits_that_cannot_work_are_usage_errors_that_say_why() {
    for (args, expect) in [
        (
            vec!["-t", "localhost:8080/search?q={}"],
            "start it with http:// or https://",
        ),
        (vec!["-t", "http://h/page#{}"], "fragment"),
        (vec!["--timeout", "1ns"], "at least 1ms"),
        (vec!["--connect-timeout", "10us"], "at least 1ms"),
    ] {
        let out = pagefetch()
            .arg("fetch")
            .args(&args)
            .arg("apple")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn usage_errors_are_one_line_plus_a_hint() {
    for (args, hint) in [
        (vec!["fetch", "--bogus"], "try 'pagefetch fetch --help'"),
        (
            vec!["fetch", "--format", "xml", "x"],
            "try 'pagefetch fetch --help'",
        ),
        (
            vec!["compare", "-c", "0", "x"],
            "try 'pagefetch compare --help'",
        ),
        (vec!["fech"], "try 'pagefetch --help'"),
        (
            vec!["fetch", "-H", "X: a\r\nInjected: 1", "x"],
            "try 'pagefetch fetch --help'",
        ),
        (vec!["merge"], "try 'pagefetch merge --help'"),
    ] {
        let out = pagefetch().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {err}");
        assert!(lines[0].starts_with("pagefetch: error: "), "{err}");
        assert_eq!(lines[1].trim(), hint, "{err}");
        if args == ["merge"] {
            // clap lists missing arguments a line each; here they join the one line.
            assert!(lines[0].ends_with("were not provided: <FILE>..."), "{err}");
        }
    }
}
