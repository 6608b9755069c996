//! tokio `JoinSet`: one task per page, at most `concurrency` in flight, refilled as each finishes.
//! Tasks finish in any order; `InOrder` restores input order.

use std::io;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::task::JoinSet;

use super::Fetcher;
use crate::order::InOrder;
use crate::page::{PageError, PageResult};
use crate::template::Jobs;

pub async fn run(
    fetcher: &Fetcher,
    jobs: &Jobs,
    concurrency: usize,
    out: &mut InOrder<'_>,
) -> io::Result<()> {
    let mut set = JoinSet::new();
    let mut next = 0;
    loop {
        // Nothing in flight means everything started was delivered, so the window is open again.
        while set.len() < concurrency && next < jobs.len() && out.may_start(next) {
            let (fetcher, job) = (fetcher.clone(), jobs.get(next));
            next += 1;
            // A panic inside a task would otherwise surface as a JoinError with no page attached;
            // caught here, it still yields a record for its index.
            set.spawn(async move {
                let fetch = AssertUnwindSafe(fetcher.fetch_one(job.clone())).catch_unwind();
                fetch.await.unwrap_or_else(|_| {
                    PageResult::failed(
                        job,
                        PageError::Request("internal error: the request panicked".into()),
                    )
                })
            });
        }
        match set.join_next().await {
            None => return Ok(()),
            Some(Ok(page)) => out.push(page)?,
            // Only cancellation is left, and nothing here cancels the tasks it owns.
            Some(Err(e)) => return Err(io::Error::other(format!("fetch task failed: {e}"))),
        }
    }
}
