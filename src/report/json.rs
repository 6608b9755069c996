//! One JSON document, written as the run goes: a run object for `fetch`, `{"schema", "version",
//! "runs": [...], "baseline", "speedup", ...}` for `compare`. Pages are streamed into the `pages`
//! array as they arrive (in input order), so memory stays flat however long the input; a run's
//! summary fields follow its pages, and the speedup follows the runs.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::Value;

use super::{
    speedup_map, speedup_note, speedup_stddev, speedup_unavailable, verdict_json, Layout,
    PageRecord, Reporter, RunSummary, Speedup, SummaryRecord, Verdict, SCHEMA,
};
use crate::page::{PageResult, Strategy};

pub struct Json<'a> {
    layout: Layout,
    out: Box<dyn Write + 'a>,
    /// The document's head is written.
    started: bool,
    /// The loop whose run object is open (its `pages` array too), and how many pages it has.
    open: Option<(Strategy, usize)>,
    /// Run objects closed so far (compare).
    runs: usize,
}

impl<'a> Json<'a> {
    pub fn new(layout: Layout, out: Box<dyn Write + 'a>) -> Self {
        Json {
            layout,
            out,
            started: false,
            open: None,
            runs: 0,
        }
    }

    /// Indent of a run object's fields: 2 for `fetch` (the run is the document), 6 inside `runs`.
    fn indent(&self) -> usize {
        match self.layout {
            Layout::Fetch => 2,
            Layout::Compare => 6,
        }
    }

    fn start_document(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        match self.layout {
            Layout::Fetch => self.out.write_all(b"{\n"),
            Layout::Compare => {
                writeln!(self.out, "{{")?;
                write_field(&mut self.out, 2, "schema", &SCHEMA, false)?;
                write_field(
                    &mut self.out,
                    2,
                    "version",
                    &env!("CARGO_PKG_VERSION"),
                    false,
                )?;
                write!(self.out, "  \"runs\": [")
            }
        }
    }

    /// Opens the run object of `mode` (and its `pages` array) if it is not open yet.
    fn open_run(&mut self, mode: Strategy) -> io::Result<()> {
        self.start_document()?;
        if self.open.is_some_and(|(m, _)| m == mode) {
            return Ok(());
        }
        if self.layout == Layout::Compare {
            let sep = if self.runs > 0 { "," } else { "" };
            write!(self.out, "{sep}\n    {{\n")?;
        }
        let pad = " ".repeat(self.indent());
        write!(self.out, "{pad}\"pages\": [")?;
        self.open = Some((mode, 0));
        Ok(())
    }
}

impl Reporter for Json<'_> {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()> {
        self.open_run(mode)?;
        let Some((_, pages)) = &mut self.open else {
            unreachable!("opened above")
        };
        let sep = if *pages > 0 { "," } else { "" };
        *pages += 1;
        let pad = " ".repeat(self.indent() + 2);
        write!(self.out, "{sep}\n{pad}")?;
        serde_json::to_writer(&mut self.out, &PageRecord::new(mode, &page))?;
        Ok(())
    }

    fn run_done(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.open_run(summary.mode)?;
        let (_, pages) = self.open.take().expect("opened above");
        let indent = self.indent();
        let pad = " ".repeat(indent);
        match pages {
            0 => write!(self.out, "],")?,
            _ => write!(self.out, "\n{pad}],")?,
        }
        let fields = serde_json::to_value(SummaryRecord::new(summary))?;
        let Value::Object(fields) = fields else {
            unreachable!("a summary is an object")
        };
        let count = fields.len();
        writeln!(self.out)?;
        for (i, (key, value)) in fields.iter().enumerate() {
            write_field(&mut self.out, indent, key, value, i + 1 == count)?;
        }
        if self.layout == Layout::Compare {
            write!(self.out, "    }}")?;
        }
        self.runs += 1;
        Ok(())
    }

    fn finish(&mut self, _: &[RunSummary], speedup: &Speedup, verdict: &Verdict) -> io::Result<()> {
        self.start_document()?;
        let (checks, baseline) = verdict_json(verdict);
        let mut extra: Vec<(&str, Value)> = Vec::new();
        if let Some(c) = checks {
            extra.push(("checks", c));
        }
        if let Some(b) = baseline {
            extra.push(("baseline_comparison", b));
        }
        match self.layout {
            Layout::Fetch => {
                if self.runs == 0 {
                    // No run finished (interrupted in --warmup): the document still says what
                    // it is, and that it was cut short.
                    let version = Value::from(env!("CARGO_PKG_VERSION"));
                    extra.splice(
                        0..0,
                        [
                            ("schema", serde_json::to_value(SCHEMA)?),
                            ("version", version),
                            ("interrupted", Value::Bool(true)),
                        ],
                    );
                } else if !extra.is_empty() {
                    // The run object's last field ended without a comma; the checks follow it.
                    self.out.write_all(b",\n")?;
                }
                let n = extra.len();
                for (i, (key, value)) in extra.iter().enumerate() {
                    write_field(&mut self.out, 2, key, value, i + 1 == n)?;
                }
                writeln!(self.out, "}}")?
            }
            Layout::Compare => {
                writeln!(self.out, "\n  ],")?;
                let baseline = speedup.baseline.map(Strategy::name);
                write_field(&mut self.out, 2, "baseline", &baseline, false)?;
                write_field(&mut self.out, 2, "speedup", &speedup_map(speedup), false)?;
                write_field(
                    &mut self.out,
                    2,
                    "speedup_stddev",
                    &speedup_stddev(speedup),
                    false,
                )?;
                let why = speedup_unavailable(speedup);
                write_field(&mut self.out, 2, "speedup_unavailable", &why, false)?;
                let note = speedup_note(speedup);
                write_field(&mut self.out, 2, "speedup_note", &note, extra.is_empty())?;
                let n = extra.len();
                for (i, (key, value)) in extra.iter().enumerate() {
                    write_field(&mut self.out, 2, key, value, i + 1 == n)?;
                }
                writeln!(self.out, "}}")?;
            }
        }
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `  "key": value,` on a line of its own, the value compact.
fn write_field(
    out: &mut dyn Write,
    indent: usize,
    key: &str,
    value: &impl Serialize,
    last: bool,
) -> io::Result<()> {
    write!(out, "{:indent$}\"{key}\": ", "")?;
    serde_json::to_writer(&mut *out, value)?;
    writeln!(out, "{}", if last { "" } else { "," })
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{ok_pages, pages, summary};
    use super::*;

    fn render(layout: Layout, runs: &[(Strategy, Vec<PageResult>, u64)]) -> Value {
        let mut out = Vec::new();
        {
            let mut j = Json::new(layout, Box::new(&mut out));
            let mut sums = Vec::new();
            for (mode, ps, wall) in runs {
                for p in ps {
                    j.page(*mode, p.clone()).unwrap();
                }
                sums.push(summary(*mode, ps, *wall));
                j.run_done(sums.last().unwrap()).unwrap();
            }
            j.finish(&sums, &Speedup::compute(&sums), &Verdict::default())
                .unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"))
    }

    #[test]
    fn fetch_document_carries_schema_totals_and_pages() {
        let ps = pages();
        let v = render(Layout::Fetch, &[(Strategy::JoinAll, ps, 400)]);
        assert_eq!(v["schema"], 1);
        assert_eq!(v["total"], 3);
        assert_eq!(v["mode"], "join-all");
        assert_eq!(v["ok"], 2);
        assert_eq!(v["failed"], 1);
        assert_eq!(v["bytes"], 12445);
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
        let v = render(
            Layout::Compare,
            &[
                (Strategy::Sequential, ps.clone(), 900),
                (Strategy::Joinset, ps, 300),
            ],
        );
        assert_eq!(v["runs"].as_array().unwrap().len(), 2);
        assert_eq!(v["runs"][1]["pages"][1]["mode"], "joinset");
        assert_eq!(v["runs"][0]["mode"], "sequential");
        assert_eq!(v["baseline"], "sequential");
        assert_eq!(v["speedup"]["joinset"], 3.0);
        assert_eq!(v["schema"], 1);
    }

    #[test]
    fn a_run_without_pages_still_makes_a_document() {
        let v = render(Layout::Compare, &[(Strategy::Sequential, vec![], 5)]);
        assert_eq!(v["runs"][0]["pages"], serde_json::json!([]));
        let v = render(Layout::Fetch, &[(Strategy::Joinset, vec![], 5)]);
        assert_eq!(v["total"], 0);
        let mut out = Vec::new();
        {
            let mut j = Json::new(Layout::Compare, Box::new(&mut out));
            j.finish(&[], &Speedup::default(), &Verdict::default())
                .unwrap();
        }
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["runs"], serde_json::json!([]));
    }
}
