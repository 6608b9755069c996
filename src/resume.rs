//! `--resume FILE`: carry on a run that was stopped (killed, even mid-line). FILE is the NDJSON
//! output of earlier runs over the same inputs; the pages recorded there with a final outcome are
//! not fetched again, and the new records are appended, so FILE ends up holding every page once.
//!
//! A record of a `cancelled` page is not final; with `--resume-failed` neither is a failed one.
//! When one index has several records (a page refetched), the last one counts. A FILE written
//! from other inputs (an index past their end, another input at an index, another count) is a
//! usage error: appending to it would mix two lists.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::source::Done;
use crate::template::Jobs;

/// What FILE already holds, and FILE opened to append the rest.
pub struct Resume {
    pub done: Done,
    /// Page records read (every record line, final or not).
    pub records: usize,
    pub file: File,
}

/// Reads FILE (created when missing), checks it against `jobs`, cuts off a last line left
/// unfinished by a kill, and opens it for appending.
pub fn open(path: &Path, jobs: &Jobs, refetch_failed: bool) -> anyhow::Result<Resume> {
    let shown = path.display();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("--resume {shown}: cannot open it"))?;
    let mut done = Done::default();
    let mut records = 0;
    // End of the last complete line: anything after it was cut off mid-write.
    let mut keep = 0u64;
    let mut reader = BufReader::new(&file);
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("--resume {shown}: cannot read it"))?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        keep += n as u64;
        let at = || format!("--resume {shown}: line {number}");
        let v: Value = serde_json::from_slice(&line)
            .map_err(|_| anyhow::anyhow!("{}: not a pagefetch NDJSON record", at()))?;
        match v["type"].as_str() {
            Some("page") => {
                records += 1;
                let index = v["index"]
                    .as_u64()
                    .ok_or_else(|| anyhow::anyhow!("{}: a page record without an index", at()))?
                    as usize;
                if index >= jobs.len() {
                    bail!(
                        "{}: page {index}, but this input has {} items (a file from other inputs?)",
                        at(),
                        jobs.len()
                    );
                }
                let input = v["input"].as_str().unwrap_or_default();
                let ours = jobs.job(index, index).input;
                if input != ours {
                    bail!(
                        "{}: page {index} is {input:?} there but {ours:?} in this input (a file \
                         from other inputs?)",
                        at()
                    );
                }
                let cancelled = v["error_kind"] == "cancelled";
                let failed = !v["error"].is_null();
                match cancelled || (refetch_failed && failed) {
                    true => done.remove(index),
                    false => done.insert(index),
                }
            }
            Some("summary") => {
                if v["schema"] != 1 {
                    bail!("{}: schema {} (this pagefetch writes 1)", at(), v["schema"]);
                }
                let inputs = v["inputs"].as_u64();
                if v["interrupted"] == false && inputs.is_some_and(|n| n as usize != jobs.len()) {
                    bail!(
                        "{}: a run over {} inputs, but this input has {} (a file from other inputs?)",
                        at(),
                        inputs.unwrap_or(0),
                        jobs.len()
                    );
                }
            }
            _ => bail!(
                "{}: not the output of `pagefetch fetch --format ndjson`",
                at()
            ),
        }
    }
    drop(reader);
    file.set_len(keep)
        .with_context(|| format!("--resume {shown}: cannot cut off its unfinished last line"))?;
    file.seek(SeekFrom::End(0))?;
    Ok(Resume {
        done,
        records,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::terms_from_args;
    use crate::template::Template;

    fn jobs(terms: &[&str]) -> Jobs {
        Jobs::new(
            terms_from_args(terms),
            Template::parse("http://h/?q={}").unwrap(),
        )
    }

    fn page(index: usize, input: &str, error_kind: Option<&str>) -> String {
        let error = error_kind
            .map(|k| format!("\"{k}\""))
            .unwrap_or("null".into());
        format!(
            "{{\"type\":\"page\",\"index\":{index},\"input\":\"{input}\",\"error\":{error},\"error_kind\":{error}}}\n"
        )
    }

    #[test]
    fn final_records_are_done_cancelled_ones_not_and_a_cut_line_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let text = [
            page(0, "a", None),
            page(1, "b", Some("cancelled")),
            page(2, "c", Some("connect")),
            page(3, "d", None),
            "{\"type\":\"page\",\"index\":4,\"inp".to_string(),
        ]
        .concat();
        std::fs::write(&path, &text).unwrap();
        let jobs = jobs(&["a", "b", "c", "d", "e"]);
        let r = open(&path, &jobs, false).unwrap();
        assert_eq!(r.records, 4);
        let done: Vec<usize> = (0..5).filter(|&i| r.done.contains(i)).collect();
        assert_eq!(done, [0, 2, 3]);
        drop(r);
        // The unfinished record is gone; the file ends with a complete line.
        let kept = std::fs::read_to_string(&path).unwrap();
        assert!(
            kept.ends_with("null}\n") && !kept.contains("\"inp\n"),
            "{kept}"
        );
        // --resume-failed: the failed page is fetched again too.
        let r = open(&path, &jobs, true).unwrap();
        assert!(!r.done.contains(2));
    }

    #[test]
    fn a_file_from_other_inputs_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        std::fs::write(&path, page(1, "pear", None)).unwrap();
        let err = open(&path, &jobs(&["a", "b"]), false)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("line 1") && err.contains("\"pear\"") && err.contains("\"b\""),
            "{err}"
        );
        std::fs::write(&path, page(7, "b", None)).unwrap();
        let err = open(&path, &jobs(&["a", "b"]), false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("this input has 2 items"), "{err}");
        let summary = "{\"type\":\"summary\",\"schema\":1,\"interrupted\":false,\"inputs\":3}\n";
        std::fs::write(&path, summary).unwrap();
        let err = open(&path, &jobs(&["a", "b"]), false)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("a run over 3 inputs"), "{err}");
        std::fs::write(&path, "not json\n").unwrap();
        assert!(open(&path, &jobs(&["a"]), false).is_err());
        // A missing file is a fresh start.
        let fresh = dir.path().join("new.ndjson");
        assert_eq!(open(&fresh, &jobs(&["a"]), false).unwrap().records, 0);
    }
}
