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
            "| loop | pages | ok | failed | wall (median ± σ) | p50 | p95 | speedup |"
        )?;
        writeln!(w, "|---|---|---|---|---|---|---|---|")?;
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
            let speed = match factor {
                None if speedup.baseline == Some(r.mode) && runs.len() > 1 => {
                    "baseline".to_string()
                }
                None => "—".to_string(),
                Some(((_, Ok(f)), Some(sd))) => format!("{f:.2}x ± {sd:.2}"),
                Some(((_, Ok(f)), None)) => format!("{f:.2}x"),
                Some(((_, Err(why)), _)) => format!("n/a ({})", cell(why)),
            };
            let interrupted = if r.interrupted { " (interrupted)" } else { "" };
            writeln!(
                w,
                "| {}{interrupted} | {} | {} | {} | {wall} | {} | {} | {speed} |",
                r.mode.name(),
                r.pages,
                r.ok,
                r.failed,
                opt(r.page_time(50.0)),
                opt(r.page_time(95.0)),
            )?;
        }
        if verdict.baseline.is_some() {
            writeln!(w)?;
            let mut text = Vec::new();
            super::summary::write_baseline(&mut text, verdict)?;
            for line in String::from_utf8_lossy(&text).lines() {
                writeln!(w, "- {}", cell(line))?;
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
