//! One request at a time on one client, so a keep-alive server sees exactly one connection.

use std::io;

use super::Fetcher;
use crate::order::InOrder;
use crate::template::Jobs;

pub async fn run(fetcher: &Fetcher, jobs: &Jobs, out: &mut InOrder<'_>) -> io::Result<()> {
    for i in 0..jobs.len() {
        let page = fetcher.fetch_one(jobs.get(i)).await;
        out.push(page)?;
        // hyper hands a finished HTTP/1 connection back to the pool from a task of its own. Yield
        // so that task runs before the next checkout; if the pool looks empty at that moment, the
        // next request opens a second connection. This holds on the single-threaded runtime the
        // binary uses; on a multi-threaded one the task may still be running on the other worker.
        tokio::task::yield_now().await;
    }
    Ok(())
}
