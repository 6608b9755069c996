//! Puts results back in input order: early arrivals are parked until every earlier page is done,
//! then handed to the sink, so reporters (and NDJSON streaming) never sort.

use std::collections::VecDeque;
use std::io;

use indicatif::ProgressBar;

use crate::page::{PageError, PageResult};
use crate::template::Jobs;

/// How many pages may be started beyond the first one not yet delivered. A page that hangs at the
/// front makes every later result wait in memory; past this many the loops pause until it is done,
/// instead of growing without bound on a long input. (Estimated, not measured: a few hundred bytes
/// a record, so tens of MB at most.)
pub const WINDOW: usize = 65_536;

/// What receives the records, in input order.
pub type Sink<'a> = dyn FnMut(PageResult) -> io::Result<()> + 'a;

/// Reorder buffer between a loop (completion order) and a sink (input order).
pub struct InOrder<'a> {
    /// Index of the next record the sink is waiting for.
    next: usize,
    /// `parked[i]` holds the result for index `next + i`, if it has arrived.
    parked: VecDeque<Option<PageResult>>,
    sink: &'a mut Sink<'a>,
    progress: ProgressBar,
    window: usize,
}

impl<'a> InOrder<'a> {
    pub fn new(sink: &'a mut Sink<'a>, progress: ProgressBar) -> Self {
        InOrder {
            next: 0,
            parked: VecDeque::new(),
            sink,
            progress,
            window: WINDOW,
        }
    }

    /// A different window (tests use a small one to see it work).
    pub fn with_window(mut self, window: usize) -> Self {
        self.window = window.max(1);
        self
    }

    /// Whether the page at `index` may start now without exceeding the window.
    pub fn may_start(&self, index: usize) -> bool {
        index < self.next + self.window
    }

    /// Accepts a finished page in any order; forwards it and any parked successors when its turn comes.
    pub fn push(&mut self, page: PageResult) -> io::Result<()> {
        self.progress.inc(1);
        let index = page.job.index;
        debug_assert!(index >= self.next, "page {index} pushed twice");
        let slot = index - self.next;
        if slot >= self.parked.len() {
            self.parked.resize_with(slot + 1, || None);
        }
        self.parked[slot] = Some(page);
        while let Some(Some(_)) = self.parked.front() {
            let page = self
                .parked
                .pop_front()
                .flatten()
                .expect("front checked above");
            self.next += 1;
            (self.sink)(page)?;
        }
        Ok(())
    }

    /// After an interruption: forwards every parked result and marks the pages that never finished as
    /// cancelled, so the sink still sees every job exactly once, in order.
    pub fn finish_cancelled(&mut self, jobs: &Jobs) -> io::Result<()> {
        while self.next < jobs.len() {
            let page = match self.parked.pop_front().flatten() {
                Some(p) => p,
                None => PageResult::failed(jobs.get(self.next), PageError::Cancelled),
            };
            self.next += 1;
            (self.sink)(page)?;
        }
        Ok(())
    }

    /// Number of records handed to the sink so far.
    pub fn delivered(&self) -> usize {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use crate::page::Job;
    use crate::template::Template;

    fn job(index: usize) -> Arc<Job> {
        Arc::new(Job::new(index, format!("t{index}"), Err("unused".into())))
    }

    #[test]
    fn releases_in_input_order() {
        let mut seen = Vec::new();
        let mut sink = |p: PageResult| {
            seen.push(p.job.index);
            Ok(())
        };
        let mut order = InOrder::new(&mut sink, ProgressBar::hidden());
        for i in [3, 1, 0, 2, 5, 4] {
            order.push(PageResult::new(job(i))).unwrap();
        }
        assert_eq!(order.delivered(), 6);
        drop(order);
        assert_eq!(seen, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn cancelled_pages_fill_the_gaps() {
        let terms = crate::input::terms_from_args(&["t0", "t1", "t2", "t3"]);
        let jobs = Jobs::new(terms, Template::parse("http://h/?q={}").unwrap());
        let mut seen = Vec::new();
        let mut sink = |p: PageResult| {
            seen.push((p.job.index, p.error.map(|e| e.kind())));
            Ok(())
        };
        let mut order = InOrder::new(&mut sink, ProgressBar::hidden());
        order.push(PageResult::new(jobs.get(2))).unwrap();
        order.finish_cancelled(&jobs).unwrap();
        drop(order);
        assert_eq!(
            seen,
            [
                (0, Some("cancelled")),
                (1, Some("cancelled")),
                (2, None),
                (3, Some("cancelled"))
            ]
        );
    }
}
