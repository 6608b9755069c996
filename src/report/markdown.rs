//! `--export-markdown FILE`: a GitHub-flavoured summary of the run, fit for
//! `"$GITHUB_STEP_SUMMARY"`: one table row per loop, then the baseline comparison and the checks.

use std::io::{self, Write};
use std::time::Duration;

use super::{Reporter, RunSummary, Speedup, Verdict};
use crate::page::{PageResult, Strategy};
use crate::stats::human;

pub struct Markdown<'a> {
    out: Box<dyn Write + 'a>,
}

impl<'a> Markdown<'a> {
    pub fn new(out: Box<dyn Write + 'a>) -> Self {
        Markdown { out }
    }
}

/// `|` would end a cell; newlines would end the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// Text the user gave (a file name) for Markdown, in a cell or a list item: each ASCII character
/// that can open markup inside a line (emphasis, a link, an image, HTML, code, a heading, a table
/// cell, math) is backslash-escaped, and control and bidi characters are shown as `\u{1b}`, so
/// the summary reads what the text was and no name can add a link, a line or a row.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '<' | '>' | '#' | '+' | '!' | '|'
            | '~' | '&' | '$' | '^' | ':' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || super::html::BIDI.contains(&c) => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

impl Reporter for Markdown<'_> {
    fn page(&mut self, _: Strategy, _: PageResult) -> io::Result<()> {
        Ok(())
    }

    fn finish(
        &mut self,
        runs: &[RunSummary],
        speedup: &Speedup,
        verdict: &Verdict,
    ) -> io::Result<()> {
        let w = &mut self.out;
        writeln!(w, "### pagefetch\n")?;
        writeln!(
            w,
            "| loop | pages | ok | failed | wall (median ± σ) | p50 | p95 | speedup | statuses | pages/s |"
        )?;
        writeln!(w, "|---|---|---|---|---|---|---|---|---|---|")?;
        let opt = |d: Option<Duration>| d.map_or("—".to_string(), human);
        for r in runs {
            let wall = match &r.repeat {
                Some(rep) => format!(
                    "{} ± {} ({} runs)",
                    human(rep.median),
                    human(rep.stddev),
                    rep.runs
                ),
                None => human(r.wall),
            };
            let factor = speedup
                .factors
                .iter()
                .zip(&speedup.spread)
                .find(|((m, _), _)| *m == r.mode);
            let note = factor
                .and_then(|((m, _), _)| {
                    let i = speedup.factors.iter().position(|(x, _)| x == m)?;
                    speedup.notes.get(i)?.as_ref()
                })
                .map(|n| format!(" ({})", cell(n)))
                .unwrap_or_default();
            let speed = match factor {
                None if speedup.baseline == Some(r.mode) && runs.len() > 1 => {
                    "baseline".to_string()
                }
                None => "—".to_string(),
                Some(((_, Ok(f)), Some(sd))) => format!("{f:.2}x ± {sd:.2}{note}"),
                Some(((_, Ok(f)), None)) => format!("{f:.2}x{note}"),
                Some(((_, Err(why)), _)) => format!("n/a ({})", cell(why)),
            };
            let interrupted = if r.interrupted { " (interrupted)" } else { "" };
            writeln!(
                w,
                "| {}{interrupted} | {} | {} | {} | {wall} | {} | {} | {speed} | {} | {} |",
                r.mode.name(),
                r.pages,
                r.ok,
                r.failed,
                opt(r.page_time(50.0)),
                opt(r.page_time(95.0)),
                r.statuses_text(),
                r.pages_per_s()
                    .map_or("—".to_string(), |p| format!("{p:.2}")),
            )?;
        }
        if let Some((file, loops)) = &verdict.baseline {
            writeln!(w)?;
            // The file name is the user's text; the rest of each line is ours.
            let shown = Verdict {
                checks: Vec::new(),
                baseline: Some((text(file), loops.clone())),
            };
            let mut lines = Vec::new();
            super::summary::write_baseline(&mut lines, &shown)?;
            for line in String::from_utf8_lossy(&lines).lines() {
                writeln!(w, "- {line}")?;
            }
        }
        if !verdict.checks.is_empty() {
            writeln!(w, "\n| check | value | result |")?;
            writeln!(w, "|---|---|---|")?;
            for c in &verdict.checks {
                let result = match c.pass {
                    Some(false) => "**FAILED**",
                    _ => c.result_word(),
                };
                let value = cell(&c.value_text());
                writeln!(w, "| `{}` | {value} | {result} |", cell(&c.label))?;
            }
        }
        w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Change, Comparison};

    #[test]
    fn user_text_cannot_add_markup() {
        assert_eq!(text("a|b"), "a\\|b");
        assert_eq!(text("[x](http://e)"), "\\[x\\]\\(http\\://e\\)");
        assert_eq!(text("*_`<b>"), "\\*\\_\\`\\<b\\>");
        assert_eq!(text("a\nb\x1b"), "a\\u{a}b\\u{1b}");
        assert_eq!(text("a\u{202e}gnp"), "a\\u{202e}gnp");
        assert_eq!(text("out/base-2.json"), "out/base-2.json");
    }

    #[test]
    fn the_baseline_path_is_escaped_in_the_summary() {
        let file = "x|y\n# [pwn](http://e) <img src=x>\u{202e}`.json";
        let change = Change {
            now: 1.0,
            before: 1.0,
            change_pct: 0.0,
            uncertainty_pct: None,
        };
        let verdict = Verdict {
            checks: Vec::new(),
            baseline: Some((
                file.to_string(),
                vec![Comparison {
                    mode: "joinset",
                    wall: change,
                    p95: None,
                }],
            )),
        };
        let mut out = Vec::new();
        Markdown::new(Box::new(&mut out))
            .finish(&[], &Speedup::compute(&[]), &verdict)
            .unwrap();
        let md = String::from_utf8(out).unwrap();
        let line = md.lines().find(|l| l.starts_with("- baseline")).unwrap();
        assert!(
            line.contains(
                "(x\\|y\\u{a}\\# \\[pwn\\]\\(http\\://e\\) \\<img src=x\\>\\u{202e}\\`.json)"
            ),
            "{line}"
        );
        assert_eq!(
            md.lines().filter(|l| l.starts_with("- ")).count(),
            1,
            "{md}"
        );
    }
}
