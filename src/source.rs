//! Where a run's jobs come from, one at a time, as a loop asks for them: the in-memory list (for
//! `compare` and `--repeat`, which need the inputs more than once) or lines read as they arrive
//! (`fetch`). The loops never index a list, so streaming, `--shard` and `--resume` change the
//! source, not the loops.

use std::sync::Arc;

use crate::input::stream::{Msg, Stream};
use crate::input::Origin;
use crate::page::Job;
use crate::template::{Jobs, Template};

/// Which inputs this process fetches: `--shard K/N` keeps the indices i with i mod N = K, and
/// `--resume` leaves out those already done.
#[derive(Debug, Clone, Default)]
pub struct Select {
    pub shard: Option<Shard>,
    pub skip: Option<Arc<Done>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: usize,
    pub n: usize,
}

/// Input indices already done (one bit each).
#[derive(Debug, Default)]
pub struct Done {
    bits: Vec<u64>,
    count: usize,
}

impl Done {
    pub fn insert(&mut self, index: usize) {
        let (word, bit) = (index / 64, index % 64);
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) == 0 {
            self.bits[word] |= 1 << bit;
            self.count += 1;
        }
    }

    pub fn remove(&mut self, index: usize) {
        if self.contains(index) {
            self.bits[index / 64] &= !(1 << (index % 64));
            self.count -= 1;
        }
    }

    pub fn contains(&self, index: usize) -> bool {
        self.bits
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl Select {
    pub fn wants(&self, index: usize) -> bool {
        self.shard.is_none_or(|s| index % s.n == s.k)
            && self.skip.as_ref().is_none_or(|d| !d.contains(index))
    }
}

pub struct Source<'a> {
    from: From<'a>,
    /// Told the total once the input ends.
    progress: Option<indicatif::ProgressBar>,
    select: Select,
    /// Input index of the next item.
    index: usize,
    /// Sequence number of the next job handed out.
    seq: usize,
    /// Why reading stopped early, if it did.
    failed: Option<String>,
}

enum From<'a> {
    List(&'a Jobs),
    Stream {
        stream: Stream,
        template: &'a Template,
        /// A message taken to look ahead, not yet handed out.
        peeked: Option<Msg>,
    },
}

impl<'a> Source<'a> {
    pub fn list(jobs: &'a Jobs, select: Select) -> Source<'a> {
        Source::new(From::List(jobs), select)
    }

    pub fn stream(stream: Stream, template: &'a Template, select: Select) -> Source<'a> {
        let from = From::Stream {
            stream,
            template,
            peeked: None,
        };
        Source::new(from, select)
    }

    fn new(from: From<'a>, select: Select) -> Source<'a> {
        Source {
            from,
            progress: None,
            select,
            index: 0,
            seq: 0,
            failed: None,
        }
    }

    /// The bar to tell the total when the input ends.
    pub fn with_progress(mut self, bar: indicatif::ProgressBar) -> Self {
        self.progress = Some(bar);
        self
    }

    /// Sequence number of the next job.
    pub fn position(&self) -> usize {
        self.seq
    }

    /// Input items read so far (taken or left out by the selection).
    pub fn read(&self) -> usize {
        self.index
    }

    /// How many jobs there will be, when known (a list).
    pub fn len_hint(&self) -> Option<usize> {
        match &self.from {
            From::List(jobs) => Some((0..jobs.len()).filter(|&i| self.select.wants(i)).count()),
            From::Stream { .. } => None,
        }
    }

    /// Why the input stopped before its end, if it did (an unreadable file).
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// The next job, waiting for input if none has arrived yet; `None` at the end. Cancel-safe:
    /// a job is counted only when it is returned.
    pub async fn next(&mut self) -> Option<Arc<Job>> {
        // No new page while a paused reader holds too many records in memory (see spool.rs).
        crate::spool::room().await;
        loop {
            let index = self.index;
            let job = match &mut self.from {
                From::List(jobs) => {
                    if index >= jobs.len() {
                        return None;
                    }
                    self.index += 1;
                    if !self.select.wants(index) {
                        continue;
                    }
                    jobs.job(index, self.seq)
                }
                From::Stream {
                    stream,
                    template,
                    peeked,
                } => {
                    let msg = match peeked.take() {
                        Some(m) => m,
                        None => match stream.recv().await {
                            Some(m) => m,
                            None => {
                                if let Some(bar) = &self.progress {
                                    crate::progress::known_length(bar, self.seq);
                                }
                                return None;
                            }
                        },
                    };
                    let (line, from_file) = match msg {
                        Msg::Item { line, from_file } => (line, from_file),
                        Msg::Failed(e) => {
                            self.failed = Some(e);
                            return None;
                        }
                    };
                    self.index += 1;
                    if !self.select.wants(index) {
                        continue;
                    }
                    let origin = match from_file {
                        true => Origin::Line {
                            source: &stream.source,
                            line: line.number,
                        },
                        false => Origin::Arg(line.number),
                    };
                    let text = line.text.as_deref().map_err(String::as_str);
                    template.job(index, self.seq, text, origin)
                }
            };
            self.seq += 1;
            return Some(Arc::new(job));
        }
    }

    /// The jobs not started, as far as they are known: the rest of a list (after an interruption
    /// they are reported as cancelled). A stream's lines not yet taken are not read any further.
    pub fn rest(&mut self) -> Vec<Arc<Job>> {
        let mut jobs = Vec::new();
        if let From::List(_) = self.from {
            while let Some(job) = futures::FutureExt::now_or_never(self.next()).flatten() {
                jobs.push(job);
            }
        }
        jobs
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N` with 0 <= K < N; `auto/N` takes K from the environment of the usual schedulers.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("expected K/N (e.g. 0/4) or auto/N, got {s:?}"))?;
        let n: usize = n
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("N in {s:?} must be a whole number above 0"))?;
        let k = match k {
            "auto" => shard_from_env(|v| std::env::var(v).ok())?,
            k => k
                .parse()
                .map_err(|_| format!("K in {s:?} must be a whole number or 'auto'"))?,
        };
        if k >= n {
            return Err(format!(
                "shard {k} of {n}: K must be below N (0 to {})",
                n - 1
            ));
        }
        Ok(Shard { k, n })
    }
}

/// K from `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job), `SLURM_ARRAY_TASK_ID` -
/// `SLURM_ARRAY_TASK_MIN` (Slurm array: `--array=1-4` numbers its tasks from 1), or `PARALLEL_SEQ`
/// - 1 (GNU parallel), in that order.
pub fn shard_from_env(var: impl Fn(&str) -> Option<String>) -> Result<usize, String> {
    let number = |name: &str, v: String| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("--shard auto: {name}={v:?} is not a whole number"))
    };
    if let Some(v) = var("JOB_COMPLETION_INDEX") {
        return number("JOB_COMPLETION_INDEX", v);
    }
    if let Some(v) = var("SLURM_ARRAY_TASK_ID") {
        let id = number("SLURM_ARRAY_TASK_ID", v)?;
        let Some(min) = var("SLURM_ARRAY_TASK_MIN") else {
            return Ok(id);
        };
        let min = number("SLURM_ARRAY_TASK_MIN", min)?;
        return id.checked_sub(min).ok_or_else(|| {
            format!("--shard auto: SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
        });
    }
    if let Some(v) = var("PARALLEL_SEQ") {
        return number("PARALLEL_SEQ", v)?
            .checked_sub(1)
            .ok_or_else(|| "--shard auto: PARALLEL_SEQ starts at 1".to_string());
    }
    Err(
        "--shard auto/N: none of JOB_COMPLETION_INDEX (Kubernetes), SLURM_ARRAY_TASK_ID (Slurm) \
         or PARALLEL_SEQ (GNU parallel) is set; give K yourself (--shard K/N)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_auto_reads_the_schedulers_variables() {
        assert_eq!("1/4".parse::<Shard>(), Ok(Shard { k: 1, n: 4 }));
        for bad in ["4/4", "1", "x/2", "1/0", "-1/3"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            shard_from_env(env(&[
                ("JOB_COMPLETION_INDEX", "3"),
                ("SLURM_ARRAY_TASK_ID", "1")
            ])),
            Ok(3)
        );
        assert_eq!(
            shard_from_env(env(&[("SLURM_ARRAY_TASK_ID", "1"), ("PARALLEL_SEQ", "5")])),
            Ok(1)
        );
        // sbatch --array=1-4: the last task is shard 3 (of 4), counted from the array's first.
        let slurm = |id: &str, min: &str| {
            shard_from_env(|name: &str| match name {
                "SLURM_ARRAY_TASK_ID" => Some(id.to_string()),
                "SLURM_ARRAY_TASK_MIN" => Some(min.to_string()),
                _ => None,
            })
        };
        assert_eq!(slurm("4", "1"), Ok(3));
        assert_eq!(slurm("1", "1"), Ok(0));
        assert_eq!(slurm("12", "10"), Ok(2));
        assert_eq!(slurm("3", "0"), Ok(3));
        assert!(slurm("0", "1")
            .unwrap_err()
            .contains("below SLURM_ARRAY_TASK_MIN"));
        assert!(slurm("2", "x").is_err());
        assert_eq!(shard_from_env(env(&[("PARALLEL_SEQ", "5")])), Ok(4));
        assert!(shard_from_env(env(&[("PARALLEL_SEQ", "0")])).is_err());
        let none = shard_from_env(env(&[])).unwrap_err();
        assert!(
            none.contains("JOB_COMPLETION_INDEX") && none.contains("PARALLEL_SEQ"),
            "{none}"
        );
    }

    #[test]
    fn a_list_source_shards_and_skips_keeping_global_indices() {
        let terms = crate::input::terms_from_args(&["a", "b", "c", "d", "e", "f", "g"]);
        let jobs = Jobs::new(terms, Template::parse("http://h/?q={}").unwrap());
        let mut done = Done::default();
        done.insert(4);
        let select = Select {
            shard: Some(Shard { k: 1, n: 3 }),
            skip: Some(Arc::new(done)),
        };
        let mut source = Source::list(&jobs, select);
        assert_eq!(source.len_hint(), Some(1));
        let mut got = Vec::new();
        while let Some(job) = futures::FutureExt::now_or_never(source.next()).flatten() {
            got.push((job.index, job.seq, job.input.clone()));
        }
        // Indices 1, 4 (done) and 7 (past the end): only 1 is left.
        assert_eq!(got, [(1, 0, "b".to_string())]);
    }
}
