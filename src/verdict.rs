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

use anyhow::{bail, Context};
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

impl Baseline {
    /// Reads `pagefetch fetch|compare --format json` output (or `--export-json`).
    pub fn read(path: &Path) -> anyhow::Result<Baseline> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--baseline {shown}: cannot read it"))?;
        let doc: Value = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("--baseline {shown}: not a JSON document ({e})"))?;
        if doc["schema"] != 1 {
            bail!(
                "--baseline {shown}: schema {} (this pagefetch reads 1)",
                doc["schema"]
            );
        }
        let runs: Vec<&Value> = match doc["runs"].as_array() {
            Some(runs) => runs.iter().collect(),
            None if doc["mode"].is_string() => vec![&doc],
            None => bail!("--baseline {shown}: not the JSON output of pagefetch fetch or compare"),
        };
        let loops = runs
            .iter()
            .filter_map(|r| {
                let sec = |v: &Value| v.as_f64().map(|ms| ms / 1000.0);
                let repeat = &r["repeat"];
                let wall = match repeat.is_object() {
                    true => Stat {
                        mean: sec(&repeat["mean_ms"])?,
                        stddev: sec(&repeat["stddev_ms"]).unwrap_or(0.0),
                        runs: repeat["runs"].as_u64().unwrap_or(1) as usize,
                    },
                    false => Stat {
                        mean: sec(&r["wall_ms"])?,
                        stddev: 0.0,
                        runs: 1,
                    },
                };
                let p95 = match repeat.is_object() {
                    true => sec(&repeat["p95_mean_ms"]).map(|mean| Stat {
                        mean,
                        stddev: sec(&repeat["p95_stddev_ms"]).unwrap_or(0.0),
                        runs: wall.runs,
                    }),
                    false => sec(&r["page_ms"]["p95"]).map(|mean| Stat {
                        mean,
                        stddev: 0.0,
                        runs: 1,
                    }),
                };
                Some(Before {
                    mode: r["mode"].as_str()?.to_string(),
                    wall,
                    p95,
                })
            })
            .collect::<Vec<_>>();
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
        if matches!(c.metric, Metric::WallChange | Metric::P95Change) && baseline.is_none() {
            bail!("--check {}: a change needs --baseline FILE", c.expr);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mean: f64, stddev: f64, runs: usize) -> Stat {
        Stat { mean, stddev, runs }
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
}
