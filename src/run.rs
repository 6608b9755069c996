//! What a run of one loop came to ([`RunSummary`], with [`Repeat`] over `--repeat` rounds) and the
//! speedup between loops ([`Speedup`]): computed by `compare.rs`, judged by `verdict.rs`, written by
//! the reporters. Below all of them, above the page record.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::page::{HttpVersion, Strategy};
use crate::stats;
use crate::term::plural;
use crate::times::PageTimes;

/// Wall-time statistics over the completed `--repeat` rounds of one loop.
#[derive(Debug, Clone)]
pub struct Repeat {
    /// Rounds that ran to their end (an interrupted round does not count).
    pub runs: usize,
    pub min: Duration,
    pub median: Duration,
    pub max: Duration,
    /// Mean and sample standard deviation of the completed rounds' walls.
    pub mean: Duration,
    pub stddev: Duration,
    /// Each completed round's wall, in order.
    pub walls: Vec<Duration>,
    /// Each completed round's page-time p95 (for comparing with a baseline).
    pub p95s: Vec<Duration>,
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
    /// Pages stopped by Ctrl-C / SIGTERM (counted in `pages`, neither ok nor failed).
    pub cancelled: usize,
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
    /// Pages by the HTTP status they answered with (pages without a response are not counted).
    pub statuses: BTreeMap<u16, usize>,
    /// Inputs without a scheme that look like host names, sent to the default search template
    /// (0 with a template of the user's).
    pub inputs_like_hosts: usize,
}

impl RunSummary {
    /// Pages over the wall time, per second; `None` when the run took no measurable time.
    pub fn pages_per_s(&self) -> Option<f64> {
        let secs = self.wall.as_secs_f64();
        (secs > 0.0).then(|| self.pages as f64 / secs)
    }

    /// `200 ×4, 404 ×1`: the status breakdown, in status order (`none` when no page answered).
    pub fn statuses_text(&self) -> String {
        statuses_text(self.statuses.iter())
    }

    /// The pages that answered 4xx or 5xx, as `404 ×1, 500 ×1`, if any did.
    pub fn error_statuses(&self) -> Option<String> {
        let errors = self.statuses.iter().filter(|(s, _)| **s >= 400);
        let text = statuses_text(errors);
        (text != "none").then_some(text)
    }

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

/// `200 ×4, 404 ×1`, or `none`.
fn statuses_text<'a>(statuses: impl Iterator<Item = (&'a u16, &'a usize)>) -> String {
    let parts: Vec<String> = statuses.map(|(s, n)| format!("{s} ×{n}")).collect();
    match parts.is_empty() {
        true => "none".to_string(),
        false => parts.join(", "),
    }
}

/// Speedup of each loop over the baseline: the first loop run (the first of `--modes`).
#[derive(Debug, Clone, Default)]
pub struct Speedup {
    pub baseline: Option<Strategy>,
    /// `(mode, factor)`, in run order; `Err` says why there is no factor.
    pub factors: Vec<(Strategy, Result<f64, String>)>,
    /// For each factor, the sample standard deviation of the per-round speedups, when both loops
    /// were repeated.
    pub spread: Vec<Option<f64>>,
    /// For each factor, a note when either run had pages answering 4xx/5xx: the factor is still
    /// given (those pages were fetched), but it times error pages, not the pages asked for.
    pub notes: Vec<Option<String>>,
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
        let spread = runs[1..]
            .iter()
            .map(|r| {
                let (a, b) = (base.repeat.as_ref()?, r.repeat.as_ref()?);
                let ratios: Vec<f64> = a
                    .walls
                    .iter()
                    .zip(&b.walls)
                    .filter(|(_, w)| !w.is_zero())
                    .map(|(x, w)| x.as_secs_f64() / w.as_secs_f64())
                    .collect();
                (ratios.len() > 1).then(|| stats::mean_stddev(&ratios).unwrap_or_default().1)
            })
            .collect();
        let notes = runs[1..]
            .iter()
            .map(|r| {
                let said: Vec<String> = [base, r]
                    .iter()
                    .filter_map(|x| Some(format!("{} {}", x.mode.name(), x.error_statuses()?)))
                    .collect();
                (!said.is_empty()).then(|| format!("pages answered 4xx/5xx: {}", said.join("; ")))
            })
            .collect();
        Speedup {
            baseline: Some(base.mode),
            factors,
            spread,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::{ok_pages, pages, summary};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// The factors, rounded to 1e-9 (a ratio of seconds is not exact in binary).
    fn factors(s: &Speedup) -> Vec<(Strategy, Result<f64, String>)> {
        s.factors
            .iter()
            .map(|(m, f)| (*m, f.clone().map(|f| (f * 1e9).round() / 1e9)))
            .collect()
    }

    /// `run` with its rounds' walls, the statistics computed from them.
    fn rounds(mut run: RunSummary, walls_ms: &[u64]) -> RunSummary {
        let walls: Vec<Duration> = walls_ms.iter().map(|&w| ms(w)).collect();
        let secs: Vec<f64> = walls.iter().map(Duration::as_secs_f64).collect();
        let (mean, sd) = stats::mean_stddev(&secs).unwrap();
        run.repeat = Some(Repeat {
            runs: walls.len(),
            min: *walls.iter().min().unwrap(),
            median: stats::median(&walls).unwrap(),
            max: *walls.iter().max().unwrap(),
            mean: Duration::from_secs_f64(mean),
            stddev: Duration::from_secs_f64(sd),
            walls,
            p95s: Vec::new(),
            failed_pages: 0,
        });
        run
    }

    #[test]
    fn a_speedup_is_the_baseline_loops_wall_over_each_other_loops() {
        let runs = [
            summary(Strategy::Sequential, &ok_pages(), 600),
            summary(Strategy::Joinset, &ok_pages(), 100),
            summary(Strategy::JoinAll, &ok_pages(), 1200),
        ];
        let s = Speedup::compute(&runs);
        assert_eq!(s.baseline, Some(Strategy::Sequential));
        // A loop slower than the baseline has a speedup below 1: reported, not hidden.
        assert_eq!(
            factors(&s),
            [(Strategy::Joinset, Ok(6.0)), (Strategy::JoinAll, Ok(0.5))]
        );
        assert_eq!(s.spread, [None, None], "no rounds, no spread");
    }

    #[test]
    fn repeated_loops_give_the_median_speedup_and_the_spread_of_the_rounds() {
        let base = rounds(
            summary(Strategy::Sequential, &ok_pages(), 0),
            &[600, 800, 700],
        );
        let fast = rounds(summary(Strategy::Joinset, &ok_pages(), 0), &[100, 200, 100]);
        let s = Speedup::compute(&[base.clone(), fast]);
        // Medians 700 and 100.
        assert_eq!(factors(&s), [(Strategy::Joinset, Ok(7.0))]);
        // Per-round ratios 6, 4, 7: sample standard deviation sqrt(7/3).
        let sd = s.spread[0].unwrap();
        assert!((sd - (7.0f64 / 3.0).sqrt()).abs() < 1e-9, "{sd}");
        // One round each: a factor but no spread.
        let one = rounds(summary(Strategy::Joinset, &ok_pages(), 0), &[350]);
        let s = Speedup::compute(&[rounds(base, &[700]), one]);
        assert_eq!(factors(&s), [(Strategy::Joinset, Ok(2.0))]);
        assert_eq!(s.spread, [None]);
    }

    #[test]
    fn no_speedup_from_a_run_that_failed_was_cut_short_or_took_no_time() {
        let ok = |mode, wall| summary(mode, &ok_pages(), wall);
        let failed = summary(Strategy::Sequential, &pages(), 600);
        let s = Speedup::compute(&[failed, ok(Strategy::Joinset, 100)]);
        assert_eq!(
            s.factors[0].1,
            Err("sequential had 1 failed page".to_string())
        );
        let mut cut = ok(Strategy::Joinset, 100);
        cut.interrupted = true;
        let s = Speedup::compute(&[ok(Strategy::Sequential, 600), cut]);
        assert_eq!(s.factors[0].1, Err("joinset was interrupted".to_string()));
        let s = Speedup::compute(&[ok(Strategy::Sequential, 600), ok(Strategy::Joinset, 0)]);
        assert_eq!(
            s.factors[0].1,
            Err("joinset took no measurable time".to_string())
        );
        assert!(Speedup::compute(&[]).factors.is_empty());
    }
}
