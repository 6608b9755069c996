//! `futures::future::join_all` over `concurrency` request loops that take jobs from one source.
//!
//! All loops are polled by the one task that awaits `join_all`, so no page is spawned. Joining one
//! future per page instead would allocate every future up front (memory grows with the input) and
//! only hand back results when the last page is done; the shared source keeps both bounded.

use std::cell::{Cell, RefCell};
use std::io;

use futures::future::join_all;
use tokio::sync::{Mutex, Notify};

use super::Fetcher;
use crate::order::InOrder;
use crate::source::Source;

pub async fn run(
    fetcher: &Fetcher,
    source: &mut Source<'_>,
    concurrency: usize,
    out: &mut InOrder<'_>,
) -> io::Result<()> {
    let failed: Cell<bool> = Cell::new(false);
    let out = RefCell::new(out);
    // One loop at a time takes from the source (it may wait there for input).
    let source = Mutex::new(source);
    // Wakes the loops parked on a full window each time a page is delivered.
    let delivered = Notify::new();
    let worker = || async {
        while !failed.get() {
            let job = {
                let mut source = source.lock().await;
                if !out.borrow().may_start(source.position()) {
                    drop(source);
                    // The page holding the window is in flight in another loop, which notifies.
                    delivered.notified().await;
                    continue;
                }
                match source.next().await {
                    Some(job) => job,
                    None => break,
                }
            };
            out.borrow_mut().start(&job);
            let page = fetcher.fetch_one(job).await;
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
    join_all((0..concurrency.max(1)).map(|_| worker()))
        .await
        .into_iter()
        .collect()
}
