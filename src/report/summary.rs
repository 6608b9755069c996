//! The summary for people: one block per loop, the speedup, and the comparison with a baseline.
//! The table prints it on stdout; the data formats on stderr.

use std::io::{self, Write};

use super::{plural, RunSummary, Speedup, Verdict};
use crate::page::Strategy;
use crate::stats::human;

/// The human summary of one run (also printed on stderr by the data formats).
pub fn write_summary(w: &mut dyn Write, s: &RunSummary) -> io::Result<()> {
    write!(
        w,
        "{}: concurrency {}, {}, {} ok, {} failed{}, {} bytes, wall {}, {}",
        s.mode.name(),
        s.concurrency,
        plural(s.pages, "page"),
        s.ok,
        s.failed,
        match s.cancelled {
            0 => String::new(),
            n => format!(", {n} cancelled"),
        },
        thousands(s.bytes),
        human(s.wall),
        plural(s.connections, "connection"),
    )?;
    if !s.http.is_empty() {
        let versions: Vec<String> = s
            .http
            .iter()
            .map(|v| format!("HTTP/{}", v.name()))
            .collect();
        write!(w, ", {}", versions.join(" + "))?;
    }
    if s.interrupted {
        write!(w, " (interrupted)")?;
    }
    writeln!(w)?;
    let pct = |p| s.page_time(p).map(human);
    match (pct(50.0), pct(90.0), pct(95.0), pct(99.0), pct(100.0)) {
        (Some(p50), Some(p90), Some(p95), Some(p99), Some(max)) => writeln!(
            w,
            "  page time p50 {p50}, p90 {p90}, p95 {p95}, p99 {p99}, max {max} ({} answered)",
            plural(s.page_times.count() as usize, "page")
        )?,
        _ => writeln!(w, "  page time: no page answered")?,
    }
    let rate = s
        .pages_per_s()
        .map_or("-".to_string(), |r| format!("{r:.2}"));
    writeln!(w, "  status {}; {rate} pages/s", s.statuses_text())?;
    if let Some(r) = &s.repeat {
        write!(
            w,
            "  {}: wall {} ± {} (median {}, min {} … max {})",
            plural(r.runs, "complete run"),
            human(r.mean),
            human(r.stddev),
            human(r.median),
            human(r.min),
            human(r.max)
        )?;
        if r.failed_pages > 0 {
            write!(
                w,
                "; {} over all runs",
                plural(r.failed_pages, "failed page")
            )?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// One line per loop: how much faster than the baseline, or why that cannot be said.
pub fn write_speedup(w: &mut dyn Write, runs: &[RunSummary], s: &Speedup) -> io::Result<()> {
    let Some(base) = s.baseline else {
        return Ok(());
    };
    let wall_of = |mode: Strategy| {
        runs.iter()
            .find(|r| r.mode == mode)
            .map(RunSummary::typical_wall)
            .unwrap_or_default()
    };
    let notes = s.notes.iter().chain(std::iter::repeat(&None));
    for (((mode, factor), spread), note) in s.factors.iter().zip(&s.spread).zip(notes) {
        let spread = spread.map(|sd| format!(" ± {sd:.2}")).unwrap_or_default();
        match factor {
            Ok(f) => {
                write!(
                    w,
                    "speedup: {} {f:.2}x{spread} over {} ({} vs {})",
                    mode.name(),
                    base.name(),
                    human(wall_of(*mode)),
                    human(wall_of(base))
                )?;
                match note {
                    Some(note) => writeln!(w, "; note: {note}")?,
                    None => writeln!(w)?,
                }
            }
            Err(why) => writeln!(
                w,
                "speedup: {} n/a over {} ({why}; a speedup needs complete runs with every page ok)",
                mode.name(),
                base.name()
            )?,
        }
    }
    Ok(())
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Each loop against the baseline: `baseline joinset: wall 1.31 s vs 1.20 s: +9.2% ± 3.1%`.
pub fn write_baseline(w: &mut dyn Write, verdict: &Verdict) -> io::Result<()> {
    let Some((file, loops)) = &verdict.baseline else {
        return Ok(());
    };
    let secs = |s: f64| human(std::time::Duration::from_secs_f64(s.max(0.0)));
    let change = |c: &crate::verdict::Change| match c.uncertainty_pct {
        Some(u) => format!(
            "{} vs {}: {:+.1}% ± {u:.1}%",
            secs(c.now),
            secs(c.before),
            c.change_pct
        ),
        None => format!(
            "{} vs {}: {:+.1}% (point estimates: repeat both runs for an interval)",
            secs(c.now),
            secs(c.before),
            c.change_pct
        ),
    };
    for c in loops {
        write!(w, "baseline {} ({file}): wall {}", c.mode, change(&c.wall))?;
        if let Some(p95) = &c.p95 {
            write!(w, "; p95 {}", change(p95))?;
        }
        writeln!(w)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
