//! `pagefetch merge FILES...`: NDJSON outputs of shards and resumed runs put back together into one
//! stream in input order, one record per index, with a summary recomputed from the records.
//!
//! Each file is made of runs written in input order (a resumed file has one per resume), so the
//! merge is a k-way merge over those runs: one buffered record each, memory flat in the number of
//! records. Where an index has several records, the last final one wins (a `cancelled` record is
//! not final), "last" meaning later in the files as given and later in a file. A missing index is
//! an error unless `--allow-gaps`, and so is not knowing where the list ends (no file holds the
//! summary of a finished run); so are two files that disagree about the input or URL at an index,
//! files whose URLs no one template makes, and a number no run writes.
//!
//! Every check is made before the first byte goes to stdout: the merge runs once to check and once
//! to write. Each file is opened once, whatever the number of its runs (a file written with
//! `--order completion` has hundreds): the runs read it at their own offsets.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

use crate::page::{HttpVersion, Strategy};
use crate::report::SummaryRecord;
use crate::run::RunSummary;
use crate::stats;
use crate::times::PageTimes;

/// Runs (sorted stretches) merged at once at most: each holds a record and a read buffer.
const MAX_RUNS: usize = 65_536;

/// Read buffers of all runs together: each gets its share, within 512 B to 64 KiB.
const BUFFERS_BYTES: usize = 16 << 20;

/// Largest count (index, bytes, connections...) taken: 2^53, the largest integer every JSON reader
/// holds exactly. Sums of such counts saturate instead of wrapping.
const MAX_COUNT: u64 = 1 << 53;

/// Largest time in milliseconds taken: about 31 years.
const MAX_MS: f64 = 1e12;

/// Page fields that hold a time in milliseconds, and those that hold a count.
const PAGE_MS: [&str; 7] = [
    "elapsed_ms",
    "ttfb_ms",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "retry_wait_ms",
    "start_ms",
];
const PAGE_COUNTS: [&str; 3] = ["bytes", "attempts", "status"];
const SUMMARY_COUNTS: [&str; 8] = [
    "connections",
    "concurrency",
    "inputs",
    "total",
    "ok",
    "failed",
    "bytes",
    "retries",
];

/// One sorted stretch of a file: byte range, number of its first line, and (by its position in
/// the list) its place in the merge order.
struct Stretch {
    file: usize,
    start: u64,
    end: u64,
    line: usize,
}

/// What the summaries in the files say.
#[derive(Default)]
struct Seen {
    inputs: Option<(u64, String)>,
    /// The largest count over the files (every shard reads the same inputs).
    inputs_like_hosts: usize,
    wall_ms: f64,
    connections: u64,
    concurrency: u64,
    interrupted: bool,
    /// The first record that shows which template made its URL, to hold the other files against.
    shape: Option<Shape>,
}

/// A page record and the templates that could have turned its input into its URL.
struct Shape {
    at: String,
    input: String,
    url: String,
    templates: HashSet<String>,
}

/// A file given to merge, opened once for all its stretches.
struct Input {
    file: File,
    name: String,
}

/// A record read from a stretch, waiting its turn.
struct Head {
    index: u64,
    order: usize,
    file: usize,
    line: usize,
    text: String,
    value: Value,
}

impl Head {
    fn at(&self, inputs: &[Input]) -> String {
        format!("{} line {}", inputs[self.file].name, self.line)
    }
}

/// Reads one stretch's lines at its own offset of the shared file (no descriptor of its own).
struct Cursor {
    file: usize,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    at: usize,
    line: usize,
    cap: usize,
}

impl Cursor {
    fn new(s: &Stretch, cap: usize) -> Cursor {
        Cursor {
            file: s.file,
            pos: s.start,
            end: s.end,
            buf: Vec::new(),
            at: 0,
            line: s.line,
            cap,
        }
    }

    /// The next line of the stretch and its number.
    fn next_line(&mut self, input: &Input) -> anyhow::Result<Option<(usize, String)>> {
        loop {
            if let Some(n) = self.buf[self.at..].iter().position(|&b| b == b'\n') {
                let text = String::from_utf8_lossy(&self.buf[self.at..=self.at + n]).into_owned();
                self.at += n + 1;
                self.line += 1;
                return Ok(Some((self.line - 1, text)));
            }
            if self.pos >= self.end {
                return Ok(None);
            }
            self.buf.drain(..self.at);
            self.at = 0;
            let want = usize::try_from(self.end - self.pos).map_or(self.cap, |n| n.min(self.cap));
            let old = self.buf.len();
            self.buf.resize(old + want, 0);
            let n = input
                .file
                .read_at(&mut self.buf[old..], self.pos)
                .with_context(|| format!("cannot read {}", input.name))?;
            self.buf.truncate(old + n);
            if n == 0 {
                bail!("{} got shorter while it was being merged", input.name);
            }
            self.pos += n as u64;
        }
    }

    /// The next page record of the stretch (summaries are skipped).
    fn next(&mut self, order: usize, input: &Input) -> anyhow::Result<Option<Head>> {
        while let Some((line, text)) = self.next_line(input)? {
            let value: Value = serde_json::from_str(&text).map_err(|_| {
                anyhow::anyhow!(
                    "{}: line {line} changed while it was being merged",
                    input.name
                )
            })?;
            if value["type"] == "page" {
                return Ok(Some(Head {
                    // Checked by `scan`.
                    index: value["index"].as_u64().unwrap_or(0),
                    order,
                    file: self.file,
                    line,
                    text,
                    value,
                }));
            }
        }
        Ok(None)
    }
}

/// Merges `files` onto `out`; returns the number of page records written. Nothing is written
/// unless every check passes.
pub fn merge(files: &[PathBuf], allow_gaps: bool, out: &mut dyn Write) -> anyhow::Result<usize> {
    let mut stretches = Vec::new();
    let mut seen = Seen::default();
    let mut empty = Vec::new();
    let mut inputs = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let (input, any) = scan(path, i, &mut stretches, &mut seen)?;
        if !any {
            empty.push(input.name.clone());
        }
        inputs.push(input);
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
    // The first pass finds any disagreement or gap; only the second writes.
    emit(&inputs, &stretches, allow_gaps, &seen, &mut io::sink())?;
    let (tally, gaps) = emit(&inputs, &stretches, allow_gaps, &seen, out)?;
    let written = tally.count;
    writeln!(out, "{}", tally.summary(&seen, files.len(), gaps)?)?;
    out.flush()?;
    Ok(written)
}

/// The k-way merge of the stretches onto `out`: the totals of what was written, and the gaps.
fn emit(
    inputs: &[Input],
    stretches: &[Stretch],
    allow_gaps: bool,
    seen: &Seen,
    out: &mut dyn Write,
) -> anyhow::Result<(Tally, u64)> {
    let cap = (BUFFERS_BYTES / stretches.len().max(1)).clamp(512, 64 << 10);
    let mut cursors = Vec::new();
    let mut heap = BinaryHeap::new();
    for (order, s) in stretches.iter().enumerate() {
        let mut cursor = Cursor::new(s, cap);
        if let Some(head) = cursor.next(order, &inputs[s.file])? {
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
            let cursor = &mut cursors[h.order];
            if let Some(next) = cursor.next(h.order, &inputs[cursor.file])? {
                heap.push(Reverse(Key(next)));
            }
        }
        agree(&same, inputs)?;
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
        out.write_all(winner.text.as_bytes())?;
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
    Ok((tally, gaps))
}

/// The records of one index must be of one input fetched from one URL: otherwise the files come
/// from different lists or templates, and merging them would interleave two runs.
fn agree(same: &[Head], inputs: &[Input]) -> anyhow::Result<()> {
    let first = &same[0];
    for h in &same[1..] {
        if h.value["input"] != first.value["input"] {
            bail!(
                "page {} is {} in {} but {} in {}: outputs of different input lists?",
                first.index,
                first.value["input"],
                first.at(inputs),
                h.value["input"],
                h.at(inputs)
            );
        }
        if h.value["url"] != first.value["url"] {
            bail!(
                "page {} was fetched from {} in {} but from {} in {}: outputs written with \
                 different templates (-t)?",
                first.index,
                first.value["url"],
                first.at(inputs),
                h.value["url"],
                h.at(inputs)
            );
        }
    }
    Ok(())
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

/// A whole number from 0 to [`MAX_COUNT`] at `field`, if there is a value there.
fn count(v: &Value, field: &str, at: &dyn Fn() -> String) -> anyhow::Result<Option<u64>> {
    match &v[field] {
        Value::Null => Ok(None),
        x => match x.as_u64() {
            Some(n) if n <= MAX_COUNT => Ok(Some(n)),
            _ => bail!(
                "{}: {field} is {x}, not a whole number from 0 to 2^53",
                at()
            ),
        },
    }
}

/// A time from 0 to [`MAX_MS`] milliseconds at `field`, if there is a value there.
fn millis(v: &Value, field: &str, at: &dyn Fn() -> String) -> anyhow::Result<Option<f64>> {
    match &v[field] {
        Value::Null => Ok(None),
        x => match x.as_f64() {
            Some(ms) if ms.is_finite() && (0.0..=MAX_MS).contains(&ms) => Ok(Some(ms)),
            _ => bail!("{}: {field} is {x}, not a time from 0 to 1e12 ms", at()),
        },
    }
}

/// The templates that could have made `url` from `input`: `url` with one or more of the places
/// holding the encoded input put back to `{}`. None when a record cannot tell: the input is a URL
/// used as it is, or it is not found in the URL (masked), or found too often to try every choice.
fn templates(input: &str, url: &str) -> Option<HashSet<String>> {
    const PROBE: &str = "http://h/?q=";
    if crate::template::is_url(input) {
        return None;
    }
    let rendered = crate::template::Template::parse(&format!("{PROBE}{{}}"))
        .ok()?
        .render(input);
    let encoded = rendered.strip_prefix(PROBE).filter(|e| !e.is_empty())?;
    let places: Vec<usize> = url.match_indices(encoded).map(|(i, _)| i).collect();
    if places.is_empty() || places.len() > 4 {
        return None;
    }
    let mut all = HashSet::new();
    for chosen in 1u32..(1 << places.len()) {
        let (mut t, mut from) = (String::new(), 0);
        for (k, &p) in places.iter().enumerate() {
            if chosen & (1 << k) != 0 {
                t.push_str(&url[from..p]);
                t.push_str("{}");
                from = p + encoded.len();
            }
        }
        t.push_str(&url[from..]);
        all.insert(t);
    }
    Some(all)
}

/// Checks the numbers of a page record and, for a file's first record that shows its template,
/// that one template could have made the URLs of this file and of the first.
fn check_page(
    v: &Value,
    at: &dyn Fn() -> String,
    shaped: &mut bool,
    seen: &mut Seen,
) -> anyhow::Result<u64> {
    let index = count(v, "index", at)?
        .ok_or_else(|| anyhow::anyhow!("{}: a page without an index", at()))?;
    for field in PAGE_COUNTS {
        count(v, field, at)?;
    }
    for field in PAGE_MS {
        millis(v, field, at)?;
    }
    if *shaped {
        return Ok(index);
    }
    let (Some(input), Some(url)) = (v["input"].as_str(), v["url"].as_str()) else {
        return Ok(index);
    };
    let Some(templates) = templates(input, url) else {
        return Ok(index);
    };
    *shaped = true;
    match &seen.shape {
        None => {
            seen.shape = Some(Shape {
                at: at(),
                input: input.to_string(),
                url: url.to_string(),
                templates,
            })
        }
        Some(first) if first.templates.is_disjoint(&templates) => bail!(
            "{} fetched {:?} from {}, but {} fetched {input:?} from {url}: outputs written with \
             different templates (-t)?",
            first.at,
            first.input,
            first.url,
            at()
        ),
        Some(_) => {}
    }
    Ok(index)
}

/// Checks the numbers of a summary line and adds what it says to `seen`.
fn check_summary(
    v: &Value,
    name: &str,
    at: &dyn Fn() -> String,
    seen: &mut Seen,
) -> anyhow::Result<()> {
    if v["schema"] != 1 {
        bail!("{}: schema {} (this pagefetch reads 1)", at(), v["schema"]);
    }
    for field in SUMMARY_COUNTS {
        count(v, field, at)?;
    }
    let hosts = v["inputs_like_hosts"].as_u64().unwrap_or(0) as usize;
    seen.inputs_like_hosts = seen.inputs_like_hosts.max(hosts);
    if let Some(inputs) = v["inputs"].as_u64() {
        if v["interrupted"] == false {
            match &seen.inputs {
                Some((n, other)) if *n != inputs => bail!(
                    "{name} is from a run over {inputs} inputs, {other} from one over {n}: \
                     outputs of different runs?"
                ),
                _ => seen.inputs = Some((inputs, name.to_string())),
            }
        }
    }
    seen.wall_ms += millis(v, "wall_ms", at)?.unwrap_or(0.0);
    let connections = v["connections"].as_u64().unwrap_or(0);
    seen.connections = seen.connections.saturating_add(connections);
    seen.concurrency = seen.concurrency.max(v["concurrency"].as_u64().unwrap_or(0));
    seen.interrupted |= v["interrupted"] == true;
    Ok(())
}

/// One pass over a file: where its sorted stretches are, and what its summaries say; checks every
/// line. Returns the file, open for the merge, and false when it holds no line at all.
fn scan(
    path: &Path,
    file: usize,
    stretches: &mut Vec<Stretch>,
    seen: &mut Seen,
) -> anyhow::Result<(Input, bool)> {
    let name = path.display().to_string();
    let f = File::open(path).with_context(|| format!("cannot open {name}"))?;
    let mut reader = BufReader::new(&f);
    let (mut offset, mut start, mut first_line, mut last) = (0u64, 0u64, 1usize, None::<u64>);
    let mut shaped = false;
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
        let at = || format!("{name}: line {number}");
        let v: Value = serde_json::from_str(&line)
            .map_err(|_| anyhow::anyhow!("{}: not a pagefetch NDJSON record", at()))?;
        match v["type"].as_str() {
            Some("page") => {
                let index = check_page(&v, &at, &mut shaped, seen)?;
                if last.is_some_and(|l| index <= l) {
                    stretches.push(Stretch {
                        file,
                        start,
                        end: offset,
                        line: first_line,
                    });
                    (start, first_line) = (offset, number);
                }
                last = Some(index);
            }
            Some("summary") => check_summary(&v, &name, &at, seen)?,
            _ => bail!(
                "{}: not the output of `pagefetch fetch --format ndjson`",
                at()
            ),
        }
        offset += n as u64;
    }
    if offset > start {
        stretches.push(Stretch {
            file,
            start,
            end: offset,
            line: first_line,
        });
    }
    drop(reader);
    Ok((Input { file: f, name }, offset > 0))
}

/// Totals of the merged records.
#[derive(Default)]
struct Tally {
    count: usize,
    ok: usize,
    cancelled: usize,
    bytes: u64,
    times: PageTimes,
    http: Vec<HttpVersion>,
    modes: Vec<String>,
    retries: usize,
    statuses: std::collections::BTreeMap<u16, usize>,
}

impl Tally {
    fn add(&mut self, v: &Value) {
        self.count += 1;
        if v["error"].is_null() {
            self.ok += 1;
        } else if v["error_kind"] == "cancelled" {
            self.cancelled += 1;
        }
        self.bytes = self.bytes.saturating_add(v["bytes"].as_u64().unwrap_or(0));
        self.retries += v["attempts"].as_u64().unwrap_or(1).saturating_sub(1) as usize;
        if let Some(status) = v["status"].as_u64().and_then(|s| u16::try_from(s).ok()) {
            *self.statuses.entry(status).or_insert(0) += 1;
        }
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

    fn summary(mut self, seen: &Seen, files: usize, gaps: u64) -> anyhow::Result<Value> {
        self.times.finish();
        self.http.sort_by_key(|v| v.name());
        let summary = RunSummary {
            mode: Strategy::Joinset,
            concurrency: usize::try_from(seen.concurrency).unwrap_or(usize::MAX),
            pages: self.count,
            ok: self.ok,
            failed: self.count - self.ok - self.cancelled,
            cancelled: self.cancelled,
            bytes: self.bytes,
            // The walls were checked one by one; their sum is as far from overflowing as 31 years
            // a file times the number of files.
            wall: std::time::Duration::try_from_secs_f64(seen.wall_ms / 1000.0)
                .with_context(|| format!("the walls add up to {} ms", seen.wall_ms))?,
            page_times: self.times,
            repeat: None,
            interrupted: seen.interrupted,
            connections: usize::try_from(seen.connections).unwrap_or(usize::MAX),
            http: self.http,
            inputs: seen
                .inputs
                .as_ref()
                .map_or(self.count, |(n, _)| *n as usize),
            retries: self.retries,
            statuses: self.statuses,
            inputs_like_hosts: seen.inputs_like_hosts,
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
        Ok(Value::Object(line))
    }
}

/// `pagefetch merge`: writes to stdout.
pub fn run(files: &[PathBuf], allow_gaps: bool) -> anyhow::Result<()> {
    // Each file stays open for the merge; with many shards the usual soft limit is too low.
    crate::limits::raise_open_files();
    let mut out = crate::output::Stdout::new();
    merge(files, allow_gaps, &mut out)?;
    Ok(())
}
