//! `--check EXPR`: a condition on a run's numbers that fails the build (exit 3) when it does not
//! hold, as k6's thresholds do. EXPR is `METRIC OP VALUE`:
//!
//! - METRIC: `wall` (median wall time), `p50` `p90` `p95` `p99` `max` (page time), `failed`
//!   (pages), `failed_pct`, `speedup` (each loop over the baseline loop), `wall_change` and
//!   `p95_change` (percent, against `--baseline`); qualified by a loop with a dot:
//!   `joinset.wall`, `speedup.join-all`.
//! - OP: `<` `<=` `>` `>=` `==`.
//! - VALUE: a duration (`800ms`, `2s`), a number, or a percentage (`5%`).
//!
//! Expressions are parsed before any request, so a typo is a usage error (2) that costs nothing.

use std::fmt;
use std::time::Duration;

use crate::page::Strategy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Wall,
    Page(Pct),
    Failed,
    FailedPct,
    Speedup,
    WallChange,
    P95Change,
}

/// A page-time percentile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pct {
    P50,
    P90,
    P95,
    P99,
    Max,
}

impl Pct {
    pub fn value(self) -> f64 {
        match self {
            Pct::P50 => 50.0,
            Pct::P90 => 90.0,
            Pct::P95 => 95.0,
            Pct::P99 => 99.0,
            Pct::Max => 100.0,
        }
    }
}

/// What a metric is measured in, and so which values it may be compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Time,
    Count,
    Percent,
    Ratio,
}

impl Metric {
    fn parse(s: &str) -> Option<Metric> {
        Some(match s {
            "wall" => Metric::Wall,
            "p50" => Metric::Page(Pct::P50),
            "p90" => Metric::Page(Pct::P90),
            "p95" => Metric::Page(Pct::P95),
            "p99" => Metric::Page(Pct::P99),
            "max" => Metric::Page(Pct::Max),
            "failed" => Metric::Failed,
            "failed_pct" => Metric::FailedPct,
            "speedup" => Metric::Speedup,
            "wall_change" => Metric::WallChange,
            "p95_change" => Metric::P95Change,
            _ => return None,
        })
    }

    pub fn unit(self) -> Unit {
        match self {
            Metric::Wall | Metric::Page(_) => Unit::Time,
            Metric::Failed => Unit::Count,
            Metric::FailedPct | Metric::WallChange | Metric::P95Change => Unit::Percent,
            Metric::Speedup => Unit::Ratio,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => (a - b).abs() < 1e-9,
        }
    }
}

/// One parsed `--check`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The expression as given, for the report.
    pub expr: String,
    pub metric: Metric,
    /// The loop it is about, when qualified.
    pub mode: Option<Strategy>,
    pub op: Op,
    /// The limit: seconds for a time, a plain number for a count or a ratio, percent points for
    /// a percentage.
    pub limit: f64,
}

impl std::str::FromStr for Check {
    type Err = String;

    fn from_str(s: &str) -> Result<Check, String> {
        let expr = s.trim();
        let at = expr
            .find(['<', '>', '='])
            .ok_or_else(|| format!("{expr:?}: expected METRIC OP VALUE, e.g. p95<=300ms"))?;
        let (left, rest) = expr.split_at(at);
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .iter()
        .find_map(|(text, op)| rest.strip_prefix(text).map(|v| (*op, v)))
        .ok_or_else(|| format!("{expr:?}: the operator must be one of < <= > >= =="))?;
        let (metric, mode) = parse_metric(left.trim()).map_err(|e| format!("{expr:?}: {e}"))?;
        let limit =
            parse_value(value.trim(), metric.unit()).map_err(|e| format!("{expr:?}: {e}"))?;
        Ok(Check {
            expr: expr.to_string(),
            metric,
            mode,
            op,
            limit,
        })
    }
}

const METRICS: &str =
    "wall, p50, p90, p95, p99, max, failed, failed_pct, speedup, wall_change, p95_change";

/// `p95`, `joinset.p95`, `speedup.join-all`.
fn parse_metric(s: &str) -> Result<(Metric, Option<Strategy>), String> {
    let loop_named = |name: &str| {
        [Strategy::Sequential, Strategy::Joinset, Strategy::JoinAll]
            .into_iter()
            .find(|m| m.name() == name)
    };
    let unknown = || {
        format!("unknown metric {s:?} (metrics: {METRICS}; a loop may qualify one: joinset.wall)")
    };
    if let Some(m) = Metric::parse(s) {
        return Ok((m, None));
    }
    let (a, b) = s.split_once('.').ok_or_else(unknown)?;
    match (
        loop_named(a),
        Metric::parse(b),
        Metric::parse(a),
        loop_named(b),
    ) {
        (Some(mode), Some(m), _, _) | (_, _, Some(m), Some(mode)) => Ok((m, Some(mode))),
        _ => Err(unknown()),
    }
}

fn parse_value(s: &str, unit: Unit) -> Result<f64, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{s:?} is not a number"))
    };
    match unit {
        Unit::Time => match humantime::parse_duration(s) {
            Ok(d) => Ok(d.as_secs_f64()),
            Err(_) => Err(format!("{s:?} is not a duration (e.g. 300ms, 2s)")),
        },
        Unit::Percent => match s.strip_suffix('%') {
            Some(p) => number(p),
            None => Err(format!("{s:?}: give a percentage, e.g. 5%")),
        },
        Unit::Count | Unit::Ratio => number(s),
    }
}

/// A measured value, printed in its unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub value: f64,
    /// For a change against a baseline: half the width of its interval.
    pub uncertainty: Option<f64>,
    pub unit: Unit,
}

impl fmt::Display for Measured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unit {
            Unit::Time => f.write_str(&crate::stats::human(Duration::from_secs_f64(
                self.value.max(0.0),
            ))),
            Unit::Count => write!(f, "{}", self.value),
            Unit::Ratio => write!(f, "{:.2}x", self.value),
            Unit::Percent => match self.uncertainty {
                Some(u) => write!(f, "{:+.1}% ± {u:.1}%", self.value),
                None => write!(f, "{:.1}%", self.value),
            },
        }
    }
}

/// The outcome of one check on one loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `p95<=300ms`, with the loop when the check applied to several: `p95<=300ms (joinset)`.
    pub label: String,
    pub expr: String,
    pub measured: Option<Measured>,
    /// `None`: inconclusive (a change whose interval straddles the limit), or nothing to measure.
    pub pass: Option<bool>,
    /// Why there is no value, when there is none.
    pub note: Option<String>,
}

impl Outcome {
    /// What was measured, as printed: `212.4 ms`, or `n/a (why)`.
    pub fn value_text(&self) -> String {
        match (&self.measured, &self.note) {
            (Some(m), _) => m.to_string(),
            (None, Some(note)) => format!("n/a ({note})"),
            (None, None) => "n/a".into(),
        }
    }

    /// `ok`, `FAILED` or `inconclusive`.
    pub fn result_word(&self) -> &'static str {
        match self.pass {
            Some(true) => "ok",
            Some(false) => "FAILED",
            None => "inconclusive",
        }
    }
}

impl Check {
    /// Judges a measurement. A value with an uncertainty passes only if its whole interval does,
    /// fails only if its whole interval fails, and is otherwise inconclusive.
    pub fn judge(&self, m: Measured) -> Option<bool> {
        let u = m.uncertainty.unwrap_or(0.0);
        let (low, high) = (m.value - u, m.value + u);
        match (
            self.op.holds(low, self.limit),
            self.op.holds(high, self.limit),
        ) {
            (true, true) => Some(true),
            (false, false) => Some(false),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Check {
        s.parse().unwrap()
    }

    #[test]
    fn expressions_parse_with_units_and_loops() {
        let p = c("p95<=300ms");
        assert_eq!(
            (p.metric, p.mode, p.op),
            (Metric::Page(Pct::P95), None, Op::Le)
        );
        assert!((p.limit - 0.3).abs() < 1e-12);
        let w = c(" joinset.wall < 2s ");
        assert_eq!((w.metric, w.mode), (Metric::Wall, Some(Strategy::Joinset)));
        let s = c("speedup.join-all>=4");
        assert_eq!(
            (s.metric, s.mode, s.limit),
            (Metric::Speedup, Some(Strategy::JoinAll), 4.0)
        );
        assert_eq!(c("failed==0").limit, 0.0);
        assert_eq!(c("failed_pct<5%").limit, 5.0);
        assert_eq!(c("wall_change<=10%").metric, Metric::WallChange);
        assert_eq!(c("sequential.max>1ms").mode, Some(Strategy::Sequential));
    }

    #[test]
    fn malformed_expressions_say_what_is_wrong() {
        for (bad, says) in [
            ("p95", "expected METRIC OP VALUE"),
            ("p95=>300ms", "operator"),
            ("p96<=300ms", "unknown metric"),
            ("joinsett.wall<1s", "unknown metric"),
            ("p95<=fast", "not a duration"),
            ("failed_pct<5", "percentage"),
            ("speedup>=x", "not a number"),
        ] {
            let err = bad.parse::<Check>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn intervals_pass_fail_or_are_inconclusive() {
        let check = c("wall_change<=10%");
        let m = |v, u| Measured {
            value: v,
            uncertainty: Some(u),
            unit: Unit::Percent,
        };
        assert_eq!(check.judge(m(2.0, 3.0)), Some(true));
        assert_eq!(check.judge(m(15.0, 3.0)), Some(false));
        assert_eq!(check.judge(m(9.0, 3.0)), None);
        let plain = Measured {
            value: 0.25,
            uncertainty: None,
            unit: Unit::Time,
        };
        assert_eq!(c("p95<=300ms").judge(plain), Some(true));
        assert_eq!(c("p95<200ms").judge(plain), Some(false));
        for (op, want) in [
            ("<", false),
            ("<=", true),
            (">", false),
            (">=", true),
            ("==", true),
        ] {
            let check: Check = format!("failed{op}3").parse().unwrap();
            let three = Measured {
                value: 3.0,
                uncertainty: None,
                unit: Unit::Count,
            };
            assert_eq!(check.judge(three), Some(want), "{op}");
        }
    }
}
