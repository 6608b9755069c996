//! Reporters: records arrive in input order (never sorted here), one file per format.
//!
//! Unlike a `write(&Report)` per format, a reporter is fed page by page so NDJSON and CSV can
//! stream; table and JSON keep the pages and write once at the end.

mod csv;
mod json;
mod ndjson;
mod record;
mod table;

pub use record::{PageMs, PageRecord, RepeatRecord, SummaryRecord};

use std::io::{self, Write};
use std::time::Duration;

use crate::cli::{Format, Strategy};
use crate::page::{HttpVersion, PageResult};
use crate::stats;
use crate::times::PageTimes;

/// Version of the JSON / NDJSON / CSV layout; bumped when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// Wall-time statistics over the completed `--repeat` rounds of one loop.
#[derive(Debug, Clone)]
pub struct Repeat {
    /// Rounds that ran to their end (an interrupted round does not count).
    pub runs: usize,
    pub min: Duration,
    pub median: Duration,
    pub max: Duration,
    /// Failed pages over every round, the interrupted one included (rows show only the last).
    pub failed_pages: usize,
}

/// Totals of one loop's (last) run.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub mode: Strategy,
    /// Requests allowed in flight (1 for sequential).
    pub concurrency: usize,
    pub pages: usize,
    pub ok: usize,
    pub failed: usize,
    pub bytes: u64,
    /// Wall time of the last run.
    pub wall: Duration,
    /// Times of the pages that received a response (request start to last byte). A refused or
    /// cancelled page has no time worth a percentile.
    pub page_times: PageTimes,
    pub repeat: Option<Repeat>,
    /// The run was stopped by a signal; unfinished pages are marked cancelled.
    pub interrupted: bool,
    /// Connections the run opened.
    pub connections: usize,
    /// HTTP versions the responses came in, oldest first.
    pub http: Vec<HttpVersion>,
    /// Input items read (before --shard and --resume chose among them).
    pub inputs: usize,
    /// Attempts beyond the first, over all pages (`--retry`).
    pub retries: usize,
}

impl RunSummary {
    /// Nearest-rank percentile `p` (0..=100) of the page times; `None` when no page answered.
    pub fn page_time(&self, p: f64) -> Option<Duration> {
        self.page_times.percentile(p)
    }

    /// The wall time speedups are computed from: the median over repeats, else the one run.
    pub fn typical_wall(&self) -> Duration {
        self.repeat.as_ref().map_or(self.wall, |r| r.median)
    }

    /// Why this run's wall time cannot be compared, if it cannot: it stopped early, or a page
    /// failed in some round (a refused page is fast, so a failing run looks faster than it is).
    pub fn not_comparable(&self) -> Option<String> {
        let failed = self.repeat.as_ref().map_or(self.failed, |r| r.failed_pages);
        if self.interrupted {
            Some(format!("{} was interrupted", self.mode.name()))
        } else if failed > 0 {
            Some(format!(
                "{} had {}",
                self.mode.name(),
                plural(failed, "failed page")
            ))
        } else {
            None
        }
    }
}

/// `1 page`, `2 pages`.
pub fn plural(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

/// Speedup of each loop over the baseline: the first loop run (the first of `--modes`).
#[derive(Debug, Clone, Default)]
pub struct Speedup {
    pub baseline: Option<Strategy>,
    /// `(mode, factor)`, in run order; `Err` says why there is no factor.
    pub factors: Vec<(Strategy, Result<f64, String>)>,
}

impl Speedup {
    /// A factor only between runs that completed with every page ok.
    pub fn compute(runs: &[RunSummary]) -> Speedup {
        let Some(base) = runs.first() else {
            return Speedup::default();
        };
        let factors = runs[1..]
            .iter()
            .map(|r| {
                let factor = match base.not_comparable().or_else(|| r.not_comparable()) {
                    Some(why) => Err(why),
                    None => stats::speedup(base.typical_wall(), r.typical_wall())
                        .ok_or_else(|| format!("{} took no measurable time", r.mode.name())),
                };
                (r.mode, factor)
            })
            .collect();
        Speedup {
            baseline: Some(base.mode),
            factors,
        }
    }
}

/// Receives the run as it happens: pages in input order, then each loop's summary, then the end.
pub trait Reporter {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()>;
    fn run_done(&mut self, summary: &RunSummary) -> io::Result<()>;
    fn finish(&mut self, runs: &[RunSummary], speedup: &Speedup) -> io::Result<()>;
    /// Writes out what is buffered. Called about every 100 ms while a run goes on, so a record
    /// that can be written is never held back behind a slow page.
    fn flush(&mut self) -> io::Result<()>;
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
) -> Box<dyn Reporter + 'a> {
    match format {
        Format::Table => Box::new(table::Table::new(
            layout,
            out,
            err,
            crate::term::stdout_columns(),
        )),
        Format::Json => Box::new(json::Json::new(layout, out)),
        Format::Ndjson => Box::new(ndjson::Ndjson::new(layout, out)),
        Format::Csv => Box::new(csv::Csv::new(out, err)),
    }
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

/// `{"joinset": "sequential had 2 failed pages"}`: why a speedup is null, for each that is.
pub fn speedup_unavailable(s: &Speedup) -> serde_json::Map<String, serde_json::Value> {
    s.factors
        .iter()
        .filter_map(|(m, f)| Some((m.name().to_string(), f.as_ref().err()?.clone().into())))
        .collect()
}

#[cfg(test)]
pub(crate) mod testdata;

#[cfg(test)]
mod tests {
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
