//! Between the loops (pages finish in any order) and the sink (reporters): in input order, early
//! arrivals wait until every earlier page is done, so reporters never sort; with `--order
//! completion` each record goes out as it finishes and nothing waits.
//!
//! Both remember the pages started and not finished, so that after an interruption each of them is
//! still reported, as cancelled.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::sync::Arc;
use std::time::Instant;

use indicatif::ProgressBar;

use crate::page::{Job, PageError, PageResult};

/// How many pages may be started beyond the first one not yet delivered. A page that hangs at the
/// front makes every later result wait in memory; past this many the loops pause until it is
/// done, instead of growing without bound on a long input. (What that holds is measured in
/// BENCHMARKS.md: a parked record is a few hundred bytes.)
pub const WINDOW: usize = 65_536;

/// The order records leave in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Order {
    /// Input order: a record waits for every earlier one
    #[default]
    Input,
    /// As each page finishes (its `index` says where it belongs); nothing waits
    Completion,
}

/// What receives the records.
pub type Sink<'a> = dyn FnMut(PageResult) -> io::Result<()> + 'a;

enum Slot {
    /// Taken by a loop at that instant (a cancelled page's time runs from it).
    Started(Arc<Job>, Instant),
    Done(PageResult),
}

pub struct InOrder<'a> {
    order: Order,
    /// Sequence number of the next record the sink is waiting for (input order).
    next: usize,
    /// `parked[i]` is the page with sequence number `next + i` (input order).
    parked: VecDeque<Slot>,
    /// Pages started and not finished (completion order), by sequence number.
    running: BTreeMap<usize, (Arc<Job>, Instant)>,
    sink: &'a mut Sink<'a>,
    progress: ProgressBar,
    window: usize,
    delivered: usize,
    /// Failed pages so far (the progress bar says how many).
    failed: usize,
}

impl<'a> InOrder<'a> {
    pub fn new(sink: &'a mut Sink<'a>, progress: ProgressBar) -> Self {
        InOrder {
            order: Order::Input,
            next: 0,
            parked: VecDeque::new(),
            running: BTreeMap::new(),
            sink,
            progress,
            window: WINDOW,
            delivered: 0,
            failed: 0,
        }
    }

    pub fn with_order(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// A different window (tests use a small one to see it work).
    pub fn with_window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// Whether the page with sequence number `seq` may start now without exceeding the window.
    pub fn may_start(&self, seq: usize) -> bool {
        self.order == Order::Completion || seq < self.next + self.window
    }

    /// A loop took `job`: it will be pushed, or reported cancelled after an interruption.
    pub fn start(&mut self, job: &Arc<Job>) {
        match self.order {
            Order::Completion => {
                self.running.insert(job.seq, (job.clone(), Instant::now()));
            }
            Order::Input => {
                debug_assert_eq!(
                    job.seq,
                    self.next + self.parked.len(),
                    "jobs start in order"
                );
                self.parked
                    .push_back(Slot::Started(job.clone(), Instant::now()));
            }
        }
    }

    /// Accepts a finished page; forwards it, and any parked successors whose turn has come.
    pub fn push(&mut self, page: PageResult) -> io::Result<()> {
        self.progress.inc(1);
        if !page.ok() {
            self.failed += 1;
            self.progress
                .set_message(format!("({} failed)", self.failed));
        }
        let seq = page.job.seq;
        if self.order == Order::Completion {
            self.running.remove(&seq);
            return self.deliver(page);
        }
        debug_assert!(seq >= self.next, "page {seq} pushed twice");
        match self.parked.get_mut(seq - self.next) {
            Some(slot) => *slot = Slot::Done(page),
            None => unreachable!("page {seq} was never started"),
        }
        while let Some(Slot::Done(_)) = self.parked.front() {
            let Some(Slot::Done(page)) = self.parked.pop_front() else {
                unreachable!("front checked above")
            };
            self.next += 1;
            self.deliver(page)?;
        }
        Ok(())
    }

    fn deliver(&mut self, page: PageResult) -> io::Result<()> {
        self.delivered += 1;
        (self.sink)(page)
    }

    /// After an interruption: every page started and not finished, then `not_started`, is
    /// reported cancelled (in input order, after any finished page waiting its turn). A started
    /// page's time is how long it had run when cancelled (since its loop took it); a page never
    /// started ran for no time.
    pub fn finish_cancelled(&mut self, not_started: Vec<Arc<Job>>) -> io::Result<()> {
        let now = Instant::now();
        let cancelled = |job, since: Option<Instant>| {
            let mut page = PageResult::failed(job, PageError::Cancelled);
            page.elapsed = since.map_or_else(Default::default, |t| now.duration_since(t));
            page
        };
        let running = std::mem::take(&mut self.running);
        for (job, since) in running.into_values() {
            self.deliver(cancelled(job, Some(since)))?;
        }
        while let Some(slot) = self.parked.pop_front() {
            self.next += 1;
            match slot {
                Slot::Done(page) => self.deliver(page)?,
                Slot::Started(job, since) => self.deliver(cancelled(job, Some(since)))?,
            }
        }
        for job in not_started {
            self.deliver(cancelled(job, None))?;
        }
        Ok(())
    }

    /// Number of records handed to the sink so far.
    pub fn delivered(&self) -> usize {
        self.delivered
    }

    /// Records waiting for an earlier one (input order).
    pub fn waiting(&self) -> usize {
        self.parked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(seq: usize) -> Arc<Job> {
        Arc::new(Job::new(seq, format!("t{seq}"), Err("unused".into())))
    }

    fn run(order: Order, finish: &[usize]) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut sink = |p: PageResult| {
            seen.push(p.job.seq);
            Ok(())
        };
        let mut out = InOrder::new(&mut sink, ProgressBar::hidden()).with_order(order);
        let jobs: Vec<Arc<Job>> = (0..finish.len()).map(job).collect();
        for j in &jobs {
            out.start(j);
        }
        for &i in finish {
            out.push(PageResult::new(jobs[i].clone())).unwrap();
        }
        assert_eq!(out.delivered(), finish.len());
        drop(out);
        seen
    }

    #[test]
    fn releases_in_input_order_or_as_finished() {
        assert_eq!(run(Order::Input, &[3, 1, 0, 2, 5, 4]), [0, 1, 2, 3, 4, 5]);
        assert_eq!(
            run(Order::Completion, &[3, 1, 0, 2, 5, 4]),
            [3, 1, 0, 2, 5, 4]
        );
    }

    #[test]
    fn started_and_unstarted_pages_are_reported_cancelled_in_order() {
        for order in [Order::Input, Order::Completion] {
            let mut seen = Vec::new();
            let mut sink = |p: PageResult| {
                seen.push((p.job.seq, p.error.map(|e| e.kind())));
                Ok(())
            };
            let mut out = InOrder::new(&mut sink, ProgressBar::hidden()).with_order(order);
            let jobs: Vec<Arc<Job>> = (0..4).map(job).collect();
            for j in &jobs[..3] {
                out.start(j);
            }
            out.push(PageResult::new(jobs[2].clone())).unwrap();
            out.finish_cancelled(vec![jobs[3].clone()]).unwrap();
            drop(out);
            seen.sort_by_key(|(seq, _)| *seq);
            assert_eq!(
                seen,
                [
                    (0, Some("cancelled")),
                    (1, Some("cancelled")),
                    (2, None),
                    (3, Some("cancelled"))
                ],
                "{order:?}"
            );
        }
    }
}
