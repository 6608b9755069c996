//! One JSON object a line, streamed: pages as soon as every earlier page is done, a summary line per
//! loop, and for `compare` a last speedup line.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::json;

use super::{
    speedup_map, speedup_note, speedup_stddev, speedup_unavailable, verdict_json, Layout,
    PageRecord, Reporter, RunSummary, Speedup, SummaryRecord, Verdict, SCHEMA,
};
use crate::page::{PageResult, Strategy};

pub struct Ndjson<'a> {
    layout: Layout,
    out: io::BufWriter<Box<dyn Write + 'a>>,
}

#[derive(Serialize)]
struct Line<T: Serialize> {
    r#type: &'static str,
    #[serde(flatten)]
    body: T,
}

impl<'a> Ndjson<'a> {
    pub fn new(layout: Layout, out: Box<dyn Write + 'a>) -> Self {
        Ndjson {
            layout,
            out: io::BufWriter::with_capacity(64 * 1024, out),
        }
    }

    fn line(&mut self, value: &impl Serialize) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")
    }
}

impl Reporter for Ndjson<'_> {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()> {
        // Buffered; the run flushes every 100 ms (`Reporter::flush`), not once per page.
        self.line(&Line {
            r#type: "page",
            body: PageRecord::new(mode, &page),
        })
    }

    fn run_done(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.line(&Line {
            r#type: "summary",
            body: SummaryRecord::new(summary),
        })?;
        self.out.flush()
    }

    fn finish(&mut self, _: &[RunSummary], speedup: &Speedup, verdict: &Verdict) -> io::Result<()> {
        if self.layout == Layout::Compare {
            self.line(&json!({
                "type": "compare",
                "schema": SCHEMA,
                "version": env!("CARGO_PKG_VERSION"),
                "baseline": speedup.baseline.map(Strategy::name),
                "speedup": speedup_map(speedup),
                "speedup_stddev": speedup_stddev(speedup),
                "speedup_unavailable": speedup_unavailable(speedup),
                "speedup_note": speedup_note(speedup),
            }))?;
        }
        let (checks, baseline) = verdict_json(verdict);
        if checks.is_some() || baseline.is_some() {
            self.line(&json!({
                "type": "checks",
                "checks": checks.unwrap_or_else(|| json!([])),
                "baseline": baseline,
            }))?;
        }
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{ok_pages, summary};
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_line_parses_pages_then_summary_then_compare() {
        let ps = ok_pages();
        let mut out = Vec::new();
        {
            let mut n = Ndjson::new(Layout::Compare, Box::new(&mut out));
            let mut sums = Vec::new();
            for (mode, wall) in [(Strategy::Sequential, 800), (Strategy::Joinset, 200)] {
                for p in &ps {
                    n.page(mode, p.clone()).unwrap();
                }
                sums.push(summary(mode, &ps, wall));
                n.run_done(sums.last().unwrap()).unwrap();
            }
            n.finish(&sums, &Speedup::compute(&sums), &Verdict::default())
                .unwrap();
        }
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
        assert_eq!(
            types,
            ["page", "page", "summary", "page", "page", "summary", "compare"]
        );
        assert_eq!(lines[0]["index"], 0);
        assert_eq!(lines[3]["mode"], "joinset");
        assert_eq!(lines[2]["schema"], 1);
        assert_eq!(lines[5]["wall_ms"], 200.0);
        assert_eq!(lines[6]["speedup"]["joinset"], 4.0);
        assert_eq!(lines[6]["speedup_unavailable"], serde_json::json!({}));
    }
}
