//! Reporters: records arrive in input order (never sorted here), one file per format.
//!
//! Unlike a `write(&Report)` per format, a reporter is fed page by page so NDJSON and CSV can
//! stream; table and JSON keep the pages and write once at the end.

mod csv;
mod json;
mod ndjson;
mod table;

use std::borrow::Cow;
use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use crate::cli::{Format, Strategy};
use crate::fetch::PageResult;
use crate::stats::{self, ms};

/// Version of the JSON / NDJSON / CSV layout; bumped when a field changes meaning or goes away.
pub const SCHEMA: u32 = 1;

/// Wall-time statistics over `--repeat` runs.
#[derive(Debug, Clone)]
pub struct Repeat {
    pub runs: usize,
    pub min: Duration,
    pub median: Duration,
    pub max: Duration,
    /// Failed pages over all runs (the reported pages are only the last run's).
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
    /// Page times (request start to last byte) in whole microseconds, sorted ascending.
    pub page_times_us: Vec<u32>,
    pub repeat: Option<Repeat>,
    /// The run was stopped by a signal; unfinished pages are marked cancelled.
    pub interrupted: bool,
}

impl RunSummary {
    /// Nearest-rank percentile `p` (0..=100) of the page times.
    pub fn page_time(&self, p: f64) -> Option<Duration> {
        stats::percentile(&self.page_times_us, p).map(|us| Duration::from_micros(us.into()))
    }

    /// The wall time speedups are computed from: the median over repeats, else the one run.
    pub fn typical_wall(&self) -> Duration {
        self.repeat.as_ref().map_or(self.wall, |r| r.median)
    }
}

/// Speedup of each loop over a baseline loop (sequential when it ran).
#[derive(Debug, Clone, Default)]
pub struct Speedup {
    pub baseline: Option<Strategy>,
    /// `(mode, factor)`; factor is `None` when the mode's wall time was zero.
    pub factors: Vec<(Strategy, Option<f64>)>,
}

impl Speedup {
    /// Baseline is sequential if it ran, else the first loop.
    pub fn compute(runs: &[RunSummary]) -> Speedup {
        let Some(base) = runs
            .iter()
            .find(|r| r.mode == Strategy::Sequential)
            .or(runs.first())
        else {
            return Speedup::default();
        };
        let factors = runs
            .iter()
            .filter(|r| r.mode != base.mode)
            .map(|r| {
                (
                    r.mode,
                    stats::speedup(base.typical_wall(), r.typical_wall()),
                )
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
        Format::Table => Box::new(table::Table::new(layout, out, err)),
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

/// One page as serialized in JSON, NDJSON and (flattened) CSV.
#[derive(Serialize)]
pub struct PageRecord<'a> {
    /// Loop that fetched it.
    pub mode: &'static str,
    /// 0-based input position.
    pub index: usize,
    /// Term or URL as given (password masked).
    pub input: &'a str,
    /// URL requested (password masked); null when the input was unusable.
    pub url: Option<Cow<'a, str>>,
    /// HTTP status, null when no response arrived.
    pub status: Option<u16>,
    /// Body bytes read.
    pub bytes: u64,
    /// Request start to last body byte, in milliseconds.
    pub elapsed_ms: f64,
    /// Reading stopped at `--max-bytes`.
    pub truncated: bool,
    /// One-line reason the page failed, or null.
    pub error: Option<String>,
    /// Stable kind of the error: input, connect, timeout, status, body, redirect, cancelled, request.
    pub error_kind: Option<&'static str>,
    /// Where redirects ended, when not `url`.
    pub final_url: Option<&'a str>,
}

impl<'a> PageRecord<'a> {
    pub fn new(mode: Strategy, p: &'a PageResult) -> Self {
        PageRecord {
            mode: mode.name(),
            index: p.job.index,
            input: &p.job.input,
            url: p.job.url.as_ref().ok().map(|u| match u.password() {
                None => Cow::Borrowed(u.as_str()),
                Some(_) => Cow::Owned(crate::template::mask(u)),
            }),
            status: p.status,
            bytes: p.bytes,
            elapsed_ms: ms(p.elapsed),
            truncated: p.truncated,
            error: p.error.as_ref().map(ToString::to_string),
            error_kind: p.error.as_ref().map(|e| e.kind()),
            final_url: p.final_url.as_deref(),
        }
    }
}

/// Page-time percentiles in milliseconds.
#[derive(Serialize)]
pub struct PageTimes {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub max: Option<f64>,
}

/// Repeat statistics in milliseconds.
#[derive(Serialize)]
pub struct RepeatRecord {
    pub runs: usize,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
    pub failed_pages: usize,
}

/// One loop's totals as serialized (JSON run object, NDJSON summary line).
#[derive(Serialize)]
pub struct SummaryRecord {
    pub schema: u32,
    pub version: &'static str,
    pub mode: &'static str,
    pub concurrency: usize,
    /// Pages in the run (ok + failed).
    pub total: usize,
    pub ok: usize,
    pub failed: usize,
    /// Body bytes over all pages.
    pub bytes: u64,
    pub wall_ms: f64,
    pub page_ms: PageTimes,
    pub repeat: Option<RepeatRecord>,
    pub interrupted: bool,
}

impl SummaryRecord {
    pub fn new(s: &RunSummary) -> Self {
        let pct = |p| s.page_time(p).map(ms);
        SummaryRecord {
            schema: SCHEMA,
            version: env!("CARGO_PKG_VERSION"),
            mode: s.mode.name(),
            concurrency: s.concurrency,
            total: s.pages,
            ok: s.ok,
            failed: s.failed,
            bytes: s.bytes,
            wall_ms: ms(s.wall),
            page_ms: PageTimes {
                p50: pct(50.0),
                p90: pct(90.0),
                max: pct(100.0),
            },
            repeat: s.repeat.as_ref().map(|r| RepeatRecord {
                runs: r.runs,
                min_ms: ms(r.min),
                median_ms: ms(r.median),
                max_ms: ms(r.max),
                failed_pages: r.failed_pages,
            }),
            interrupted: s.interrupted,
        }
    }
}

/// `{"joinset": 5.1, ...}`: speedups keyed by mode name (null where undefined).
pub fn speedup_map(s: &Speedup) -> serde_json::Map<String, serde_json::Value> {
    s.factors
        .iter()
        .map(|(m, f)| {
            (
                m.name().to_string(),
                serde_json::json!(f.map(|f| (f * 1e3).round() / 1e3)),
            )
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testdata;
