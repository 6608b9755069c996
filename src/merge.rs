//! `pagefetch merge FILES...`: NDJSON outputs of shards and resumed runs put back together into one
//! stream in input order, one record per index, with a summary recomputed from the records.
//!
//! Each file is made of runs written in input order (a resumed file has one per resume), so the
//! merge is a k-way merge over those runs: one buffered record each, memory flat in the number of
//! records. Where an index has several records, the last final one wins (a `cancelled` record is
//! not final), "last" meaning later in the files as given and later in a file. A missing index is
//! an error unless `--allow-gaps`, and so is not knowing where the list ends (no file holds the
//! summary of a finished run); so are two files that disagree about the input at an index.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

use crate::page::{HttpVersion, Strategy};
use crate::report::SummaryRecord;
use crate::run::RunSummary;
use crate::stats;
use crate::times::PageTimes;

/// Runs (sorted stretches) merged at once at most: each holds a file open.
const MAX_RUNS: usize = 512;

/// One sorted stretch of a file: byte range and its place in the merge order.
struct Stretch {
    file: usize,
    start: u64,
    end: u64,
}

/// What the summaries in the files say.
#[derive(Default)]
struct Seen {
    inputs: Option<(u64, String)>,
    wall_ms: f64,
    connections: u64,
    concurrency: usize,
    interrupted: bool,
}

/// A record read from a stretch, waiting its turn.
struct Head {
    index: u64,
    order: usize,
    line: String,
    value: Value,
}

struct Cursor {
    reader: BufReader<File>,
    left: u64,
    name: String,
}

impl Cursor {
    /// The next page record of the stretch (summaries are skipped).
    fn next(&mut self) -> anyhow::Result<Option<(String, Value)>> {
        let mut line = String::new();
        while self.left > 0 {
            line.clear();
            let n = self
                .reader
                .read_line(&mut line)
                .with_context(|| format!("cannot read {}", self.name))?;
            if n == 0 {
                break;
            }
            self.left = self.left.saturating_sub(n as u64);
            let v: Value = serde_json::from_str(&line)?;
            if v["type"] == "page" {
                return Ok(Some((line, v)));
            }
        }
        Ok(None)
    }
}

/// Merges `files` onto `out`; returns the number of page records written.
pub fn merge(files: &[PathBuf], allow_gaps: bool, out: &mut dyn Write) -> anyhow::Result<usize> {
    let mut stretches = Vec::new();
    let mut seen = Seen::default();
    let mut empty = Vec::new();
    for (i, path) in files.iter().enumerate() {
        if !scan(path, i, &mut stretches, &mut seen)? {
            empty.push(path.display().to_string());
        }
    }
    if seen.inputs.is_none() && !allow_gaps {
        // Without a finished run's summary nothing says how long the list was, so missing pages at
        // its end (or a whole shard that never ran) would pass unnoticed.
        let why = if empty.is_empty() {
            String::new()
        } else {
            format!(" ({} holds no records)", empty.join(", "))
        };
        bail!(
            "no file ends with the summary of a finished run{why}, so pages may be missing at the \
             end of the list (--allow-gaps merges anyway)"
        );
    }
    if stretches.len() > MAX_RUNS {
        bail!(
            "the files hold {} runs in input order, more than {MAX_RUNS} at once; were they written \
             with --order completion? Merge takes input-order outputs",
            stretches.len()
        );
    }
    let mut cursors = Vec::new();
    let mut heap = BinaryHeap::new();
    for (order, s) in stretches.iter().enumerate() {
        let mut f = File::open(&files[s.file])?;
        f.seek(SeekFrom::Start(s.start))?;
        let mut cursor = Cursor {
            reader: BufReader::new(f),
            left: s.end - s.start,
            name: files[s.file].display().to_string(),
        };
        if let Some(head) = read_head(&mut cursor, order)? {
            heap.push(Reverse(Key(head)));
        }
        cursors.push(cursor);
    }
    let mut tally = Tally::default();
    let mut expected = 0u64;
    let mut gaps = 0u64;
    while let Some(Reverse(Key(first))) = heap.pop() {
        let index = first.index;
        let mut same = vec![first];
        while heap.peek().is_some_and(|Reverse(Key(h))| h.index == index) {
            let Some(Reverse(Key(h))) = heap.pop() else {
                break;
            };
            same.push(h);
        }
        for h in &same {
            if let Some(Some(next)) = cursors
                .get_mut(h.order)
                .map(|c| read_head(c, h.order))
                .transpose()?
            {
                heap.push(Reverse(Key(next)));
            }
        }
        let input = same[0].value["input"].clone();
        if let Some(other) = same.iter().find(|h| h.value["input"] != input) {
            bail!(
                "page {index} is {} in one file and {} in another: outputs of different runs?",
                input,
                other.value["input"]
            );
        }
        if index > expected {
            gaps += index - expected;
            if !allow_gaps {
                bail!("no record of page {expected} in any file (--allow-gaps merges anyway)");
            }
        }
        expected = index + 1;
        same.sort_by_key(|h| h.order);
        let winner = same
            .iter()
            .rev()
            .find(|h| h.value["error_kind"] != "cancelled")
            .unwrap_or(same.last().expect("at least one"));
        out.write_all(winner.line.as_bytes())?;
        tally.add(&winner.value);
    }
    if let Some((inputs, _)) = &seen.inputs {
        if expected < *inputs {
            gaps += inputs - expected;
            if !allow_gaps {
                bail!(
                    "no record of pages {expected} to {} in any file (--allow-gaps merges anyway)",
                    inputs - 1
                );
            }
        }
    }
    let written = tally.count;
    writeln!(out, "{}", tally.summary(&seen, files.len(), gaps))?;
    out.flush()?;
    Ok(written)
}

fn read_head(cursor: &mut Cursor, order: usize) -> anyhow::Result<Option<Head>> {
    Ok(cursor.next()?.map(|(line, value)| Head {
        index: value["index"].as_u64().unwrap_or(0),
        order,
        line,
        value,
    }))
}

/// Heap order: smallest index first, then earliest stretch.
struct Key(Head);

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        (self.0.index, self.0.order) == (other.0.index, other.0.order)
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.index, self.0.order).cmp(&(other.0.index, other.0.order))
    }
}

/// One pass over a file: where its sorted stretches are, and what its summaries say.
/// Finds the sorted stretches of one file and notes what its summaries say; false when the file
/// holds no line at all.
fn scan(
    path: &Path,
    file: usize,
    stretches: &mut Vec<Stretch>,
    seen: &mut Seen,
) -> anyhow::Result<bool> {
    let name = path.display().to_string();
    let f = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let mut reader = BufReader::new(f);
    let (mut offset, mut start, mut last) = (0u64, 0u64, None::<u64>);
    let mut line = String::new();
    for number in 1.. {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .with_context(|| format!("cannot read {name}"))?;
        if n == 0 {
            break;
        }
        if !line.ends_with('\n') {
            // Cut off by a kill: not a record. (`--resume` removes such a line.)
            crate::output::warn(format_args!(
                "pagefetch merge: {name}: line {number} is unfinished; left out"
            ));
            break;
        }
        let v: Value = serde_json::from_str(&line)
            .map_err(|_| anyhow::anyhow!("{name}: line {number}: not a pagefetch NDJSON record"))?;
        match v["type"].as_str() {
            Some("page") => {
                let index = v["index"].as_u64().ok_or_else(|| {
                    anyhow::anyhow!("{name}: line {number}: a page without an index")
                })?;
                if last.is_some_and(|l| index <= l) {
                    stretches.push(Stretch {
                        file,
                        start,
                        end: offset,
                    });
                    start = offset;
                }
                last = Some(index);
            }
            Some("summary") => {
                if v["schema"] != 1 {
                    bail!(
                        "{name}: line {number}: schema {} (this pagefetch reads 1)",
                        v["schema"]
                    );
                }
                if let Some(inputs) = v["inputs"].as_u64() {
                    if v["interrupted"] == false {
                        match &seen.inputs {
                            Some((n, other)) if *n != inputs => bail!(
                                "{name} is from a run over {inputs} inputs, {other} from one over {n}: \
                                 outputs of different runs?"
                            ),
                            _ => seen.inputs = Some((inputs, name.clone())),
                        }
                    }
                }
                seen.wall_ms += v["wall_ms"].as_f64().unwrap_or(0.0);
                seen.connections += v["connections"].as_u64().unwrap_or(0);
                let c = v["concurrency"].as_u64().unwrap_or(0) as usize;
                seen.concurrency = seen.concurrency.max(c);
                seen.interrupted |= v["interrupted"] == true;
            }
            _ => {
                bail!("{name}: line {number}: not the output of `pagefetch fetch --format ndjson`")
            }
        }
        offset += n as u64;
    }
    if offset > start {
        stretches.push(Stretch {
            file,
            start,
            end: offset,
        });
    }
    Ok(offset > 0)
}

/// Totals of the merged records.
#[derive(Default)]
struct Tally {
    count: usize,
    ok: usize,
    bytes: u64,
    times: PageTimes,
    http: Vec<HttpVersion>,
    modes: Vec<String>,
    retries: usize,
}

impl Tally {
    fn add(&mut self, v: &Value) {
        self.count += 1;
        if v["error"].is_null() {
            self.ok += 1;
        }
        self.bytes += v["bytes"].as_u64().unwrap_or(0);
        self.retries += v["attempts"].as_u64().unwrap_or(1).saturating_sub(1) as usize;
        if !v["status"].is_null() {
            let ms = v["elapsed_ms"].as_f64().unwrap_or(0.0);
            self.times.add((ms * 1000.0).round() as u32);
        }
        let version = match v["http"].as_str() {
            Some("1.0") => Some(HttpVersion::Http10),
            Some("1.1") => Some(HttpVersion::Http11),
            Some("2") => Some(HttpVersion::Http2),
            _ => None,
        };
        if let Some(version) = version.filter(|v| !self.http.contains(v)) {
            self.http.push(version);
        }
        if let Some(mode) = v["mode"]
            .as_str()
            .filter(|m| !self.modes.iter().any(|x| x == m))
        {
            self.modes.push(mode.to_string());
        }
    }

    fn summary(mut self, seen: &Seen, files: usize, gaps: u64) -> Value {
        self.times.finish();
        self.http.sort_by_key(|v| v.name());
        let summary = RunSummary {
            mode: Strategy::Joinset,
            concurrency: seen.concurrency,
            pages: self.count,
            ok: self.ok,
            failed: self.count - self.ok,
            bytes: self.bytes,
            wall: std::time::Duration::from_secs_f64(seen.wall_ms / 1000.0),
            page_times: self.times,
            repeat: None,
            interrupted: seen.interrupted,
            connections: seen.connections as usize,
            http: self.http,
            inputs: seen
                .inputs
                .as_ref()
                .map_or(self.count, |(n, _)| *n as usize),
            retries: self.retries,
        };
        let mut v = serde_json::to_value(SummaryRecord::new(&summary)).unwrap_or_default();
        let mode = match self.modes.as_slice() {
            [one] => one.clone(),
            _ => "mixed".to_string(),
        };
        v["mode"] = mode.into();
        v["wall_ms"] = stats::round_ms(seen.wall_ms).into();
        v["merged"] = serde_json::json!({ "files": files, "gaps": gaps });
        let mut line = serde_json::Map::new();
        line.insert("type".into(), "summary".into());
        if let Value::Object(fields) = v {
            line.extend(fields);
        }
        Value::Object(line)
    }
}

/// `pagefetch merge`: writes to stdout.
pub fn run(files: &[PathBuf], allow_gaps: bool) -> anyhow::Result<()> {
    let mut out = crate::output::Stdout::new();
    merge(files, allow_gaps, &mut out)?;
    Ok(())
}
