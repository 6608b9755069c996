//! Hand-built records for the reporter tests.

use std::sync::Arc;
use std::time::Duration;

use super::RunSummary;
use crate::page::{HttpVersion, Job, Opening, PageError, PageResult, Strategy, Transport};

fn job(index: usize, input: &str) -> Arc<Job> {
    Arc::new(Job::new(
        index,
        input.into(),
        Ok(format!("http://h/?q={input}").parse().unwrap()),
    ))
}

/// apple: ok, 12345 bytes; pear: connection refused; "grape, "red"": truncated at 100 bytes,
/// with no start (as if no request was made).
pub fn pages() -> Vec<PageResult> {
    let mut apple = PageResult::new(job(0, "apple"));
    apple.status = Some(200);
    apple.bytes = 12345;
    apple.elapsed = Duration::from_micros(301_500);
    apple.start = Some(Duration::from_micros(1_250));
    apple.transport = Transport {
        http: Some(HttpVersion::Http11),
        reused: Some(false),
        ttfb: Some(Duration::from_micros(300_100)),
        opening: Some(Opening {
            dns: None,
            connect: Duration::from_micros(250),
            tls: None,
        }),
    };
    let mut pear = PageResult::failed(
        job(1, "pear"),
        PageError::Connect("connection refused".into()),
    );
    pear.elapsed = Duration::from_millis(2);
    pear.start = Some(Duration::from_micros(1_300));
    let mut grape = PageResult::new(job(2, "grape, \"red\""));
    grape.status = Some(200);
    grape.bytes = 100;
    grape.truncated = true;
    grape.elapsed = Duration::from_millis(150);
    vec![apple, pear, grape]
}

/// The pages of [`pages`] that succeeded (a speedup is only given between such runs).
pub fn ok_pages() -> Vec<PageResult> {
    pages().into_iter().filter(PageResult::ok).collect()
}

pub fn summary(mode: Strategy, pages: &[PageResult], wall_ms: u64) -> RunSummary {
    let mut page_times = crate::times::PageTimes::default();
    for p in pages.iter().filter(|p| p.status.is_some()) {
        page_times.add(crate::stats::micros(p.elapsed) as u32);
    }
    page_times.finish();
    RunSummary {
        mode,
        concurrency: if mode == Strategy::Sequential { 1 } else { 64 },
        pages: pages.len(),
        ok: pages.iter().filter(|p| p.ok()).count(),
        failed: pages
            .iter()
            .filter(|p| !p.ok() && !matches!(p.error, Some(PageError::Cancelled)))
            .count(),
        cancelled: pages
            .iter()
            .filter(|p| matches!(p.error, Some(PageError::Cancelled)))
            .count(),
        bytes: pages.iter().map(|p| p.bytes).sum(),
        wall: Duration::from_millis(wall_ms),
        page_times,
        repeat: None,
        interrupted: false,
        connections: 1,
        http: vec![HttpVersion::Http11],
        inputs: pages.len(),
        retries: 0,
        inputs_like_hosts: 0,
        statuses: pages.iter().filter_map(|p| p.status).fold(
            std::collections::BTreeMap::new(),
            |mut m, s| {
                *m.entry(s).or_insert(0) += 1;
                m
            },
        ),
    }
}
