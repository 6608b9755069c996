//! The records as serialized: a page (JSON `pages[]`, NDJSON `page` lines, CSV rows) and a run
//! summary. Field names are the schema's (README); every `*_ms` goes through `stats::ms`.

use std::borrow::Cow;

use serde::Serialize;

use super::RunSummary;
use super::SCHEMA;
use crate::page::{HttpVersion, PageResult, Strategy};
use crate::stats::ms;

/// One page as serialized in JSON, NDJSON and (flattened) CSV.
#[derive(Serialize)]
pub struct PageRecord<'a> {
    /// Loop that fetched it.
    pub mode: &'static str,
    /// 0-based input position.
    pub index: usize,
    /// Term or URL as given (password masked).
    pub input: &'a str,
    /// URL requested (password masked); null when the input was unusable.
    pub url: Option<Cow<'a, str>>,
    /// HTTP status, null when no response arrived.
    pub status: Option<u16>,
    /// Body bytes read.
    pub bytes: u64,
    /// Request start to last body byte, in milliseconds.
    pub elapsed_ms: f64,
    /// Reading stopped at `--max-bytes`.
    pub truncated: bool,
    /// One-line reason the page failed, or null.
    pub error: Option<String>,
    /// Stable kind of the error: input, connect, tls, timeout, status, body, redirect, cancelled,
    /// request.
    pub error_kind: Option<&'static str>,
    /// Where redirects ended, when not `url`.
    pub final_url: Option<&'a str>,
    /// HTTP version of the final response: "1.0", "1.1" or "2".
    pub http: Option<&'static str>,
    /// The final response came over a connection that was already open.
    pub reused: Option<bool>,
    /// Request start to the final response's headers.
    pub ttfb_ms: Option<f64>,
    /// Name lookup, TCP connect (with a proxy's tunnel) and TLS handshake of the connection this
    /// page opened; null when it was reused, or when there was no such phase.
    pub dns_ms: Option<f64>,
    pub connect_ms: Option<f64>,
    pub tls_ms: Option<f64>,
    /// Requests made for the page: 1 unless `--retry` asked again.
    pub attempts: u32,
    /// Time spent waiting between attempts (inside `elapsed_ms`).
    pub retry_wait_ms: f64,
    /// When the request started, from the start of its run; null when none was made. Last, so
    /// CSV columns that scripts address by position stay where they were.
    pub start_ms: Option<f64>,
}

impl<'a> PageRecord<'a> {
    pub fn new(mode: Strategy, p: &'a PageResult) -> Self {
        let opening = p.transport.opening.as_ref();
        PageRecord {
            mode: mode.name(),
            index: p.job.index,
            input: &p.job.input,
            url: p.job.url_shown(),
            status: p.status,
            bytes: p.bytes,
            elapsed_ms: ms(p.elapsed),
            start_ms: p.start.map(ms),
            truncated: p.truncated,
            error: p.error.as_ref().map(ToString::to_string),
            error_kind: p.error.as_ref().map(|e| e.kind()),
            final_url: p.final_url.as_deref(),
            http: p.transport.http.map(HttpVersion::name),
            reused: p.transport.reused,
            ttfb_ms: p.transport.ttfb.map(ms),
            dns_ms: opening.and_then(|o| o.dns).map(ms),
            connect_ms: opening.map(|o| ms(o.connect)),
            tls_ms: opening.and_then(|o| o.tls).map(ms),
            attempts: p.attempts,
            retry_wait_ms: ms(p.retry_wait),
        }
    }
}

/// Page-time percentiles in milliseconds, over the pages that received a response (null when none
/// did): a refused or cancelled page would otherwise pull them towards 0.
#[derive(Serialize)]
pub struct PageMs {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// Repeat statistics in milliseconds.
#[derive(Serialize)]
pub struct RepeatRecord {
    pub runs: usize,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
    /// Mean and sample standard deviation of the completed runs' walls.
    pub mean_ms: f64,
    pub stddev_ms: f64,
    /// Each completed run's wall.
    pub walls_ms: Vec<f64>,
    /// Mean and sample standard deviation of the completed runs' page-time p95 (what
    /// `--baseline` compares).
    pub p95_mean_ms: f64,
    pub p95_stddev_ms: f64,
    pub failed_pages: usize,
}

/// One loop's totals as serialized (JSON run object, NDJSON summary line).
#[derive(Serialize)]
pub struct SummaryRecord {
    pub schema: u32,
    pub version: &'static str,
    pub mode: &'static str,
    pub concurrency: usize,
    /// Pages in the run (ok + failed).
    pub total: usize,
    pub ok: usize,
    pub failed: usize,
    /// Pages stopped by Ctrl-C / SIGTERM: neither ok nor failed.
    pub cancelled: usize,
    /// Body bytes over all pages.
    pub bytes: u64,
    pub wall_ms: f64,
    pub page_ms: PageMs,
    pub repeat: Option<RepeatRecord>,
    pub interrupted: bool,
    /// Connections the run opened.
    pub connections: usize,
    /// HTTP versions the responses came in, e.g. ["2"] or ["1.1", "2"].
    pub http: Vec<&'static str>,
    /// Input items read (before --shard and --resume chose among them): the length of the list,
    /// or as far as a stream was read.
    pub inputs: usize,
    /// Attempts beyond the first, over all pages (`--retry`).
    pub retries: usize,
    /// Pages by the HTTP status they answered with: `{"200": 4, "404": 1}`.
    pub statuses: std::collections::BTreeMap<String, usize>,
    /// Pages over the wall time, per second (null when the wall is zero), to 3 decimals.
    pub pages_per_s: Option<f64>,
    /// Inputs without a scheme that look like host names, sent to the default search template.
    pub inputs_like_hosts: usize,
}

impl SummaryRecord {
    pub fn new(s: &RunSummary) -> Self {
        let pct = |p| s.page_time(p).map(ms);
        SummaryRecord {
            schema: SCHEMA,
            version: env!("CARGO_PKG_VERSION"),
            mode: s.mode.name(),
            concurrency: s.concurrency,
            total: s.pages,
            ok: s.ok,
            failed: s.failed,
            cancelled: s.cancelled,
            bytes: s.bytes,
            wall_ms: ms(s.wall),
            page_ms: PageMs {
                p50: pct(50.0),
                p90: pct(90.0),
                p95: pct(95.0),
                p99: pct(99.0),
                max: pct(100.0),
            },
            repeat: s.repeat.as_ref().map(|r| {
                let p95s: Vec<f64> = r.p95s.iter().map(|d| ms(*d)).collect();
                let (p95_mean, p95_sd) = crate::stats::mean_stddev(&p95s).unwrap_or_default();
                RepeatRecord {
                    runs: r.runs,
                    min_ms: ms(r.min),
                    median_ms: ms(r.median),
                    max_ms: ms(r.max),
                    mean_ms: ms(r.mean),
                    stddev_ms: ms(r.stddev),
                    walls_ms: r.walls.iter().map(|d| ms(*d)).collect(),
                    p95_mean_ms: crate::stats::round_ms(p95_mean),
                    p95_stddev_ms: crate::stats::round_ms(p95_sd),
                    failed_pages: r.failed_pages,
                }
            }),
            interrupted: s.interrupted,
            connections: s.connections,
            http: s.http.iter().map(|v| v.name()).collect(),
            inputs: s.inputs,
            retries: s.retries,
            statuses: s
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            pages_per_s: s.pages_per_s().map(|r| (r * 1e3).round() / 1e3),
            inputs_like_hosts: s.inputs_like_hosts,
        }
    }
}
