//! One request at a time on one client, so a keep-alive server sees exactly one connection.

use std::io;

use super::Fetcher;
use crate::order::InOrder;
use crate::source::Source;

pub async fn run(
    fetcher: &Fetcher,
    source: &mut Source<'_>,
    out: &mut InOrder<'_>,
) -> io::Result<()> {
    while let Some(job) = source.next().await {
        out.start(&job);
        let page = fetcher.fetch_one(job).await;
        out.push(page)?;
        // A finished HTTP/1.1 connection is ready for the next request only once its connection
        // task has run; yield so it does, or the next checkout would find it busy and open a
        // second one.
        tokio::task::yield_now().await;
    }
    Ok(())
}
