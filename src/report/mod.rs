//! Reporters: records arrive in input order (never sorted here), one file per format.
//!
//! Unlike a `write(&Report)` per format, a reporter is fed page by page so NDJSON and CSV can
//! stream; table and JSON keep the pages and write once at the end.

mod csv;
mod html;
mod json;
mod markdown;
mod ndjson;
mod record;
mod summary;
mod table;
pub mod waterfall;

pub use record::{PageMs, PageRecord, RepeatRecord, SummaryRecord};

use std::io::{self, Write};

use crate::cli::Format;
use crate::page::{PageResult, Strategy};
pub use crate::run::{Repeat, RunSummary, Speedup};
use crate::stats;
pub use crate::term::plural;
pub use crate::verdict::Verdict;

/// Version of the JSON / NDJSON / CSV layout; bumped when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// Receives the run as it happens: pages in input order, then each loop's summary, then the end.
pub trait Reporter {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()>;
    /// A loop has ended (a reporter that only writes at the end ignores it).
    fn run_done(&mut self, _summary: &RunSummary) -> io::Result<()> {
        Ok(())
    }
    /// The end: every loop's summary, the speedup, and what was judged (checks, a baseline).
    fn finish(
        &mut self,
        runs: &[RunSummary],
        speedup: &Speedup,
        verdict: &Verdict,
    ) -> io::Result<()>;
    /// Writes out what is buffered. Called about every 100 ms while a run goes on, so a record
    /// that can be written is never held back behind a slow page.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `fetch` prints one run; `compare` prints several side by side plus the speedup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Fetch,
    Compare,
}

/// The one place that picks a reporter for a format. `out` is stdout; `err` takes the human summary
/// of formats that keep stdout for data only.
pub fn reporter<'a>(
    format: Format,
    layout: Layout,
    out: Box<dyn Write + 'a>,
    err: Option<Box<dyn Write + 'a>>,
    color: bool,
) -> Box<dyn Reporter + 'a> {
    match format {
        Format::Table => Box::new(
            table::Table::new(layout, out, err, crate::term::stdout_columns()).with_color(color),
        ),
        Format::Json => Box::new(json::Json::new(layout, out)),
        Format::Ndjson => Box::new(ndjson::Ndjson::new(layout, out)),
        Format::Csv => Box::new(csv::Csv::new(out, err)),
    }
}

/// Several reporters fed the same run: stdout's, and the `--export-*` files' (hyperfine's
/// `ExportManager` has the same shape).
pub struct Fanout<'a>(pub Vec<Box<dyn Reporter + 'a>>);

impl Reporter for Fanout<'_> {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()> {
        let Some((last, rest)) = self.0.split_last_mut() else {
            return Ok(());
        };
        for r in rest {
            r.page(mode, page.clone())?;
        }
        last.page(mode, page)
    }

    fn run_done(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|r| r.run_done(summary))
    }

    fn finish(
        &mut self,
        runs: &[RunSummary],
        speedup: &Speedup,
        verdict: &Verdict,
    ) -> io::Result<()> {
        self.0
            .iter_mut()
            .try_for_each(|r| r.finish(runs, speedup, verdict))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|r| r.flush())
    }
}

/// `--export-json FILE`: the same document as `--format json`, written to FILE as the run goes.
pub fn json_export<'a>(layout: Layout, out: Box<dyn Write + 'a>) -> Box<dyn Reporter + 'a> {
    Box::new(json::Json::new(layout, out))
}

/// `--export-html FILE`: a self-contained page with the waterfalls, summaries and a histogram.
pub fn html_export<'a>(out: Box<dyn Write + 'a>) -> Box<dyn Reporter + 'a> {
    Box::new(html::Html::new(out))
}

/// `--export-markdown FILE`: a GitHub-flavoured table of the loops and the checks, at the end.
pub fn markdown_export<'a>(out: Box<dyn Write + 'a>) -> Box<dyn Reporter + 'a> {
    Box::new(markdown::Markdown::new(out))
}

/// The checks and the baseline comparison as serialized (JSON top-level `checks` and
/// `baseline`, NDJSON's last line).
pub fn verdict_json(verdict: &Verdict) -> (Option<serde_json::Value>, Option<serde_json::Value>) {
    use crate::check::Unit;
    let checks = (!verdict.checks.is_empty()).then(|| {
        serde_json::Value::Array(
            verdict
                .checks
                .iter()
                .map(|c| {
                    let (value, unit, uncertainty) = match c.measured {
                        Some(m) => {
                            let (v, unit) = match m.unit {
                                Unit::Time => (stats::round_ms(m.value * 1000.0), "ms"),
                                Unit::Count => (m.value, "pages"),
                                Unit::Percent => ((m.value * 1e3).round() / 1e3, "%"),
                                Unit::Ratio => ((m.value * 1e3).round() / 1e3, "x"),
                            };
                            let u = m.uncertainty.map(|u| (u * 1e3).round() / 1e3);
                            (Some(v), Some(unit), u)
                        }
                        None => (None, None, None),
                    };
                    serde_json::json!({
                        "expr": c.expr,
                        "label": c.label,
                        "value": value,
                        "unit": unit,
                        "uncertainty": uncertainty,
                        "pass": c.pass,
                        "note": c.note,
                    })
                })
                .collect(),
        )
    });
    let change = |c: &crate::verdict::Change| {
        let r3 = |v: f64| (v * 1e3).round() / 1e3;
        serde_json::json!({
            "now_ms": stats::round_ms(c.now * 1e3),
            "before_ms": stats::round_ms(c.before * 1e3),
            "change_pct": r3(c.change_pct),
            "uncertainty_pct": c.uncertainty_pct.map(r3),
        })
    };
    let baseline = verdict.baseline.as_ref().map(|(file, loops)| {
        let loops: Vec<serde_json::Value> = loops
            .iter()
            .map(|c| {
                serde_json::json!({
                    "mode": c.mode,
                    "wall": change(&c.wall),
                    "p95": c.p95.as_ref().map(change),
                })
            })
            .collect();
        serde_json::json!({ "file": file, "loops": loops })
    });
    (checks, baseline)
}

/// Pages kept by the reporters that write at the end (table, JSON), grouped by loop in run order.
#[derive(Default)]
pub struct Kept(Vec<(Strategy, Vec<PageResult>)>);

impl Kept {
    fn keep(&mut self, mode: Strategy, page: PageResult) {
        match self.0.last_mut() {
            Some((m, pages)) if *m == mode => pages.push(page),
            _ => self.0.push((mode, vec![page])),
        }
    }
}

impl std::ops::Deref for Kept {
    type Target = [(Strategy, Vec<PageResult>)];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// `{"joinset": 5.1, ...}`: speedups keyed by mode name in run order (null where there is none).
pub fn speedup_map(s: &Speedup) -> serde_json::Map<String, serde_json::Value> {
    s.factors
        .iter()
        .map(|(m, f)| {
            let f = f.as_ref().ok().map(|f| (f * 1e3).round() / 1e3);
            (m.name().to_string(), serde_json::json!(f))
        })
        .collect()
}

/// `{"joinset": 0.06}`: the spread of each speedup over repeated rounds (null when not repeated).
pub fn speedup_stddev(s: &Speedup) -> serde_json::Map<String, serde_json::Value> {
    s.factors
        .iter()
        .zip(&s.spread)
        .map(|((m, _), sd)| {
            let sd = sd.map(|v| (v * 1e3).round() / 1e3);
            (m.name().to_string(), serde_json::json!(sd))
        })
        .collect()
}

/// `{"joinset": "sequential had 2 failed pages"}`: why a speedup is null, for each that is.
pub fn speedup_unavailable(s: &Speedup) -> serde_json::Map<String, serde_json::Value> {
    s.factors
        .iter()
        .filter_map(|(m, f)| Some((m.name().to_string(), f.as_ref().err()?.clone().into())))
        .collect()
}

/// `{"joinset": "pages answered 4xx/5xx: sequential 404 ×1"}`: for each factor between runs where
/// a page answered 4xx or 5xx, that it times those pages too (the factor is still given).
pub fn speedup_note(s: &Speedup) -> serde_json::Map<String, serde_json::Value> {
    s.factors
        .iter()
        .zip(&s.notes)
        .filter_map(|((m, _), note)| Some((m.name().to_string(), note.clone()?.into())))
        .collect()
}

#[cfg(test)]
pub(crate) mod testdata;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::testdata::{ok_pages, pages, summary};
    use super::*;

    #[test]
    fn speedups_follow_the_modes_order_over_the_first_loop() {
        let ps = ok_pages();
        let runs = [
            summary(Strategy::Joinset, &ps, 500),
            summary(Strategy::Sequential, &ps, 1000),
            summary(Strategy::JoinAll, &ps, 250),
        ];
        let s = Speedup::compute(&runs);
        assert_eq!(s.baseline, Some(Strategy::Joinset));
        let keys: Vec<String> = speedup_map(&s).keys().cloned().collect();
        assert_eq!(keys, ["sequential", "join-all"]);
        assert_eq!(speedup_map(&s)["sequential"], 0.5);
        assert_eq!(speedup_map(&s)["join-all"], 2.0);
    }

    #[test]
    fn no_speedup_from_an_interrupted_or_failing_run() {
        let ok = ok_pages();
        let base = summary(Strategy::Sequential, &ok, 1000);
        let mut stopped = summary(Strategy::Joinset, &ok, 30);
        stopped.interrupted = true;
        let failing = summary(Strategy::Joinset, &pages(), 1100);
        let mut failed_earlier = summary(Strategy::JoinAll, &ok, 100);
        failed_earlier.repeat = Some(Repeat {
            runs: 3,
            min: Duration::from_millis(90),
            median: Duration::from_millis(100),
            max: Duration::from_millis(110),
            mean: Duration::from_millis(100),
            stddev: Duration::from_millis(10),
            walls: vec![Duration::from_millis(100); 3],
            p95s: vec![Duration::from_millis(5); 3],
            failed_pages: 2,
        });
        for (run, why) in [
            (stopped, "joinset was interrupted"),
            (failing, "joinset had 1 failed page"),
            (failed_earlier, "join-all had 2 failed pages"),
        ] {
            let s = Speedup::compute(&[base.clone(), run]);
            assert_eq!(s.factors[0].1, Err(why.to_string()));
            assert!(speedup_map(&s).values().all(serde_json::Value::is_null));
            assert_eq!(speedup_unavailable(&s).values().next().unwrap(), why);
        }
        // A failing baseline voids every factor.
        let s = Speedup::compute(&[
            summary(Strategy::Sequential, &pages(), 900),
            summary(Strategy::Joinset, &ok, 100),
        ]);
        assert_eq!(s.factors[0].1, Err("sequential had 1 failed page".into()));
    }

    #[test]
    fn percentiles_skip_pages_without_a_response() {
        // pear was refused (2 ms): it must not be the median.
        let s = summary(Strategy::Joinset, &pages(), 400);
        assert_eq!(s.page_times.count(), 2);
        assert_eq!(s.page_time(50.0), Some(Duration::from_millis(150)));
        let record = SummaryRecord::new(&summary(Strategy::Joinset, &pages()[1..2], 5));
        assert_eq!(record.page_ms.p50, None);
        assert_eq!(record.page_ms.max, None);
    }
}
