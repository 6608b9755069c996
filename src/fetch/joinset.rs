//! tokio `JoinSet`: one task per page, at most `concurrency` in flight, refilled as each finishes.
//! Tasks finish in any order; `InOrder` restores input order.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;

use tokio::task::{Id, JoinSet};

use super::{Fetcher, PageError, PageResult};
use crate::order::InOrder;
use crate::template::Job;

pub async fn run(
    fetcher: &Fetcher,
    jobs: &[Arc<Job>],
    concurrency: usize,
    out: &mut InOrder<'_>,
) -> io::Result<()> {
    let mut set = JoinSet::new();
    // Which job each task runs, so a task that panicked still yields a record for its index.
    let mut running: HashMap<Id, Arc<Job>> = HashMap::with_capacity(concurrency);
    let mut pending = jobs.iter();
    loop {
        while set.len() < concurrency {
            let Some(job) = pending.next() else { break };
            let (fetcher, task_job) = (fetcher.clone(), job.clone());
            let handle = set.spawn(async move { fetcher.fetch_one(task_job).await });
            running.insert(handle.id(), job.clone());
        }
        let page = match set.join_next_with_id().await {
            None => return Ok(()),
            Some(Ok((id, page))) => {
                running.remove(&id);
                page
            }
            Some(Err(e)) => {
                let job = running
                    .remove(&e.id())
                    .expect("every task id is recorded at spawn");
                PageResult::failed(job, PageError::Request(format!("task failed: {e}")))
            }
        };
        out.push(page)?;
    }
}
