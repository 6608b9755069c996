//! Aligned columns for people, in input order, then the summary (which the other formats reuse on
//! stderr). `fetch` streams its rows with fixed column widths; `compare` puts each loop's bytes and
//! time side by side, so it writes once every loop is done.
//!
//! Every piece of user text (input, error) is escaped ([`term::escape`]) and padded by display
//! width; the input column takes the terminal's width and long inputs are cut in the middle.

use std::io::{self, Write};

use super::summary::{write_baseline, write_speedup, write_summary};
use super::{Kept, Layout, Reporter, RunSummary, Speedup, Verdict};
use crate::page::{PageError, PageResult, Strategy};
use crate::stats::human;
use crate::term;

/// Width of the input column when stdout is not a terminal (an 80-column layout).
const INPUT_WIDTH: usize = 40;
/// Narrowest input column on a small terminal.
const MIN_INPUT_WIDTH: usize = 20;
/// `#`, status, bytes and time columns of a fetch row, with their gaps, and room for a short note
/// after them (`  truncated`, `  HTTP 404`); a longer error wraps.
const FETCH_FIXED: usize = 5 + 2 + 2 + 6 + 2 + 10 + 2 + 10 + 12;
/// `#`, the gaps and the bytes column of a compare row; each loop then adds a 3-wide status cell
/// and an 8-wide time.
const COMPARE_FIXED: usize = 5 + 2 + 2 + 8;
const COMPARE_PER_LOOP: usize = 2 + 3 + 1 + 8;
/// The width a compare table keeps to off a terminal (with up to three loops).
const COMPARE_COLUMNS: usize = 80;

pub struct Table<'a> {
    layout: Layout,
    out: Box<dyn Write + 'a>,
    /// Warnings (pages whose size differs between loops).
    err: Option<Box<dyn Write + 'a>>,
    /// Terminal width, or `None` off a terminal.
    columns: Option<usize>,
    /// `compare` keeps its pages; `fetch` streams them.
    runs: Kept,
    header_done: bool,
    /// Status and error columns coloured by outcome, the speedup in bold.
    color: bool,
}

impl<'a> Table<'a> {
    pub fn new(
        layout: Layout,
        out: Box<dyn Write + 'a>,
        err: Option<Box<dyn Write + 'a>>,
        columns: Option<usize>,
    ) -> Self {
        Table {
            layout,
            out,
            err,
            columns,
            runs: Kept::default(),
            header_done: false,
            color: false,
        }
    }

    pub fn with_color(mut self, on: bool) -> Self {
        self.color = on;
        self
    }

    /// The input column's width: what the terminal leaves after the other columns.
    fn input_width(&self, fixed: usize) -> usize {
        match self.columns {
            Some(cols) => cols.saturating_sub(fixed + 1).max(MIN_INPUT_WIDTH),
            None => INPUT_WIDTH,
        }
    }

    fn write_row(&mut self, p: &PageResult) -> io::Result<()> {
        let width = self.input_width(FETCH_FIXED);
        let w = &mut self.out;
        if !self.header_done {
            self.header_done = true;
            let input = term::pad_right("input", width);
            writeln!(
                w,
                "{:>5}  {input}  {:>6}  {:>10}  {:>10}",
                "#", "status", "bytes", "time"
            )?;
        }
        let status = p.status.map_or("-".into(), |s| s.to_string());
        let sgr = term::outcome_color(p.status, !p.ok());
        // Padded first, then painted: the escape codes take no columns.
        let status = term::paint(&format!("{status:>6}"), sgr, self.color);
        let input = term::pad_right(&cell(&p.job.input, width), width);
        write!(
            w,
            "{:>5}  {input}  {status}  {:>10}  {:>10}",
            p.job.index,
            p.bytes,
            human(p.elapsed)
        )?;
        match (&p.error, p.truncated) {
            (Some(e), _) => {
                let e = term::paint(&term::escape(&e.to_string()), sgr, self.color);
                writeln!(w, "  {e}")
            }
            (None, true) => writeln!(w, "  truncated"),
            (None, false) => writeln!(w),
        }
    }

    fn write_compare(&mut self, runs: &[RunSummary], speedup: &Speedup) -> io::Result<()> {
        let fixed = COMPARE_FIXED + COMPARE_PER_LOOP * self.runs.len();
        let width = match self.columns {
            Some(_) => self.input_width(fixed),
            // Off a terminal: an 80-column table for two or three loops.
            None => COMPARE_COLUMNS
                .saturating_sub(fixed + 1)
                .clamp(MIN_INPUT_WIDTH, INPUT_WIDTH),
        };
        let color = self.color;
        let w = &mut self.out;
        let count = self.runs.iter().map(|(_, p)| p.len()).max().unwrap_or(0);
        write!(w, "{:>5}  {}  {:>8}", "", term::pad_right("", width), "")?;
        for (mode, _) in self.runs.iter() {
            write!(w, "  {:>12}", mode.name())?;
        }
        write!(
            w,
            "\n{:>5}  {}  {:>8}",
            "#",
            term::pad_right("input", width),
            "bytes"
        )?;
        for _ in self.runs.iter() {
            write!(w, "  {:>3} {:>8}", "st", "time")?;
        }
        writeln!(w)?;
        for i in 0..count {
            let input = self
                .runs
                .iter()
                .find_map(|(_, p)| p.get(i))
                .map_or("", |p| p.job.input.as_str());
            // The size once: loops fetch the same pages (a difference is warned on stderr).
            let bytes = self
                .runs
                .iter()
                .find_map(|(_, p)| p.get(i).filter(|p| p.ok()))
                .map_or("-".to_string(), |p| p.bytes.to_string());
            write!(
                w,
                "{i:>5}  {}  {bytes:>8}",
                term::pad_right(&cell(input, width), width)
            )?;
            for (_, pages) in self.runs.iter() {
                match pages.get(i) {
                    Some(p) => {
                        let sgr = term::outcome_color(p.status, !p.ok());
                        let status = term::paint(&format!("{:>3}", status_cell(p)), sgr, color);
                        let cancelled = matches!(p.error, Some(PageError::Cancelled));
                        let time = match p.status {
                            Some(_) => human(p.elapsed),
                            // How long it had run when cancelled (a page never started: `-`).
                            None if cancelled && !p.elapsed.is_zero() => human(p.elapsed),
                            None => "-".to_string(),
                        };
                        write!(w, "  {status} {time:>8}")?
                    }
                    None => write!(w, "  {:>3} {:>8}", "-", "-")?,
                }
            }
            writeln!(w)?;
        }
        for (mode, pages) in self.runs.iter() {
            for p in pages.iter() {
                if let Some(e) = &p.error {
                    let e = term::escape(&e.to_string()).into_owned();
                    writeln!(w, "{:>5}  {}: {e}", p.job.index, mode.name())?;
                }
            }
        }
        writeln!(w)?;
        for run in runs {
            write_summary(w, run)?;
        }
        let mut text = Vec::new();
        write_speedup(&mut text, runs, speedup)?;
        for line in String::from_utf8_lossy(&text).lines() {
            writeln!(w, "{}", term::paint(line, "1", self.color))?;
        }
        Ok(())
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
                        a.job.index,
                        term::escape(&a.job.input),
                        a.bytes,
                        first_mode.name(),
                        b.bytes,
                        mode.name()
                    )?;
                }
            }
        }
        Ok(())
    }
}

impl Reporter for Table<'_> {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()> {
        match self.layout {
            Layout::Fetch => self.write_row(&page),
            Layout::Compare => {
                self.runs.keep(mode, page);
                Ok(())
            }
        }
    }

    fn finish(
        &mut self,
        runs: &[RunSummary],
        speedup: &Speedup,
        verdict: &Verdict,
    ) -> io::Result<()> {
        match self.layout {
            Layout::Fetch => {
                writeln!(self.out)?;
                for run in runs {
                    write_summary(&mut self.out, run)?;
                }
            }
            Layout::Compare => {
                self.warn_size_differences()?;
                self.write_compare(runs, speedup)?
            }
        }
        write_baseline(&mut self.out, verdict)?;
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// A page's short status in a compare row: the HTTP status, `err` for a page that got no response,
/// `cxl` for one cancelled by Ctrl-C.
fn status_cell(p: &PageResult) -> String {
    match (p.status, &p.error) {
        (Some(s), _) => s.to_string(),
        (None, Some(PageError::Cancelled)) => "cxl".to_string(),
        (None, _) => "err".to_string(),
    }
}

/// User text for a table cell: escaped, then cut in the middle to `width` columns.
fn cell(text: &str, width: usize) -> String {
    term::cut_middle(&term::escape(text), width).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{ok_pages, pages, summary};
    use super::*;

    fn render(
        layout: Layout,
        runs: &[(Strategy, Vec<PageResult>)],
        summaries: &[RunSummary],
    ) -> (String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        {
            let mut t = Table::new(layout, Box::new(&mut out), Some(Box::new(&mut err)), None);
            for (mode, pages) in runs {
                for p in pages {
                    t.page(*mode, p.clone()).unwrap();
                }
            }
            t.finish(summaries, &Speedup::compute(summaries), &Verdict::default())
                .unwrap();
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
            ) && out
                .contains("page time p50 150.0 ms, p90 301.5 ms, p95 301.5 ms, p99 301.5 ms, max 301.5 ms (2 pages answered)"),
            "{out}"
        );
    }

    #[test]
    fn compare_table_has_a_column_pair_per_loop_and_the_speedup() {
        let ps = ok_pages();
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
        assert_eq!(
            term::width(&cell(&"x".repeat(50), INPUT_WIDTH)),
            INPUT_WIDTH
        );
    }

    #[test]
    fn control_characters_in_inputs_and_errors_are_escaped_and_rows_stay_one_line() {
        let mut ps = pages();
        ps[0] = with_input(&ps[0], "\x1b]0;title\x07x\ny");
        let (out, _) = render(
            Layout::Fetch,
            &[(Strategy::Joinset, ps.clone())],
            &[summary(Strategy::Joinset, &ps, 400)],
        );
        assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
        assert!(out.contains("\\e]0;title\\x07x\\ny"), "{out}");
        assert_eq!(out.lines().count(), 1 + 3 + 1 + 3, "{out}");
    }

    #[test]
    fn columns_align_by_display_width_and_follow_the_terminal() {
        let mut ps = pages();
        ps[1] = with_input(&ps[1], "日本語の検索語");
        let long = format!("http://example.com/{}?q=x&status=500", "p/".repeat(60));
        ps[2] = with_input(&ps[2], &long);
        let s = [summary(Strategy::Joinset, &ps, 400)];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        {
            let mut t = Table::new(
                Layout::Fetch,
                Box::new(&mut out),
                Some(Box::new(&mut err)),
                Some(160),
            );
            for p in &ps {
                t.page(Strategy::Joinset, p.clone()).unwrap();
            }
            t.finish(&s, &Speedup::compute(&s), &Verdict::default())
                .unwrap();
        }
        let out = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = out.lines().take(4).collect();
        // Every row's status column starts right after an input cell of the same display width.
        let width = 160 - FETCH_FIXED - 1;
        assert!(
            width > 100,
            "a wide terminal gives the input more room: {width}"
        );
        for (row, status) in rows[1..].iter().zip(["   200", "     -", "   200"]) {
            let rest = after_columns(row, 5 + 2 + width);
            assert!(rest.starts_with(&format!("  {status}  ")), "{row:?}\n{out}");
        }
        // 160 columns leave the input far more than 40; the long URL keeps both ends.
        assert!(term::width(rows[3]) <= 160, "{}", rows[3]);
        assert!(
            rows[3].contains("http://example.com/p/") && rows[3].contains("q=x&status=500"),
            "{}",
            rows[3]
        );
        assert!(rows[3].contains('…'));
    }

    /// What follows the first `cols` display columns of `s`.
    fn after_columns(s: &str, cols: usize) -> &str {
        let mut used = 0;
        for (i, c) in s.char_indices() {
            if used >= cols {
                return &s[i..];
            }
            used += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        }
        ""
    }

    fn with_input(p: &PageResult, input: &str) -> PageResult {
        let job = crate::page::Job::new(p.job.index, input.into(), p.job.url.clone());
        PageResult {
            job: std::sync::Arc::new(job),
            ..p.clone()
        }
    }
}
