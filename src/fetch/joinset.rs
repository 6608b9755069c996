//! tokio `JoinSet`: one task per page, at most `concurrency` in flight, refilled as each finishes.
//! Tasks finish in any order; `InOrder` restores input order.

use std::io;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::task::JoinSet;

use super::Fetcher;
use crate::order::InOrder;
use crate::page::{PageError, PageResult};
use crate::source::Source;

pub async fn run(
    fetcher: &Fetcher,
    source: &mut Source<'_>,
    concurrency: usize,
    out: &mut InOrder<'_>,
) -> io::Result<()> {
    let mut set = JoinSet::new();
    let mut input_done = false;
    loop {
        let may_take = !input_done && set.len() < concurrency && out.may_start(source.position());
        tokio::select! {
            // Start what can be started first, so the limit stays filled; a slow input (a
            // producer on a pipe) never holds back the pages already running.
            biased;
            job = source.next(), if may_take => {
                let Some(job) = job else {
                    input_done = true;
                    continue;
                };
                out.start(&job);
                let fetcher = fetcher.clone();
                // A panic inside a task would otherwise surface as a JoinError with no page
                // attached; caught here, it still yields a record for its page.
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
            joined = set.join_next(), if !set.is_empty() => match joined {
                Some(Ok(page)) => out.push(page)?,
                // Only cancellation is left, and nothing here cancels the tasks it owns.
                Some(Err(e)) => return Err(io::Error::other(format!("fetch task failed: {e}"))),
                None => {}
            },
            else => return Ok(()),
        }
    }
}
