//! What people look at: when each page ran (`start_ms`), the terminal waterfall, the HTML report,
//! colour, completions, the manual page, help examples, the progress bar.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{pagefetch, TestServer};
use serde_json::Value;

fn pages(out: &[u8]) -> Vec<Value> {
    let v: Value = serde_json::from_slice(out).unwrap();
    v["pages"].as_array().unwrap().clone()
}

fn ms(p: &Value, key: &str) -> f64 {
    p[key].as_f64().unwrap_or_else(|| panic!("{key}: {p}"))
}

#[test]
fn start_ms_is_a_staircase_sequentially_and_overlaps_concurrently() {
    let s = TestServer::start(Duration::from_millis(40), Duration::ZERO);
    let terms = ["a", "b", "c", "d", "e"];
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "-m",
            "sequential",
            "-t",
            &s.template(),
        ])
        .args(terms)
        .output()
        .unwrap();
    let p = pages(&out.stdout);
    for w in p.windows(2) {
        let (prev_end, next) = (
            ms(&w[0], "start_ms") + ms(&w[0], "elapsed_ms"),
            ms(&w[1], "start_ms"),
        );
        assert!(next > ms(&w[0], "start_ms"), "strictly increasing: {p:?}");
        assert!(
            next >= prev_end - 0.002,
            "starts after the previous ended: {next} < {prev_end}"
        );
    }
    for mode in ["joinset", "join-all"] {
        // No page is answered until all five are in flight, so every page started before any
        // ended, however slowly a busy machine started them.
        s.stats()
            .max_in_flight
            .store(0, std::sync::atomic::Ordering::SeqCst);
        let out = pagefetch()
            .args([
                "fetch",
                "--format",
                "json",
                "--fail",
                "--timeout",
                "2m",
                "-c",
                "8",
                "-m",
                mode,
                "-t",
                &s.held_template(5),
            ])
            .args(terms)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let p = pages(&out.stdout);
        assert_eq!(p.len(), 5);
        let first_end = p
            .iter()
            .map(|p| ms(p, "start_ms") + ms(p, "elapsed_ms"))
            .fold(f64::MAX, f64::min);
        for p in &p {
            assert!(
                ms(p, "start_ms") <= first_end + 0.002,
                "{mode}: {p} started after a page ended at {first_end}"
            );
        }
    }
}

#[test]
fn the_waterfall_follows_the_table_or_goes_to_stderr_beside_data() {
    let s = TestServer::start(Duration::from_millis(30), Duration::ZERO);
    let out = pagefetch()
        .args([
            "compare",
            "--waterfall",
            "-t",
            &s.template(),
            "apple",
            "pear",
            "grape",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let after_speedup = text.split("speedup:").nth(1).expect("the table first");
    assert!(
        after_speedup.contains("sequential: when each page ran"),
        "{text}"
    );
    assert!(
        after_speedup.contains("joinset: when each page ran"),
        "{text}"
    );
    assert!(
        after_speedup.contains('█') && after_speedup.contains("ms"),
        "{text}"
    );
    let out = pagefetch()
        .args([
            "fetch",
            "--waterfall",
            "--format",
            "json",
            "-t",
            &s.template(),
            "apple",
        ])
        .output()
        .unwrap();
    serde_json::from_slice::<Value>(&out.stdout).expect("stdout is only the JSON");
    assert!(String::from_utf8_lossy(&out.stderr).contains("joinset: when each page ran"));
}

#[test]
fn the_html_report_has_a_rect_per_page_per_loop_and_fetches_nothing() {
    let s = TestServer::instant();
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let failing = s.url("bad", "status=503&bytes=5");
    let out = pagefetch()
        .args([
            "compare",
            "-q",
            "--fail",
            "-t",
            &s.template(),
            "a",
            "b",
            "<c&\"d\">",
            &failing,
        ])
        .arg("--export-html")
        .arg(&html)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    let rects: Vec<&str> = page
        .split("<rect ")
        .skip(1)
        .filter(|r| r.contains("data-mode="))
        .collect();
    assert_eq!(rects.len(), 8, "4 pages x 2 loops");
    for mode in ["sequential", "joinset"] {
        for index in 0..4 {
            let rect = rects
                .iter()
                .find(|r| r.contains(&format!("data-mode=\"{mode}\" data-index=\"{index}\"")))
                .unwrap_or_else(|| panic!("{mode} {index}"));
            assert!(rect.contains("data-status=\""), "{rect}");
            assert!(rect.contains("<title>#"), "{rect}");
        }
    }
    assert!(rects
        .iter()
        .any(|r| r.contains("class=\"bad\"") && r.contains("data-status=\"503\"")));
    // The input with markup in it arrives as text.
    assert!(page.contains("&lt;c&amp;&quot;d&quot;&gt;") && !page.contains("<c&"));
    // Self-contained: no script, no external resource of any kind.
    for bad in ["<script", "src=", "href=", "url(", "@import", "<link"] {
        assert!(!page.contains(bad), "{bad} in the report");
    }
    assert!(page.contains("histogram of page times"));
}

/// Runs `cmd` with its stdout on a pseudo-terminal (util-linux `script`), returns what it wrote.
fn on_a_terminal(cmd: &str, envs: &[(&str, &str)]) -> String {
    let mut c = Command::new("script");
    c.args(["-qec", cmd, "/dev/null"])
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in envs {
        c.env(k, v);
    }
    let out = c.output().expect("script (util-linux) runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn colour_by_flag_no_color_and_terminal() {
    let s = TestServer::instant();
    let t = s.template();
    let table = |color: &str| {
        let out = pagefetch()
            .env_remove("NO_COLOR")
            .args(["fetch", "--color", color, "-t", &t, "a"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(table("always").contains("\x1b[32m"), "green 200");
    assert!(!table("never").contains('\x1b'));
    assert!(!table("auto").contains('\x1b'), "a pipe is not a terminal");
    // JSON is never coloured.
    let json = pagefetch()
        .args([
            "fetch", "--color", "always", "--format", "json", "-t", &t, "a",
        ])
        .output()
        .unwrap();
    assert!(!json.stdout.contains(&0x1b));
    let forced = pagefetch()
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .args(["fetch", "-t", &t, "a"])
        .output()
        .unwrap();
    assert!(forced.stdout.contains(&0x1b));
    // On a terminal: coloured unless NO_COLOR says no.
    let bin = assert_cmd::cargo::cargo_bin("pagefetch");
    let cmd = format!("{} fetch -q -t '{t}' a", bin.display());
    assert!(on_a_terminal(&cmd, &[]).contains("\x1b[32m"));
    assert!(!on_a_terminal(&cmd, &[("NO_COLOR", "1")]).contains("\x1b[32m"));
}

#[test]
fn completions_load_in_bash_and_the_manual_renders() {
    let bin = assert_cmd::cargo::cargo_bin("pagefetch");
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "source <('{}' completions bash) && complete -p pagefetch",
                bin.display()
            ),
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("-F _pagefetch pagefetch"),
        "{out:?}"
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = pagefetch().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("pagefetch"),
            "{shell}"
        );
    }
    let man = pagefetch().arg("man").output().unwrap();
    let roff = String::from_utf8_lossy(&man.stdout).to_string();
    assert!(roff.contains(".TH pagefetch 1"), "{roff}");
    if Command::new("man").arg("--version").output().is_ok() {
        let out = Command::new("bash")
            .args([
                "-c",
                &format!(
                    "'{}' man | MANWIDTH=80 man -l - 2>&1 >/dev/null",
                    bin.display()
                ),
            ])
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&out.stdout);
        assert!(warnings.trim().is_empty(), "man warned: {warnings}");
    }
}

#[test]
fn every_subcommand_help_ends_with_real_examples() {
    for sub in ["fetch", "compare", "serve", "demo", "merge"] {
        let out = pagefetch().args([sub, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let examples = help
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("{sub}: {help}"));
        let lines: Vec<&str> = examples
            .lines()
            .take_while(|l| !l.trim().is_empty() || l.is_empty())
            .filter(|l| l.trim_start().starts_with("pagefetch "))
            .collect();
        assert!((3..=5).contains(&lines.len()), "{sub}: {lines:?}");
        for l in lines {
            // Each example parses: pagefetch's own parser accepts it.
            let words: Vec<String> = shell_words(l.trim());
            let args: Vec<&str> = words
                .iter()
                .map(String::as_str)
                .take_while(|w| *w != "|" && *w != ">")
                .collect();
            let parsed = <pagefetch::cli::Cli as clap::Parser>::try_parse_from(&args);
            assert!(parsed.is_ok(), "{sub}: {l}: {:?}", parsed.err());
        }
    }
}

/// Splits a command line into words, honouring single and double quotes.
fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, ' ') => {
                if any {
                    words.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            (_, c) => {
                word.push(c);
                any = true;
            }
        }
    }
    if any {
        words.push(word);
    }
    words
}

#[test]
fn the_progress_bar_says_rate_eta_and_failures_then_goes() {
    let s = TestServer::instant();
    let refused = format!("http://{}/", common::refused_addr());
    let out = pagefetch()
        .args([
            "fetch",
            "--format",
            "json",
            "--progress",
            "always",
            "-m",
            "sequential",
            "-t",
            &s.template(),
        ])
        .args(["a", "b", &refused])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pages") && err.contains("/s"), "{err}");
    assert!(err.contains("(1 failed)"), "{err}");
    // Cleared at the end: the last thing drawn is an erased line.
    assert!(
        err.trim_end().ends_with("\x1b[2K") || err.ends_with("\x1b[1A"),
        "{err:?}"
    );
}

#[test]
fn the_progress_bar_counts_one_page_in_the_singular() {
    let s = TestServer::instant();
    let out = pagefetch()
        .args(["fetch", "--format", "json", "--progress", "always"])
        .args(["-t", &s.template(), "a"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1/1 page,"), "{err}");
    assert!(
        !err.contains(" 1 pages") && !err.contains("/1 pages"),
        "{err}"
    );
}
