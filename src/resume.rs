//! `--resume FILE`: carry on a run that was stopped (killed, even mid-line). FILE is the NDJSON
//! output of earlier runs over the same inputs; the pages recorded there with a final outcome are
//! not fetched again, and the new records are appended, so FILE ends up holding every page once.
//!
//! A record of a `cancelled` page is not final; with `--resume-failed` neither is a failed one.
//! When one index has several records (a page refetched), the last one counts. A FILE written
//! from other inputs (an index past their end, another input at an index, another count) or with
//! another template (another URL at an index) is a usage error: appending to it would mix two runs.
//!
//! One process at a time: FILE is locked (flock, advisory) from before it is read until the run
//! ends, and a second `--resume` of it is refused at once. Records are appended (O_APPEND) in whole
//! lines, one write for each batch, so a reader or a kill never finds half a record in the middle.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::Value;

use crate::output::LineFile;
use crate::source::Done;
use crate::template::Jobs;

/// What FILE already holds, and FILE (locked) to append the rest to.
pub struct Resume {
    pub done: Done,
    /// Page records read (every record line, final or not).
    pub records: usize,
    /// FILE, locked while this lives (the lock goes with the descriptor), appended in whole lines.
    pub sink: LineFile,
}

/// Takes the advisory lock on `file`, or says that another process holds it.
fn lock(file: &File, shown: &std::path::Display<'_>) -> anyhow::Result<()> {
    // SAFETY: flock on a descriptor we own, with no pointer arguments.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.kind() == io::ErrorKind::WouldBlock {
        bail!(
            "--resume {shown}: another pagefetch holds this file (it is resuming into it now); \
             wait for that run to end, or resume into another file"
        );
    }
    Err(err).with_context(|| format!("--resume {shown}: cannot lock it"))
}

/// Locks FILE (created when missing), reads it, checks it against `jobs`, cuts off a last line
/// left unfinished by a kill, and opens it for appending.
pub fn open(path: &Path, jobs: &Jobs, refetch_failed: bool) -> anyhow::Result<Resume> {
    let shown = path.display();
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("--resume {shown}: cannot open it"))?;
    // Before reading: a run appending now would add records this one never sees.
    lock(&file, &shown)?;
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
                let job = jobs.job(index, index);
                let ours = &job.input;
                if input != ours {
                    bail!(
                        "{}: page {index} is {input:?} there but {ours:?} in this input (a file \
                         from other inputs?)",
                        at()
                    );
                }
                let url = v["url"].as_str();
                let now = job.url_shown();
                if url != now.as_deref() {
                    let show = |u: Option<&str>| u.map_or("no URL".to_string(), str::to_string);
                    bail!(
                        "{}: page {index} ({input:?}) was fetched from {} there but would be \
                         fetched from {} now (a file written with another template?)",
                        at(),
                        show(url),
                        show(now.as_deref())
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
    Ok(Resume {
        done,
        records,
        sink: LineFile::new(file, shown.to_string(), false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::terms_from_args;
    use crate::template::Template;
    use std::io::Write;

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
            "{{\"type\":\"page\",\"index\":{index},\"input\":\"{input}\",\"url\":\"http://h/?q={input}\",\"error\":{error},\"error_kind\":{error}}}\n"
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

    #[test]
    fn a_file_from_another_template_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        std::fs::write(&path, page(0, "a", None)).unwrap();
        let other = Jobs::new(
            terms_from_args(&["a"]),
            Template::parse("http://h/x?q={}").unwrap(),
        );
        let err = open(&path, &other, false).err().unwrap().to_string();
        assert!(
            err.contains("line 1")
                && err.contains("http://h/?q=a")
                && err.contains("http://h/x?q=a"),
            "{err}"
        );
    }

    #[test]
    fn a_locked_file_is_refused_until_its_holder_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let held = open(&path, &jobs(&["a"]), false).unwrap();
        let err = open(&path, &jobs(&["a"]), false).err().unwrap().to_string();
        assert!(err.contains("another pagefetch holds this file"), "{err}");
        drop(held);
        assert!(open(&path, &jobs(&["a"]), false).is_ok());
    }

    #[test]
    fn only_whole_lines_reach_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut sink = open(&path, &jobs(&["a"]), false).unwrap().sink;
        sink.write_all(b"{\"a\":1}\n{\"b\"").unwrap();
        sink.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        sink.write_all(&vec![b' '; LineFile::BATCH]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n");
        sink.write_all(b":2}\n{\"c\"").unwrap();
        drop(sink);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with(":2}\n") && !text.contains("\"c\""),
            "{text:?}"
        );
    }
}
