//! Runs one or more loops over the same jobs (`fetch` is the one-loop case), `--repeat` times, and
//! hands the last run of each loop to the reporter. Ctrl-C / SIGTERM stop the current run: finished
//! pages are still reported in order, the rest are marked cancelled, and every loop that completed
//! a round still gets its summary.

use std::cell::RefCell;
use std::time::Duration;

use crate::check::Check;
use crate::exit::{Outcome, Signals};
use crate::fetch::{self, Fetcher, Settings};
use crate::input::stream::Stream;
use crate::order::InOrder;
use crate::order::Order;
use crate::output;
use crate::page::{HttpVersion, PageError, PageResult, Strategy};
use crate::progress;
use crate::report::Reporter;
use crate::run::{Repeat, RunSummary, Speedup};
use crate::source::{Select, Source};
use crate::stats;
use crate::template::{Jobs, Template};
use crate::times::PageTimes;
use crate::verdict::{self, Baseline, Verdict};

/// How often buffered records are written out while a run goes on.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Everything a run needs, as plain values (no clap types below this point).
pub struct Plan {
    pub input: Input,
    pub settings: Settings,
    pub concurrency: usize,
    pub repeat: usize,
    pub progress: bool,
    pub order: Order,
    pub select: Select,
    /// Unmeasured runs of each loop before the measured ones.
    pub warmup: usize,
    pub judge: Judge,
    /// Inputs that look like host names, sent to the default search template (counted only with
    /// that template; the summaries say how many).
    pub hosts: std::sync::Arc<crate::input::HostLike>,
}

/// What is judged after the run.
pub struct Judge {
    pub checks: Vec<Check>,
    pub baseline: Option<Baseline>,
    pub fail_inconclusive: bool,
    /// Print the note that the run was interrupted on stderr (false with `-q`: the exit code
    /// 130/143 still says it). Each check's line is printed whatever this says: a check is a
    /// result, and a failed one must be visible in a CI log even with `-q`.
    pub say: bool,
}

impl Default for Judge {
    /// Nothing to judge; the notes are printed (the runs that build a `Judge` for `-q` say so).
    fn default() -> Self {
        Judge {
            checks: Vec::new(),
            baseline: None,
            fail_inconclusive: false,
            say: true,
        }
    }
}

/// The inputs: a list every run reads from the start (`compare`, `--repeat`), or a stream read
/// once, as it arrives (`fetch`).
pub enum Input {
    List(Jobs),
    Stream {
        stream: std::sync::Mutex<Option<Stream>>,
        template: Template,
    },
}

impl Input {
    fn source(&self, select: &Select) -> Source<'_> {
        match self {
            Input::List(jobs) => Source::list(jobs, select.clone()),
            Input::Stream { stream, template } => {
                let stream = stream.lock().unwrap_or_else(|e| e.into_inner()).take();
                Source::stream(
                    stream.expect("a stream is read by one run"),
                    template,
                    select.clone(),
                )
            }
        }
    }
}

/// Per-run totals gathered as pages go by, so nothing but the reporter needs to keep pages.
#[derive(Default)]
struct Tally {
    ok: usize,
    failed: usize,
    /// Pages stopped by Ctrl-C / SIGTERM: neither ok nor failed.
    cancelled: usize,
    bytes: u64,
    /// Times of the pages that got a response, in rounded microseconds.
    page_times: PageTimes,
    /// HTTP versions seen.
    http: Vec<HttpVersion>,
    /// Attempts beyond the first, over all pages.
    retries: usize,
    /// Pages by the status they answered with.
    statuses: std::collections::BTreeMap<u16, usize>,
}

impl Tally {
    fn add(&mut self, page: &PageResult) {
        if page.ok() {
            self.ok += 1;
        } else if matches!(page.error, Some(PageError::Cancelled)) {
            self.cancelled += 1;
        } else {
            self.failed += 1;
        }
        self.bytes += page.bytes;
        if let Some(status) = page.status {
            *self.statuses.entry(status).or_insert(0) += 1;
        }
        if page.status.is_some() {
            let us = u32::try_from(stats::micros(page.elapsed)).unwrap_or(u32::MAX);
            self.page_times.add(us);
        }
        self.retries += page.attempts.saturating_sub(1) as usize;
        if let Some(v) = page.transport.http {
            if !self.http.contains(&v) {
                self.http.push(v);
            }
        }
    }
}

/// One run of one loop, as it ended.
struct Run {
    tally: Tally,
    wall: Duration,
    /// Connections it opened.
    connections: usize,
    /// Input items read.
    inputs: usize,
    /// The exit code of the signal that stopped it.
    signal: Option<i32>,
    /// The input could not be read to its end (the run did the pages read before).
    input_failed: Option<String>,
    /// Inputs read so far that look like host names (default template only).
    inputs_like_hosts: usize,
}

/// What one loop has done over the rounds so far.
struct History {
    mode: Strategy,
    concurrency: usize,
    /// Wall times of the completed runs.
    walls: Vec<Duration>,
    /// Page-time p95 of each completed run.
    p95s: Vec<Duration>,
    /// Failed pages over every run, the interrupted one included.
    failed_pages: usize,
    /// The summary of its latest run, and whether the reporter has seen it.
    latest: Option<(RunSummary, bool)>,
}

impl History {
    fn record(&mut self, run: Run, repeat: usize) -> &RunSummary {
        let mut page_times = run.tally.page_times;
        page_times.finish();
        if run.signal.is_none() {
            self.walls.push(run.wall);
            self.p95s
                .push(page_times.percentile(95.0).unwrap_or_default());
        }
        self.failed_pages += run.tally.failed;
        let repeat = (repeat > 1 && !self.walls.is_empty()).then(|| {
            let secs: Vec<f64> = self.walls.iter().map(Duration::as_secs_f64).collect();
            let (mean, stddev) = stats::mean_stddev(&secs).unwrap_or_default();
            Repeat {
                runs: self.walls.len(),
                min: self.walls.iter().copied().min().unwrap_or_default(),
                median: stats::median(&self.walls).unwrap_or_default(),
                max: self.walls.iter().copied().max().unwrap_or_default(),
                mean: Duration::from_secs_f64(mean),
                stddev: Duration::from_secs_f64(stddev),
                walls: self.walls.clone(),
                p95s: self.p95s.clone(),
                failed_pages: self.failed_pages,
            }
        });
        let retries = run.tally.retries;
        let mut http = run.tally.http;
        http.sort_by_key(|v| v.name());
        let summary = RunSummary {
            mode: self.mode,
            concurrency: self.concurrency,
            pages: run.tally.ok + run.tally.failed + run.tally.cancelled,
            ok: run.tally.ok,
            failed: run.tally.failed,
            cancelled: run.tally.cancelled,
            bytes: run.tally.bytes,
            wall: run.wall,
            page_times,
            repeat,
            interrupted: run.signal.is_some(),
            connections: run.connections,
            http,
            inputs: run.inputs,
            retries,
            statuses: run.tally.statuses,
            inputs_like_hosts: run.inputs_like_hosts,
        };
        &self.latest.insert((summary, false)).0
    }
}

/// Runs `modes` in order, `plan.repeat` rounds; returns the outcome for the exit code.
pub async fn run_modes(
    plan: &Plan,
    modes: &[Strategy],
    reporter: &mut dyn Reporter,
) -> anyhow::Result<Outcome> {
    let mut signals = Signals::new()?;
    let reporter = RefCell::new(reporter);
    let mut loops: Vec<History> = modes
        .iter()
        .map(|&mode| History {
            mode,
            concurrency: match mode {
                Strategy::Sequential => 1,
                _ => plan.concurrency,
            },
            walls: Vec::new(),
            p95s: Vec::new(),
            failed_pages: 0,
            latest: None,
        })
        .collect();
    let mut interrupted = None;
    let mut input_failed = None;
    // Warm-up: each loop runs, nothing is kept (a cold first run does not count).
    'warmup: for w in 0..plan.warmup {
        for history in &loops {
            let label = format!("{} warm-up {}/{}", history.mode.name(), w + 1, plan.warmup);
            let run = run_once(plan, history, label, false, &reporter, &mut signals).await?;
            if run.signal.is_some() {
                interrupted = run.signal;
                break 'warmup;
            }
        }
    }
    let rounds = if interrupted.is_some() {
        0
    } else {
        plan.repeat
    };
    'rounds: for round in 0..rounds {
        let last_round = round + 1 == plan.repeat;
        for history in loops.iter_mut() {
            let label = match plan.repeat {
                1 => history.mode.name().to_string(),
                n => format!("{} {}/{n}", history.mode.name(), round + 1),
            };
            let run = run_once(plan, history, label, last_round, &reporter, &mut signals).await?;
            let signal = run.signal;
            input_failed = input_failed.or(run.input_failed.clone());
            history.record(run, plan.repeat);
            if last_round || signal.is_some() {
                if let Some((summary, reported)) = history.latest.as_mut() {
                    reporter.borrow_mut().run_done(summary)?;
                    *reported = true;
                }
            }
            if signal.is_some() {
                interrupted = signal;
                break 'rounds;
            }
        }
    }
    // Interrupted in an early round: the loops that completed rounds still get their summaries.
    let mut finals = Vec::new();
    for (summary, reported) in loops.iter_mut().filter_map(|h| h.latest.as_mut()) {
        if !*reported {
            reporter.borrow_mut().run_done(summary)?;
        }
        finals.push(summary.clone());
    }
    let speedup = Speedup::compute(&finals);
    let judge = &plan.judge;
    let verdict = verdict::judge(&judge.checks, &finals, &speedup, judge.baseline.as_ref());
    reporter.borrow_mut().finish(&finals, &speedup, &verdict)?;
    say_checks(&verdict);
    if let Some(why) = input_failed {
        anyhow::bail!("{why} (the pages before it were fetched and reported)");
    }
    // Exit codes, most important first: 2 (an error, above), 130/143, 3, 1, 0.
    Ok(match interrupted {
        Some(code) => {
            if judge.say {
                output::warn(format_args!(
                    "pagefetch: interrupted; unfinished pages are marked cancelled"
                ));
            }
            Outcome::Interrupted(code)
        }
        None if verdict.failed() || (judge.fail_inconclusive && verdict.inconclusive()) => {
            Outcome::ChecksFailed
        }
        None if loops.iter().any(|h| h.failed_pages > 0) => Outcome::PagesFailed,
        None => Outcome::AllOk,
    })
}

/// `check p95<=300ms: 212.4 ms ok`, one line a check, on stderr.
fn say_checks(verdict: &Verdict) {
    for c in &verdict.checks {
        let (value, result) = (c.value_text(), c.result_word());
        output::warn(format_args!("check {}: {value} {result}", c.label));
    }
}

/// One run of one loop. Pages reach the reporter only in the last round (rows show the last run).
async fn run_once(
    plan: &Plan,
    history: &History,
    label: String,
    last_round: bool,
    reporter: &RefCell<&mut dyn Reporter>,
    signals: &mut Signals,
) -> anyhow::Result<Run> {
    let mode = history.mode;
    // A fresh client per run: no loop inherits warm connections from the one before it.
    let fetcher = Fetcher::new(&plan.settings, history.concurrency);
    let source = plan.input.source(&plan.select);
    let bar = progress::bar(plan.progress, source.len_hint(), label);
    let mut source = source.with_progress(bar.clone());
    let mut tally = Tally::default();
    let mut sink = |page: PageResult| {
        tally.add(&page);
        match last_round {
            // Never borrowed across an await: the sink and the flush below run one at a time.
            true => reporter.borrow_mut().page(mode, page),
            false => Ok(()),
        }
    };
    let start = fetcher.epoch();
    let mut order = InOrder::new(&mut sink, bar.clone()).with_order(plan.order);
    let signal = {
        let slots = fetcher.slots(history.concurrency);
        let work = fetch::fetch_all(mode, &fetcher, &mut source, slots, &mut order);
        tokio::pin!(work);
        let mut flush = tokio::time::interval_at(start.into(), FLUSH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                done = &mut work => { done?; break None; }
                code = signals.recv() => break Some(code),
                _ = flush.tick() => reporter.borrow_mut().flush()?,
            }
        }
    };
    if signal.is_some() {
        order.finish_cancelled(source.rest())?;
    }
    let input_failed = source.failure().map(str::to_string);
    drop(order);
    let wall = start.elapsed();
    bar.finish_and_clear();
    Ok(Run {
        tally,
        wall,
        connections: fetcher.connections_opened(),
        inputs: source.read(),
        inputs_like_hosts: plan.hosts.count(),
        signal,
        input_failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::pages;

    #[test]
    fn page_times_count_only_pages_that_answered_and_round_like_the_rows() {
        let mut ps = pages();
        ps[0].elapsed = Duration::from_nanos(6_266_500);
        let mut tally = Tally::default();
        for p in &ps {
            tally.add(p);
        }
        // pear was refused: no response, no time in the percentiles.
        tally.page_times.finish();
        assert_eq!(tally.page_times.count(), 2);
        assert_eq!(
            tally.page_times.percentile(0.0),
            Some(Duration::from_micros(6267))
        );
        assert_eq!(
            tally.page_times.percentile(100.0),
            Some(Duration::from_micros(150_000))
        );
        assert_eq!((tally.ok, tally.failed), (2, 1));
        let row = crate::report::PageRecord::new(Strategy::Joinset, &ps[0]).elapsed_ms;
        assert_eq!(row, 6.267);
    }
}
