//! After a run: its `--check`s judged, and its loops compared with a `--baseline` (the JSON
//! document of an earlier run) in a way that knows about noise.
//!
//! A change against the baseline is `now / before - 1`. When both runs were repeated, it comes
//! with an uncertainty: twice the standard error of that ratio, from the two means and standard
//! deviations (so about a 95% interval). A change check fails only when the whole interval is
//! past its limit, passes only when the whole interval is within it, and is otherwise
//! inconclusive. Without repeats on both sides the point estimates are compared, and the output
//! says so.

use std::path::Path;

use anyhow::bail;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;

use crate::check::{Check, Measured, Metric, Outcome, Unit};
use crate::page::Strategy;
use crate::run::{RunSummary, Speedup};

/// One loop's numbers in a baseline document.
#[derive(Debug, Clone, PartialEq)]
pub struct Before {
    pub mode: String,
    /// Wall time, seconds: mean (or the one run's), standard deviation, runs.
    pub wall: Stat,
    pub p95: Option<Stat>,
}

/// A mean, its sample standard deviation and the number of runs behind it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub mean: f64,
    pub stddev: f64,
    pub runs: usize,
}

/// The loops of an earlier run, read from its JSON document.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub path: String,
    pub loops: Vec<Before>,
}

/// The parts of a `--format json` document a baseline uses: a `fetch` document is one run, a
/// `compare` document has `runs`. Every other field is skipped as it is read, never built: above
/// all `pages`, a record per page (tens of MB for a long list, and ten times that as `Value`s).
#[derive(Debug, Default, Deserialize)]
struct RunDoc {
    schema: Option<Value>,
    mode: Option<String>,
    wall_ms: Option<f64>,
    page_ms: Option<PageMsDoc>,
    repeat: Option<RepeatDoc>,
    runs: Option<Vec<RunDoc>>,
    /// Read past without keeping anything.
    #[allow(dead_code)]
    pages: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
struct PageMsDoc {
    p95: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct RepeatDoc {
    runs: Option<u64>,
    mean_ms: Option<f64>,
    stddev_ms: Option<f64>,
    p95_mean_ms: Option<f64>,
    p95_stddev_ms: Option<f64>,
}

/// The largest time a baseline may hold, in ms: a year, the longest any duration flag gives.
const MAX_MS: f64 = crate::fetch::pace::LONGEST.as_millis() as f64;

/// A time field of the baseline in seconds, when present: a mean must be above 0 (it divides), a
/// spread at least 0, and neither may pass a year or be NaN or infinite.
fn seconds(file: &str, field: &str, ms: Option<f64>, zero_ok: bool) -> anyhow::Result<Option<f64>> {
    let Some(ms) = ms else { return Ok(None) };
    let low_ok = if zero_ok { ms >= 0.0 } else { ms > 0.0 };
    if !ms.is_finite() || !low_ok || ms > MAX_MS {
        let want = match zero_ok {
            true => "at least 0",
            false => "above 0",
        };
        // 1e300 as an exponent, not three hundred digits.
        let shown = match ms.abs() < 1e15 {
            true => ms.to_string(),
            false => format!("{ms:e}"),
        };
        bail!(
            "--baseline {file}: {field} is {shown} (a time in ms must be {want} and at most a year)"
        );
    }
    Ok(Some(ms / 1000.0))
}

impl RunDoc {
    /// This run's loop, or `None` when it has no mode or no wall time (as before: skipped).
    /// `at` is where the run sits in the document (`runs[1].`, or nothing for a `fetch` one).
    fn before(&self, file: &str, at: &str) -> anyhow::Result<Option<Before>> {
        let secs = |field: &str, ms, zero_ok| seconds(file, &format!("{at}{field}"), ms, zero_ok);
        let (wall, p95) = match &self.repeat {
            Some(r) => {
                let Some(mean) = secs("repeat.mean_ms", r.mean_ms, false)? else {
                    return Ok(None);
                };
                let runs = r.runs.unwrap_or(1) as usize;
                let wall = Stat {
                    mean,
                    stddev: secs("repeat.stddev_ms", r.stddev_ms, true)?.unwrap_or(0.0),
                    runs,
                };
                let p95 = match secs("repeat.p95_mean_ms", r.p95_mean_ms, false)? {
                    Some(mean) => Some(Stat {
                        mean,
                        stddev: secs("repeat.p95_stddev_ms", r.p95_stddev_ms, true)?.unwrap_or(0.0),
                        runs,
                    }),
                    None => None,
                };
                (wall, p95)
            }
            None => {
                let Some(mean) = secs("wall_ms", self.wall_ms, false)? else {
                    return Ok(None);
                };
                let p95 = self.page_ms.as_ref().and_then(|p| p.p95);
                let p95 = secs("page_ms.p95", p95, false)?.map(|mean| Stat {
                    mean,
                    stddev: 0.0,
                    runs: 1,
                });
                let one = Stat {
                    mean,
                    stddev: 0.0,
                    runs: 1,
                };
                (one, p95)
            }
        };
        Ok(self.mode.clone().map(|mode| Before { mode, wall, p95 }))
    }
}

impl Baseline {
    /// Reads `pagefetch fetch|compare --format json` output (or `--export-json`).
    pub fn read(path: &Path) -> anyhow::Result<Baseline> {
        let shown = path.display().to_string();
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "--baseline {shown}: no such file; make one from a good run with \
                 --export-json {shown} (or --format json > {shown})"
            ),
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("--baseline {shown}: cannot read it"))
                )
            }
        };
        let doc: RunDoc = serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
            anyhow::anyhow!("--baseline {shown}: not a pagefetch JSON document ({e})")
        })?;
        let schema = doc.schema.clone().unwrap_or(Value::Null);
        if schema != 1 {
            bail!("--baseline {shown}: schema {schema} (this pagefetch reads 1)");
        }
        let mut loops = Vec::new();
        match &doc.runs {
            Some(runs) => {
                for (i, run) in runs.iter().enumerate() {
                    loops.extend(run.before(&shown, &format!("runs[{i}]."))?);
                }
            }
            None if doc.mode.is_some() => loops.extend(doc.before(&shown, "")?),
            None => bail!("--baseline {shown}: not the JSON output of pagefetch fetch or compare"),
        }
        if loops.is_empty() {
            bail!("--baseline {shown}: no run in it");
        }
        Ok(Baseline { path: shown, loops })
    }

    /// Fails unless some of `modes` ran in the baseline too.
    pub fn check_common(&self, modes: &[Strategy]) -> anyhow::Result<()> {
        if modes
            .iter()
            .any(|m| self.loops.iter().any(|b| b.mode == m.name()))
        {
            return Ok(());
        }
        let theirs: Vec<&str> = self.loops.iter().map(|b| b.mode.as_str()).collect();
        bail!(
            "--baseline {}: it ran {}, this run runs none of them",
            self.path,
            theirs.join(", ")
        )
    }
}

/// `now` against `before`, in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub now: f64,
    pub before: f64,
    pub change_pct: f64,
    /// Half the width of the interval; null when either side was not repeated.
    pub uncertainty_pct: Option<f64>,
}

impl Change {
    fn new(now: Stat, before: Stat) -> Change {
        let ratio = now.mean / before.mean;
        let uncertainty = (now.runs > 1 && before.runs > 1).then(|| {
            let se = |s: Stat| s.stddev / (s.runs as f64).sqrt() / s.mean;
            2.0 * ratio * (se(now).powi(2) + se(before).powi(2)).sqrt() * 100.0
        });
        Change {
            now: now.mean,
            before: before.mean,
            change_pct: (ratio - 1.0) * 100.0,
            uncertainty_pct: uncertainty,
        }
    }

    fn measured(&self) -> Measured {
        Measured {
            value: self.change_pct,
            uncertainty: self.uncertainty_pct,
            unit: Unit::Percent,
        }
    }
}

/// One loop compared with the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub mode: &'static str,
    /// Seconds.
    pub wall: Change,
    pub p95: Option<Change>,
}

/// Everything judged after the run.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    pub checks: Vec<Outcome>,
    pub baseline: Option<(String, Vec<Comparison>)>,
}

impl Verdict {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.pass == Some(false))
    }

    pub fn inconclusive(&self) -> bool {
        self.checks.iter().any(|c| c.pass.is_none())
    }
}

/// The run's own numbers for a loop, as a `Stat` (mean of the completed rounds).
fn now_wall(r: &RunSummary) -> Stat {
    match &r.repeat {
        Some(rep) => Stat {
            mean: rep.mean.as_secs_f64(),
            stddev: rep.stddev.as_secs_f64(),
            runs: rep.runs,
        },
        None => Stat {
            mean: r.wall.as_secs_f64(),
            stddev: 0.0,
            runs: 1,
        },
    }
}

fn now_p95(r: &RunSummary) -> Option<Stat> {
    match &r.repeat {
        Some(rep) if !rep.p95s.is_empty() => {
            let v: Vec<f64> = rep.p95s.iter().map(|d| d.as_secs_f64()).collect();
            let (mean, stddev) = crate::stats::mean_stddev(&v)?;
            Some(Stat {
                mean,
                stddev,
                runs: v.len(),
            })
        }
        _ => r.page_time(95.0).map(|d| Stat {
            mean: d.as_secs_f64(),
            stddev: 0.0,
            runs: 1,
        }),
    }
}

/// Compares the loops present in both runs.
pub fn compare(runs: &[RunSummary], baseline: &Baseline) -> Vec<Comparison> {
    runs.iter()
        .filter_map(|r| {
            let before = baseline.loops.iter().find(|b| b.mode == r.mode.name())?;
            Some(Comparison {
                mode: r.mode.name(),
                wall: Change::new(now_wall(r), before.wall),
                p95: match (now_p95(r), before.p95) {
                    (Some(now), Some(before)) => Some(Change::new(now, before)),
                    _ => None,
                },
            })
        })
        .collect()
}

/// Judges every check against the run (and the comparison with a baseline, if any).
pub fn judge(
    checks: &[Check],
    runs: &[RunSummary],
    speedup: &Speedup,
    baseline: Option<&Baseline>,
) -> Verdict {
    let comparisons = baseline.map(|b| (b.path.clone(), compare(runs, b)));
    let mut outcomes = Vec::new();
    for check in checks {
        let targets: Vec<&RunSummary> = match (check.metric, check.mode) {
            (_, Some(mode)) => runs.iter().filter(|r| r.mode == mode).collect(),
            // Each loop against the baseline loop, which has no speedup of its own.
            (Metric::Speedup, None) => runs.iter().skip(1).collect(),
            (_, None) => runs.iter().collect(),
        };
        let several = targets.len() > 1;
        for r in targets {
            let label = match several {
                true => format!("{} ({})", check.expr, r.mode.name()),
                false => check.expr.clone(),
            };
            let (measured, note) = measure(check.metric, r, speedup, comparisons.as_ref());
            let pass = match measured {
                Some(m) => check.judge(m),
                None => Some(false),
            };
            outcomes.push(Outcome {
                label,
                expr: check.expr.clone(),
                measured,
                pass,
                note,
            });
        }
    }
    Verdict {
        checks: outcomes,
        baseline: comparisons,
    }
}

/// A metric of one loop, or why it has no value.
fn measure(
    metric: Metric,
    r: &RunSummary,
    speedup: &Speedup,
    baseline: Option<&(String, Vec<Comparison>)>,
) -> (Option<Measured>, Option<String>) {
    let plain = |value, unit| {
        Some(Measured {
            value,
            uncertainty: None,
            unit,
        })
    };
    let failed = r.repeat.as_ref().map_or(r.failed, |x| x.failed_pages);
    let pages = r.pages * r.repeat.as_ref().map_or(1, |x| x.runs.max(1));
    let comparison = || baseline.and_then(|(_, cs)| cs.iter().find(|c| c.mode == r.mode.name()));
    match metric {
        Metric::Wall => (plain(r.typical_wall().as_secs_f64(), Unit::Time), None),
        Metric::Page(p) => match r.page_time(p.value()) {
            Some(d) => (plain(d.as_secs_f64(), Unit::Time), None),
            None => (None, Some("no page answered".into())),
        },
        Metric::Failed => (plain(failed as f64, Unit::Count), None),
        Metric::FailedPct => {
            let pct = if pages == 0 {
                0.0
            } else {
                failed as f64 * 100.0 / pages as f64
            };
            (plain(pct, Unit::Percent), None)
        }
        Metric::Speedup => match speedup.factors.iter().find(|(m, _)| *m == r.mode) {
            Some((_, Ok(f))) => (plain(*f, Unit::Ratio), None),
            Some((_, Err(why))) => (None, Some(why.clone())),
            None => (
                None,
                Some(format!("{} is the baseline loop", r.mode.name())),
            ),
        },
        Metric::WallChange => match comparison() {
            Some(c) => (Some(c.wall.measured()), None),
            None => (
                None,
                Some(format!("{} is not in the baseline", r.mode.name())),
            ),
        },
        Metric::P95Change => match comparison().and_then(|c| c.p95) {
            Some(c) => (Some(c.measured()), None),
            None => (None, Some("no p95 on one side".into())),
        },
    }
}

/// Checks that cannot be judged with these loops and this baseline, found before any request.
pub fn check_plan(
    checks: &[Check],
    modes: &[Strategy],
    baseline: Option<&Baseline>,
) -> anyhow::Result<()> {
    for c in checks {
        if let Some(mode) = c.mode {
            if !modes.contains(&mode) {
                bail!("--check {}: loop {} does not run here", c.expr, mode.name());
            }
        }
        if c.metric == Metric::Speedup && modes.len() < 2 {
            bail!(
                "--check {}: a speedup needs two loops (pagefetch compare)",
                c.expr
            );
        }
        if let (Metric::Speedup, Some(mode)) = (c.metric, c.mode) {
            if modes.first() == Some(&mode) {
                bail!(
                    "--check {}: {} is the baseline loop (the first of --modes), the speedup of \
                     the others is over it; name another loop",
                    c.expr,
                    mode.name()
                );
            }
        }
        if matches!(c.metric, Metric::WallChange | Metric::P95Change) {
            let Some(baseline) = baseline else {
                bail!("--check {}: a change needs --baseline FILE", c.expr);
            };
            check_in_baseline(c, modes, baseline)?;
        }
    }
    Ok(())
}

/// A change check needs each loop it is about in the baseline. An unqualified one is about every
/// loop, so a loop the baseline lacks fails before the run rather than after it: the run would
/// cost its requests only to report a check that cannot pass, and skipping the loop instead
/// would let a check pass on fewer loops than it reads as. The error says how to qualify it.
fn check_in_baseline(c: &Check, modes: &[Strategy], baseline: &Baseline) -> anyhow::Result<()> {
    let ran = |m: &Strategy| baseline.loops.iter().any(|b| b.mode == m.name());
    let targets: Vec<Strategy> = match c.mode {
        Some(mode) => vec![mode],
        None => modes.to_vec(),
    };
    let Some(missing) = targets.iter().find(|m| !ran(m)) else {
        return Ok(());
    };
    let theirs: Vec<&str> = baseline.loops.iter().map(|b| b.mode.as_str()).collect();
    let hint = match (c.mode, modes.iter().find(|m| ran(m))) {
        (None, Some(common)) => format!(
            "; qualify the check with a loop it ran, e.g. {}.{}",
            common.name(),
            c.expr
        ),
        _ => String::new(),
    };
    bail!(
        "--check {}: {} is not in the baseline {} (it ran {}){hint}",
        c.expr,
        missing.name(),
        baseline.path,
        theirs.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::report::testdata::{ok_pages, summary};
    use crate::run::Repeat;

    fn stat(mean: f64, stddev: f64, runs: usize) -> Stat {
        Stat { mean, stddev, runs }
    }

    /// A sequential run repeated over rounds with these walls (ms), as a loaded or idle machine
    /// might give them: the statistics are the run's, no clock is read.
    fn repeated(walls_ms: &[f64]) -> RunSummary {
        let walls: Vec<Duration> = walls_ms
            .iter()
            .map(|&ms| Duration::from_secs_f64(ms / 1000.0))
            .collect();
        let (mean, sd) = crate::stats::mean_stddev(walls_ms).unwrap();
        let mut r = summary(Strategy::Sequential, &ok_pages(), walls_ms[0] as u64);
        r.repeat = Some(Repeat {
            runs: walls.len(),
            min: *walls.iter().min().unwrap(),
            median: crate::stats::median(&walls).unwrap(),
            max: *walls.iter().max().unwrap(),
            mean: Duration::from_secs_f64(mean / 1000.0),
            stddev: Duration::from_secs_f64(sd / 1000.0),
            walls,
            p95s: vec![Duration::from_millis(150); walls_ms.len()],
            failed_pages: 0,
        });
        r
    }

    /// A baseline of one sequential loop: wall `mean_ms` ± `sd_ms` over `runs` runs.
    fn baseline(mean_ms: f64, sd_ms: f64, runs: usize) -> Baseline {
        Baseline {
            path: "base.json".into(),
            loops: vec![Before {
                mode: "sequential".into(),
                wall: stat(mean_ms / 1000.0, sd_ms / 1000.0, runs),
                p95: None,
            }],
        }
    }

    /// The outcome of `check` on `run` against `base`.
    fn judged(check: &str, run: &RunSummary, base: &Baseline) -> Outcome {
        let checks = [check.parse::<Check>().unwrap()];
        let runs = std::slice::from_ref(run);
        let v = judge(&checks, runs, &Speedup::compute(runs), Some(base));
        assert_eq!(v.checks.len(), 1);
        assert_eq!(v.failed(), v.checks[0].pass == Some(false));
        assert_eq!(v.inconclusive(), v.checks[0].pass.is_none());
        v.checks[0].clone()
    }

    #[test]
    fn a_baseline_change_passes_fails_or_is_inconclusive() {
        // About 200 ms a run, steady: the same as a steady 200 ms baseline passes.
        let now = repeated(&[198.0, 200.0, 202.0]);
        let same = judged("wall_change<=10%", &now, &baseline(200.0, 2.0, 3));
        assert_eq!(same.pass, Some(true), "{same:?}");
        let m = same.measured.unwrap();
        assert!(m.value.abs() < 1e-6, "{m:?}");
        assert!(m.uncertainty.unwrap() > 0.0);
        // Twice as fast before: +100%, the whole interval past 10%: fails.
        let slower = judged("wall_change<=10%", &now, &baseline(100.0, 2.0, 3));
        assert_eq!(slower.pass, Some(false), "{slower:?}");
        assert!((slower.measured.unwrap().value - 100.0).abs() < 1e-6);
        // A noisy baseline whose interval straddles 10%: inconclusive.
        let noisy = judged("wall_change<=10%", &now, &baseline(185.0, 60.0, 3));
        assert_eq!(noisy.pass, None, "{noisy:?}");
        let m = noisy.measured.unwrap();
        let (low, high) = (
            m.value - m.uncertainty.unwrap(),
            m.value + m.uncertainty.unwrap(),
        );
        assert!(low < 10.0 && 10.0 < high, "{m:?}");
        assert_eq!(noisy.result_word(), "inconclusive");
        // The run's own noise widens the interval as much as the baseline's does.
        let noisy_now = repeated(&[150.0, 200.0, 270.0]);
        assert_eq!(
            judged("wall_change<=10%", &noisy_now, &baseline(200.0, 2.0, 3)).pass,
            None
        );
        // A baseline run once: point estimates, no interval; 8% is within 10%, 20% is not.
        let once = judged("wall_change<=10%", &now, &baseline(185.0, 0.0, 1));
        assert_eq!(once.measured.unwrap().uncertainty, None);
        assert_eq!(once.pass, Some(true));
        let once = judged("wall_change<=10%", &now, &baseline(166.0, 0.0, 1));
        assert_eq!(once.pass, Some(false), "{once:?}");
        // A loop the baseline lacks has no change to judge: it fails, and says why.
        let mut other = now.clone();
        other.mode = Strategy::Joinset;
        let missing = judged("wall_change<=10%", &other, &baseline(200.0, 2.0, 3));
        assert_eq!(missing.pass, Some(false));
        assert_eq!(
            missing.note.as_deref(),
            Some("joinset is not in the baseline")
        );
    }

    #[test]
    fn a_change_carries_an_interval_only_when_both_sides_repeated() {
        let c = Change::new(stat(1.1, 0.02, 5), stat(1.0, 0.01, 5));
        assert!((c.change_pct - 10.0).abs() < 1e-9);
        // 2 x 1.1 x sqrt((0.02/sqrt5/1.1)^2 + (0.01/sqrt5/1.0)^2) x 100
        let se = ((0.02 / 5f64.sqrt() / 1.1).powi(2) + (0.01 / 5f64.sqrt()).powi(2)).sqrt();
        assert!((c.uncertainty_pct.unwrap() - 2.0 * 1.1 * se * 100.0).abs() < 1e-9);
        assert_eq!(
            Change::new(stat(1.1, 0.0, 1), stat(1.0, 0.01, 5)).uncertainty_pct,
            None
        );
    }

    #[test]
    fn a_baseline_is_read_from_either_document() {
        let dir = tempfile::tempdir().unwrap();
        let fetch = dir.path().join("fetch.json");
        std::fs::write(
            &fetch,
            r#"{"schema":1,"mode":"joinset","wall_ms":1200.0,"page_ms":{"p95":300.0}}"#,
        )
        .unwrap();
        let b = Baseline::read(&fetch).unwrap();
        assert_eq!(b.loops[0].wall, stat(1.2, 0.0, 1));
        assert_eq!(b.loops[0].p95, Some(stat(0.3, 0.0, 1)));
        let compare = dir.path().join("compare.json");
        std::fs::write(
            &compare,
            r#"{"schema":1,"runs":[{"mode":"sequential","wall_ms":5,"repeat":{"runs":3,"mean_ms":2000.0,"stddev_ms":100.0,"p95_mean_ms":400.0,"p95_stddev_ms":10.0}}]}"#,
        )
        .unwrap();
        let b = Baseline::read(&compare).unwrap();
        assert_eq!(b.loops[0].wall, stat(2.0, 0.1, 3));
        assert!(b.check_common(&[Strategy::Joinset]).is_err());
        assert!(b
            .check_common(&[Strategy::Sequential, Strategy::Joinset])
            .is_ok());
        std::fs::write(&fetch, r#"{"schema":2,"mode":"joinset"}"#).unwrap();
        assert!(Baseline::read(&fetch)
            .unwrap_err()
            .to_string()
            .contains("schema 2"));
    }

    #[test]
    fn a_baseline_is_read_past_its_pages_without_building_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let page = r#"{"index":1,"input":"a","url":"http://h/?q=a","status":200,"bytes":9,"x":[1,{"y":null}]}"#;
        let pages = vec![page; 50_000].join(",");
        let doc = format!(
            r#"{{"schema":1,"runs":[{{"pages":[{pages}],"mode":"joinset","wall_ms":100.0}},{{"pages":[],"mode":"sequential","wall_ms":400.0}}]}}"#
        );
        std::fs::write(&path, &doc).unwrap();
        let b = Baseline::read(&path).unwrap();
        assert_eq!(b.loops.len(), 2);
        assert_eq!(
            (b.loops[0].mode.as_str(), b.loops[0].wall),
            ("joinset", stat(0.1, 0.0, 1))
        );
        // The document type keeps nothing of the pages: they are `IgnoredAny`.
        let typed: RunDoc = serde_json::from_str(&doc).unwrap();
        let runs = typed.runs.unwrap();
        assert!(matches!(runs[0].pages, Some(IgnoredAny)));
    }

    #[test]
    fn a_baseline_time_must_be_one_a_run_can_have() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            let err = seconds("b.json", "wall_ms", Some(bad), false).unwrap_err();
            assert!(
                err.to_string().contains("b.json: wall_ms is"),
                "{bad}: {err}"
            );
        }
        assert_eq!(
            seconds("b.json", "repeat.stddev_ms", Some(0.0), true).unwrap(),
            Some(0.0)
        );
        assert!(seconds("b.json", "repeat.stddev_ms", Some(-0.5), true).is_err());
        let huge = seconds("b.json", "wall_ms", Some(1e300), false).unwrap_err();
        assert!(huge.to_string().contains("wall_ms is 1e300 "), "{huge}");
        assert_eq!(
            seconds("b.json", "wall_ms", Some(1500.0), false).unwrap(),
            Some(1.5)
        );
        assert_eq!(seconds("b.json", "wall_ms", None, false).unwrap(), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zero.json");
        std::fs::write(
            &path,
            r#"{"schema":1,"runs":[{"mode":"sequential","wall_ms":5},{"mode":"joinset","repeat":{"runs":3,"mean_ms":0}}]}"#,
        )
        .unwrap();
        let err = Baseline::read(&path).unwrap_err().to_string();
        assert!(
            err.contains("zero.json: runs[1].repeat.mean_ms is 0"),
            "{err}"
        );
        let err = Baseline::read(&dir.path().join("none.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("none.json: no such file") && err.contains("--export-json"),
            "{err}"
        );
    }

    #[test]
    fn checks_that_cannot_be_judged_fail_before_the_run() {
        let c = |s: &str| s.parse::<Check>().unwrap();
        let two = [Strategy::Sequential, Strategy::Joinset];
        let err = check_plan(&[c("speedup.sequential>=1")], &two, None).unwrap_err();
        assert!(
            err.to_string().contains("sequential is the baseline loop"),
            "{err}"
        );
        assert!(check_plan(&[c("speedup.joinset>=1")], &two, None).is_ok());
        assert!(check_plan(&[c("speedup>=1")], &two, None).is_ok());
        let seq_only = Baseline {
            path: "seq.json".into(),
            loops: vec![Before {
                mode: "sequential".into(),
                wall: stat(1.0, 0.0, 1),
                p95: None,
            }],
        };
        let err = check_plan(&[c("wall_change<=10%")], &two, Some(&seq_only)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--check wall_change<=10%: joinset is not in the baseline seq.json (it ran \
             sequential); qualify the check with a loop it ran, e.g. sequential.wall_change<=10%"
        );
        let err = check_plan(&[c("joinset.p95_change<=10%")], &two, Some(&seq_only)).unwrap_err();
        assert!(
            err.to_string().contains("joinset is not in the baseline"),
            "{err}"
        );
        for fine in ["sequential.wall_change<=10%", "wall_change<=10%"] {
            let modes = match fine.starts_with("seq") {
                true => &two[..],
                false => &two[..1],
            };
            assert!(
                check_plan(&[c(fine)], modes, Some(&seq_only)).is_ok(),
                "{fine}"
            );
        }
    }
}
