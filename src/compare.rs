//! Runs one or more loops over the same jobs (`fetch` is the one-loop case), `--repeat` times, and
//! hands the last run of each loop to the reporter. Ctrl-C / SIGTERM stop the current run: finished
//! pages are still reported in order and the rest are marked cancelled.

use std::time::{Duration, Instant};

use crate::cli::Strategy;
use crate::exit::{Outcome, Signals};
use crate::fetch::{self, Fetcher, PageResult, Settings};
use crate::order::InOrder;
use crate::progress;
use crate::report::{Repeat, Reporter, RunSummary, Speedup};
use crate::stats;
use crate::template::Jobs;

/// Everything a run needs, as plain values (no clap types below this point).
pub struct Plan {
    pub jobs: Jobs,
    pub settings: Settings,
    pub concurrency: usize,
    pub repeat: usize,
    pub progress: bool,
}

/// Per-run totals gathered as pages go by, so nothing but the reporter needs to keep pages.
#[derive(Default)]
struct Tally {
    ok: usize,
    failed: usize,
    bytes: u64,
    /// Page times in whole microseconds: 4 bytes a page (1,000,000 pages: 4 MB), exact enough for
    /// percentiles.
    page_times_us: Vec<u32>,
}

impl Tally {
    fn add(&mut self, page: &PageResult) {
        if page.ok() {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
        self.bytes += page.bytes;
        let us = u32::try_from(page.elapsed.as_micros()).unwrap_or(u32::MAX);
        self.page_times_us.push(us);
    }
}

/// Runs `modes` in order, `plan.repeat` rounds; returns the outcome for the exit code.
pub async fn run_modes(
    plan: &Plan,
    modes: &[Strategy],
    reporter: &mut dyn Reporter,
) -> anyhow::Result<Outcome> {
    let mut signals = Signals::new()?;
    let mut walls: Vec<Vec<Duration>> = vec![Vec::new(); modes.len()];
    let mut failed_pages = vec![0usize; modes.len()];
    let mut finals: Vec<RunSummary> = Vec::new();
    let mut interrupted = None;
    'rounds: for round in 0..plan.repeat {
        let last = round + 1 == plan.repeat;
        for (m, &mode) in modes.iter().enumerate() {
            let concurrency = if mode == Strategy::Sequential {
                1
            } else {
                plan.concurrency
            };
            // A fresh client per run: no loop inherits warm connections from the one before it.
            let fetcher = Fetcher::new(&plan.settings, concurrency)?;
            let label = match plan.repeat {
                1 => mode.name().to_string(),
                n => format!("{} {}/{n}", mode.name(), round + 1),
            };
            let bar = progress::bar(plan.progress, plan.jobs.len(), label);
            let mut tally = Tally::default();
            let mut sink = |page: PageResult| {
                tally.add(&page);
                if last {
                    reporter.page(mode, page)
                } else {
                    Ok(())
                }
            };
            let start = Instant::now();
            let mut order = InOrder::new(&mut sink, bar.clone());
            let signal = {
                let work = fetch::fetch_all(mode, &fetcher, &plan.jobs, concurrency, &mut order);
                tokio::select! {
                    done = work => { done?; None }
                    code = signals.recv() => Some(code),
                }
            };
            if signal.is_some() {
                order.finish_cancelled(&plan.jobs)?;
            }
            drop(order);
            let wall = start.elapsed();
            bar.finish_and_clear();
            walls[m].push(wall);
            failed_pages[m] += tally.failed;
            if last || signal.is_some() {
                let summary = summarize(
                    mode,
                    concurrency,
                    tally,
                    wall,
                    &walls[m],
                    failed_pages[m],
                    signal.is_some(),
                );
                reporter.run_done(&summary)?;
                finals.push(summary);
            }
            if signal.is_some() {
                interrupted = signal;
                break 'rounds;
            }
        }
    }
    reporter.finish(&finals, &Speedup::compute(&finals))?;
    Ok(match interrupted {
        Some(code) => Outcome::Interrupted(code),
        None if failed_pages.iter().any(|&f| f > 0) => Outcome::PagesFailed,
        None => Outcome::AllOk,
    })
}

fn summarize(
    mode: Strategy,
    concurrency: usize,
    tally: Tally,
    wall: Duration,
    walls: &[Duration],
    failed_pages: usize,
    interrupted: bool,
) -> RunSummary {
    let mut page_times_us = tally.page_times_us;
    page_times_us.sort_unstable();
    let repeat = (walls.len() > 1).then(|| Repeat {
        runs: walls.len(),
        min: walls.iter().copied().min().unwrap_or_default(),
        median: stats::median(walls).unwrap_or_default(),
        max: walls.iter().copied().max().unwrap_or_default(),
        failed_pages,
    });
    RunSummary {
        mode,
        concurrency,
        pages: tally.ok + tally.failed,
        ok: tally.ok,
        failed: tally.failed,
        bytes: tally.bytes,
        wall,
        page_times_us,
        repeat,
        interrupted,
    }
}
