//! Aligned columns for people, in input order, then the summary (which the other formats reuse on
//! stderr). `compare` puts each loop's bytes and time side by side.

use std::io::{self, Write};
use std::time::Duration;

use super::{Kept, Layout, Reporter, RunSummary, Speedup};
use crate::cli::Strategy;
use crate::fetch::PageResult;

const INPUT_WIDTH: usize = 40;

pub struct Table<'a> {
    layout: Layout,
    out: Box<dyn Write + 'a>,
    /// Warnings (pages whose size differs between loops).
    err: Option<Box<dyn Write + 'a>>,
    runs: Kept,
}

impl<'a> Table<'a> {
    pub fn new(layout: Layout, out: Box<dyn Write + 'a>, err: Option<Box<dyn Write + 'a>>) -> Self {
        Table {
            layout,
            out,
            err,
            runs: Kept::default(),
        }
    }

    fn write_fetch(&mut self, run: &RunSummary) -> io::Result<()> {
        let pages = self
            .runs
            .first()
            .map(|(_, p)| p.as_slice())
            .unwrap_or_default();
        let w = &mut self.out;
        writeln!(
            w,
            "{:>5}  {:<INPUT_WIDTH$}  {:>6}  {:>10}  {:>10}",
            "#", "input", "status", "bytes", "time"
        )?;
        for p in pages {
            let status = p.status.map_or("-".into(), |s| s.to_string());
            write!(
                w,
                "{:>5}  {:<INPUT_WIDTH$}  {status:>6}  {:>10}  {:>10}",
                p.job.index,
                clip(&p.job.input),
                p.bytes,
                human(p.elapsed)
            )?;
            match (&p.error, p.truncated) {
                (Some(e), _) => writeln!(w, "  {e}")?,
                (None, true) => writeln!(w, "  truncated")?,
                (None, false) => writeln!(w)?,
            }
        }
        writeln!(w)?;
        write_summary(w, run)
    }

    fn write_compare(&mut self, runs: &[RunSummary], speedup: &Speedup) -> io::Result<()> {
        let w = &mut self.out;
        let count = self.runs.iter().map(|(_, p)| p.len()).max().unwrap_or(0);
        write!(w, "{:>5}  {:<INPUT_WIDTH$}", "", "")?;
        for (mode, _) in self.runs.iter() {
            write!(w, "  {:>21}", mode.name())?;
        }
        write!(w, "\n{:>5}  {:<INPUT_WIDTH$}", "#", "input")?;
        for _ in self.runs.iter() {
            write!(w, "  {:>10} {:>10}", "bytes", "time")?;
        }
        writeln!(w)?;
        for i in 0..count {
            let input = self
                .runs
                .iter()
                .find_map(|(_, p)| p.get(i))
                .map_or("", |p| p.job.input.as_str());
            write!(w, "{i:>5}  {:<INPUT_WIDTH$}", clip(input))?;
            for (_, pages) in self.runs.iter() {
                match pages.get(i) {
                    Some(p) if p.ok() => write!(w, "  {:>10} {:>10}", p.bytes, human(p.elapsed))?,
                    Some(_) => write!(w, "  {:>10} {:>10}", "failed", "-")?,
                    None => write!(w, "  {:>10} {:>10}", "-", "-")?,
                }
            }
            writeln!(w)?;
        }
        for (mode, pages) in self.runs.iter() {
            for p in pages.iter().filter(|p| !p.ok()) {
                let e = p.error.as_ref().expect("filtered on failure");
                writeln!(w, "{:>5}  {}: {e}", p.job.index, mode.name())?;
            }
        }
        writeln!(w)?;
        for run in runs {
            write_summary(w, run)?;
        }
        write_speedup(w, runs, speedup)
    }

    /// Live pages change between loops; say so rather than let a size difference pass unnoticed.
    fn warn_size_differences(&mut self) -> io::Result<()> {
        let (Some(err), Some((first_mode, first))) = (self.err.as_mut(), self.runs.first()) else {
            return Ok(());
        };
        for (mode, pages) in self.runs[1..].iter() {
            for (a, b) in first.iter().zip(pages) {
                if a.ok() && b.ok() && a.bytes != b.bytes {
                    writeln!(
                        err,
                        "warning: page {} ({}) was {} bytes with {} but {} with {} (live pages change)",
                        a.job.index, a.job.input, a.bytes, first_mode.name(), b.bytes, mode.name()
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl Reporter for Table<'_> {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()> {
        self.runs.keep(mode, page);
        Ok(())
    }

    fn run_done(&mut self, _: &RunSummary) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, runs: &[RunSummary], speedup: &Speedup) -> io::Result<()> {
        match (self.layout, runs) {
            (Layout::Fetch, [run]) => self.write_fetch(run)?,
            _ => {
                self.warn_size_differences()?;
                self.write_compare(runs, speedup)?
            }
        }
        self.out.flush()
    }
}

/// The human summary of one run (also printed on stderr by the data formats).
pub fn write_summary(w: &mut dyn Write, s: &RunSummary) -> io::Result<()> {
    write!(
        w,
        "{}: concurrency {}, {} pages, {} ok, {} failed, {} bytes, wall {}",
        s.mode.name(),
        s.concurrency,
        s.pages,
        s.ok,
        s.failed,
        thousands(s.bytes),
        human(s.wall)
    )?;
    if s.interrupted {
        write!(w, " (interrupted)")?;
    }
    writeln!(w)?;
    let pct = |p| s.page_time(p).map_or("-".into(), human);
    writeln!(
        w,
        "  page time p50 {}, p90 {}, max {}",
        pct(50.0),
        pct(90.0),
        pct(100.0)
    )?;
    if let Some(r) = &s.repeat {
        write!(
            w,
            "  {} runs: wall min {}, median {}, max {}",
            r.runs,
            human(r.min),
            human(r.median),
            human(r.max)
        )?;
        if r.failed_pages > 0 {
            write!(w, "; {} failed pages over all runs", r.failed_pages)?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// One line per loop: how much faster than the baseline.
pub fn write_speedup(w: &mut dyn Write, runs: &[RunSummary], s: &Speedup) -> io::Result<()> {
    let Some(base) = s.baseline else {
        return Ok(());
    };
    let base_wall = runs
        .iter()
        .find(|r| r.mode == base)
        .map(RunSummary::typical_wall)
        .unwrap_or_default();
    for (mode, factor) in &s.factors {
        let wall = runs
            .iter()
            .find(|r| r.mode == *mode)
            .map(RunSummary::typical_wall)
            .unwrap_or_default();
        match factor {
            Some(f) => writeln!(
                w,
                "speedup: {} {f:.2}x over {} ({} vs {})",
                mode.name(),
                base.name(),
                human(wall),
                human(base_wall)
            )?,
            None => writeln!(
                w,
                "speedup: {} n/a over {} (no measurable wall time)",
                mode.name(),
                base.name()
            )?,
        }
    }
    Ok(())
}

/// `85 µs`, `312.4 ms`, `2.31 s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
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

/// Long inputs are cut to the column width with an ellipsis.
fn clip(s: &str) -> String {
    if s.chars().count() <= INPUT_WIDTH {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(INPUT_WIDTH - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{pages, summary};
    use super::*;

    fn render(
        layout: Layout,
        runs: &[(Strategy, Vec<PageResult>)],
        summaries: &[RunSummary],
    ) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        {
            let mut t = Table::new(layout, Box::new(&mut out), Some(Box::new(&mut err)));
            for (mode, pages) in runs {
                for p in pages {
                    t.page(*mode, p.clone()).unwrap();
                }
            }
            t.finish(summaries, &Speedup::compute(summaries)).unwrap();
        }
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    #[test]
    fn fetch_table_rows_in_given_order_with_errors() {
        let ps = pages();
        let (out, _) = render(
            Layout::Fetch,
            &[(Strategy::Joinset, ps.clone())],
            &[summary(Strategy::Joinset, &ps, 400)],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].contains("input") && lines[0].contains("bytes"),
            "{out}"
        );
        assert!(
            lines[1].contains("apple") && lines[1].contains("12345") && lines[1].contains("200")
        );
        assert!(lines[2].contains("pear") && lines[2].trim_end().ends_with("connection refused"));
        assert!(lines[3].contains("truncated"));
        assert!(
            out.contains(
                "joinset: concurrency 64, 3 pages, 2 ok, 1 failed, 12,445 bytes, wall 400.0 ms"
            ),
            "{out}"
        );
    }

    #[test]
    fn compare_table_has_a_column_pair_per_loop_and_the_speedup() {
        let ps = pages();
        let mut other = ps.clone();
        other[0].bytes += 1;
        let runs = [
            (Strategy::Sequential, ps.clone()),
            (Strategy::Joinset, other.clone()),
        ];
        let sums = [
            summary(Strategy::Sequential, &ps, 1000),
            summary(Strategy::Joinset, &other, 250),
        ];
        let (out, err) = render(Layout::Compare, &runs, &sums);
        assert!(
            out.lines().next().unwrap().contains("sequential")
                && out.lines().next().unwrap().contains("joinset")
        );
        assert!(
            out.contains("speedup: joinset 4.00x over sequential"),
            "{out}"
        );
        assert!(
            err.contains(
                "warning: page 0 (apple) was 12345 bytes with sequential but 12346 with joinset"
            ),
            "{err}"
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(human(Duration::from_micros(312_400)), "312.4 ms");
        assert_eq!(human(Duration::from_millis(2310)), "2.31 s");
        assert_eq!(human(Duration::from_micros(85)), "85 µs");
        assert_eq!(clip(&"x".repeat(50)).chars().count(), INPUT_WIDTH);
    }
}
