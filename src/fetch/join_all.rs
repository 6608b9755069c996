//! `futures::future::join_all` over `concurrency` request loops that share one queue of jobs.
//!
//! All loops are polled by the one task that awaits `join_all`, so no page is spawned. Joining one
//! future per page instead would allocate every future up front (memory grows with the input) and
//! only hand back results when the last page is done; the shared queue keeps both bounded.

use std::cell::{Cell, RefCell};
use std::io;

use futures::future::join_all;
use tokio::sync::Notify;

use super::Fetcher;
use crate::order::InOrder;
use crate::template::Jobs;

pub async fn run(
    fetcher: &Fetcher,
    jobs: &Jobs,
    concurrency: usize,
    out: &mut InOrder<'_>,
) -> io::Result<()> {
    let next = Cell::new(0usize);
    let failed: Cell<bool> = Cell::new(false);
    let out = RefCell::new(out);
    // Wakes the loops parked on a full window each time a page is delivered.
    let delivered = Notify::new();
    let worker = || async {
        while !failed.get() {
            let i = next.get();
            if i >= jobs.len() {
                break;
            }
            if !out.borrow().may_start(i) {
                // The page blocking the window is in flight in another loop, which will notify.
                delivered.notified().await;
                continue;
            }
            next.set(i + 1);
            let page = fetcher.fetch_one(jobs.get(i)).await;
            // The borrow ends before the next await: loops on one task never overlap here.
            let pushed = out.borrow_mut().push(page);
            delivered.notify_waiters();
            if let Err(e) = pushed {
                failed.set(true);
                return Err(e);
            }
        }
        Ok(())
    };
    let loops = concurrency.min(jobs.len()).max(1);
    join_all((0..loops).map(|_| worker()))
        .await
        .into_iter()
        .collect()
}
