//! One JSON document at the end: a run object for `fetch`, `{"runs": [...], "speedup": {...}}` for
//! `compare`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use super::{
    speedup_map, speedup_unavailable, Kept, Layout, PageRecord, Reporter, RunSummary, Speedup,
    SummaryRecord, SCHEMA,
};
use crate::cli::Strategy;
use crate::page::PageResult;

pub struct Json<'a> {
    layout: Layout,
    out: Box<dyn Write + 'a>,
    runs: Kept,
}

/// A run: the summary fields plus its pages.
#[derive(Serialize)]
struct RunObject<'p> {
    #[serde(flatten)]
    summary: SummaryRecord,
    pages: Vec<PageRecord<'p>>,
}

/// `compare`: every run plus the speedup of each loop over the baseline.
#[derive(Serialize)]
struct CompareDoc<'p> {
    schema: u32,
    version: &'static str,
    baseline: Option<&'static str>,
    speedup: serde_json::Map<String, Value>,
    speedup_unavailable: serde_json::Map<String, Value>,
    runs: Vec<RunObject<'p>>,
}

impl<'a> Json<'a> {
    pub fn new(layout: Layout, out: Box<dyn Write + 'a>) -> Self {
        Json {
            layout,
            out,
            runs: Kept::default(),
        }
    }
}

impl Reporter for Json<'_> {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()> {
        self.runs.keep(mode, page);
        Ok(())
    }

    fn run_done(&mut self, _: &RunSummary) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, runs: &[RunSummary], speedup: &Speedup) -> io::Result<()> {
        let objects: Vec<RunObject> = runs
            .iter()
            .map(|s| RunObject {
                summary: SummaryRecord::new(s),
                pages: self
                    .runs
                    .iter()
                    .find(|(m, _)| *m == s.mode)
                    .map(|(m, pages)| pages.iter().map(|p| PageRecord::new(*m, p)).collect())
                    .unwrap_or_default(),
            })
            .collect();
        // Serialize the structs themselves (not a `Value`) so keys keep their documented order.
        match (self.layout, objects.as_slice()) {
            (Layout::Fetch, [one]) => serde_json::to_writer_pretty(&mut self.out, one)?,
            _ => {
                let doc = CompareDoc {
                    schema: SCHEMA,
                    version: env!("CARGO_PKG_VERSION"),
                    baseline: speedup.baseline.map(Strategy::name),
                    speedup: speedup_map(speedup),
                    speedup_unavailable: speedup_unavailable(speedup),
                    runs: objects,
                };
                serde_json::to_writer_pretty(&mut self.out, &doc)?
            }
        }
        writeln!(self.out)?;
        self.out.flush()
    }

    /// One document at the end: nothing to write before it.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{ok_pages, pages, summary};
    use super::*;

    #[test]
    fn fetch_document_carries_schema_totals_and_pages() {
        let ps = pages();
        let mut out = Vec::new();
        {
            let mut j = Json::new(Layout::Fetch, Box::new(&mut out));
            for p in &ps {
                j.page(Strategy::JoinAll, p.clone()).unwrap();
            }
            let s = [summary(Strategy::JoinAll, &ps, 400)];
            j.finish(&s, &Speedup::compute(&s)).unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("{\n  \"schema\": 1,"), "{text}");
        for key in ["\"pages\"", "\"total\"", "\"bytes\": 12445"] {
            assert_eq!(
                text.matches(key).count(),
                1,
                "{key} must appear once:\n{text}"
            );
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["total"], 3);
        assert_eq!(v["mode"], "join-all");
        assert_eq!(v["ok"], 2);
        assert_eq!(v["failed"], 1);
        assert_eq!(v["wall_ms"], 400.0);
        let p = &v["pages"];
        assert_eq!(p[0]["input"], "apple");
        assert_eq!(p[0]["bytes"], 12345);
        assert_eq!(p[0]["elapsed_ms"], 301.5);
        assert_eq!(p[0]["error"], Value::Null);
        assert_eq!(p[1]["status"], Value::Null);
        assert_eq!(p[1]["error"], "connection refused");
        assert_eq!(p[1]["error_kind"], "connect");
        assert_eq!(p[2]["truncated"], true);
    }

    #[test]
    fn compare_document_has_runs_and_speedup() {
        let ps = ok_pages();
        let mut out = Vec::new();
        {
            let mut j = Json::new(Layout::Compare, Box::new(&mut out));
            for mode in [Strategy::Sequential, Strategy::Joinset] {
                for p in &ps {
                    j.page(mode, p.clone()).unwrap();
                }
            }
            let s = [
                summary(Strategy::Sequential, &ps, 900),
                summary(Strategy::Joinset, &ps, 300),
            ];
            j.finish(&s, &Speedup::compute(&s)).unwrap();
        }
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["runs"].as_array().unwrap().len(), 2);
        assert_eq!(v["runs"][1]["pages"][1]["mode"], "joinset");
        assert_eq!(v["baseline"], "sequential");
        assert_eq!(v["speedup"]["joinset"], 3.0);
    }
}
