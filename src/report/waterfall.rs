//! The picture of a browser's network panel, in the terminal: for each loop, a row per page with a
//! bar from its start to its end on a time axis shared by every loop, so a sequential run draws a
//! staircase and a concurrent one bars side by side. Bars end with eighth-block characters for
//! sub-cell precision; a failed page is drawn with `░`. Beyond 40 pages, each row stands for a
//! range of pages, shaded by how many of them were in flight, with the most at once at its end.

use std::fmt::Write as _;
use std::time::Duration;

use crate::term;

/// One page on the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub index: usize,
    pub input: String,
    pub start: Duration,
    pub end: Duration,
    pub ok: bool,
}

/// Rows drawn one page each; more pages are grouped into this many rows.
pub const MAX_ROWS: usize = 40;

const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const INPUT: usize = 14;
/// Columns kept free after a grouped row's shading for how many were in flight and failed.
const GROUP_TAIL: usize = 24;

/// Draws one chart per loop, `width` columns wide; with `color`, failed pages in red.
pub fn render(loops: &[(&str, &[Span])], width: usize, color: bool) -> String {
    let total = loops
        .iter()
        .flat_map(|(_, spans)| spans.iter().map(|s| s.end))
        .max()
        .unwrap_or_default()
        .max(Duration::from_micros(1));
    // `#####  input.........  ` then the bars; grouped rows end with `  13 at once, 1 failed`.
    let lead = 5 + 2 + INPUT + 2;
    let grouped = loops.iter().any(|(_, spans)| spans.len() > MAX_ROWS);
    let tail = if grouped { GROUP_TAIL } else { 0 };
    let room = width.saturating_sub(lead + 1).max(10 + tail);
    let cells = room - tail;
    let mut out = String::new();
    for (mode, spans) in loops {
        let _ = writeln!(out, "\n{mode}: when each page ran");
        let _ = writeln!(out, "{}{}", " ".repeat(lead), axis(total, cells, room));
        if spans.len() <= MAX_ROWS {
            for s in spans.iter() {
                let input =
                    term::pad_right(&term::cut_middle(&term::escape(&s.input), INPUT), INPUT);
                let bar = term::paint(&bar(s, total, cells), "31", color && !s.ok);
                let _ = writeln!(out, "{:>5}  {input}  {bar}", s.index);
            }
        } else {
            let per_row = spans.len().div_ceil(MAX_ROWS);
            for group in spans.chunks(per_row) {
                let (first, last) = (group[0].index, group[group.len() - 1].index);
                let label = term::pad_right(&format!("pages {first}-{last}"), INPUT);
                let (shades, most) = density(group, total, cells);
                let failed = group.iter().filter(|s| !s.ok).count();
                let failed = match failed {
                    0 => String::new(),
                    n => term::paint(&format!(", {n} failed"), "31", color),
                };
                let _ = writeln!(out, "{:>5}  {label}  {shades}  {most} at once{failed}", "");
            }
        }
    }
    out
}

/// Eighths of a cell from the origin to `t`.
fn eighths(t: Duration, total: Duration, cells: usize) -> usize {
    (t.as_secs_f64() / total.as_secs_f64() * (cells * 8) as f64).round() as usize
}

/// A page's bar: full cells from its start to its end, the last one partial.
fn bar(s: &Span, total: Duration, cells: usize) -> String {
    let from = eighths(s.start, total, cells) / 8;
    let to = eighths(s.end, total, cells)
        .max(from * 8 + 1)
        .min(cells * 8);
    let mut line = " ".repeat(from);
    let full = to / 8 - from.min(to / 8);
    let fill = if s.ok { '█' } else { '░' };
    line.extend(std::iter::repeat_n(fill, full));
    let part = to % 8;
    if part > 0 {
        line.push(if s.ok { EIGHTHS[part] } else { '░' });
    }
    line.trim_end().to_string()
}

/// A group's row: each cell shaded by the share of the group's pages in flight then; and the
/// most in flight at once.
fn density(group: &[Span], total: Duration, cells: usize) -> (String, usize) {
    let mut in_flight = vec![0usize; cells];
    for s in group {
        let from = eighths(s.start, total, cells) / 8;
        let to = eighths(s.end, total, cells)
            .div_ceil(8)
            .max(from + 1)
            .min(cells);
        for c in in_flight.iter_mut().take(to).skip(from) {
            *c += 1;
        }
    }
    let most = in_flight.iter().copied().max().unwrap_or(0);
    let line: String = in_flight
        .iter()
        .map(|&n| match n {
            0 => ' ',
            n if n * 4 <= most => '░',
            n if n * 2 <= most => '▒',
            n if n * 4 <= most * 3 => '▓',
            _ => '█',
        })
        .collect();
    (line.trim_end().to_string(), most)
}

/// A round step (1, 2 or 5 times a power of ten) for about five ticks over `secs`.
pub fn tick_step(secs: f64) -> f64 {
    let raw = secs / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

/// Tick labels under a nice step, in ms or s, within `room` columns.
fn axis(total: Duration, cells: usize, room: usize) -> String {
    let secs = total.as_secs_f64();
    let step = tick_step(secs);
    let in_ms = secs < 2.0;
    let mut line = vec![' '; room + 1]; // a label may use the last column
    let mut t = 0.0;
    while t <= secs + 1e-12 {
        let at = ((t / secs) * cells as f64).round() as usize;
        let text = match in_ms {
            true => format!("|{} ms", fmt_tick(t * 1000.0)),
            false => format!("|{} s", fmt_tick(t)),
        };
        if at + text.chars().count() <= line.len()
            && line[at..].iter().take(text.len()).all(|c| *c == ' ')
        {
            for (i, ch) in text.chars().enumerate() {
                line[at + i] = ch;
            }
        }
        t += step;
    }
    line.into_iter().collect::<String>().trim_end().to_string()
}

pub fn fmt_tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// `--waterfall`: collects when each page ran, draws the charts at the end.
pub struct Chart<'a> {
    out: Box<dyn std::io::Write + 'a>,
    width: usize,
    color: bool,
    loops: Vec<(crate::page::Strategy, Vec<Span>)>,
}

impl<'a> Chart<'a> {
    /// `width`: the terminal's columns, 80 off a terminal; `color`: failed pages in red.
    pub fn new(out: Box<dyn std::io::Write + 'a>, width: usize, color: bool) -> Self {
        Chart {
            out,
            width,
            color,
            loops: Vec::new(),
        }
    }
}

impl super::Reporter for Chart<'_> {
    fn page(
        &mut self,
        mode: crate::page::Strategy,
        page: crate::page::PageResult,
    ) -> std::io::Result<()> {
        let Some(start) = page.start else {
            return Ok(()); // no request was made (an unusable line, a cancelled page)
        };
        let span = Span {
            index: page.job.index,
            input: page.job.input.clone(),
            start,
            end: start + page.elapsed,
            ok: page.ok(),
        };
        match self.loops.last_mut() {
            Some((m, spans)) if *m == mode => spans.push(span),
            _ => self.loops.push((mode, vec![span])),
        }
        Ok(())
    }

    fn finish(
        &mut self,
        _: &[super::RunSummary],
        _: &super::Speedup,
        _: &super::Verdict,
    ) -> std::io::Result<()> {
        let loops: Vec<(&str, &[Span])> = self
            .loops
            .iter()
            .map(|(m, spans)| (m.name(), spans.as_slice()))
            .collect();
        self.out
            .write_all(render(&loops, self.width, self.color).as_bytes())?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn six(concurrent: bool) -> Vec<Span> {
        let terms = [
            "apple",
            "pear",
            "grape",
            "pineapple",
            "orange",
            "strawberry",
        ];
        let mut t = 0;
        terms
            .iter()
            .enumerate()
            .map(|(i, term)| {
                let len = 300 + 20 * i as u64;
                let start = if concurrent { 0 } else { t };
                t = start + len;
                Span {
                    index: i,
                    input: term.to_string(),
                    start: ms(start),
                    end: ms(start + len),
                    ok: i != 3 || !concurrent,
                }
            })
            .collect()
    }

    #[test]
    fn sequential_draws_a_staircase_and_concurrent_side_by_side() {
        let seq = six(false);
        let conc = six(true);
        let got = render(&[("sequential", &seq), ("joinset", &conc)], 80, false);
        let want = "
sequential: when each page ran
                       |0 s         |0.5 s        |1 s         |1.5 s       |2 s
    0  apple           ████████
    1  pear                    ████████▌
    2  grape                           █████████▋
    3  pineapple                                ██████████▎
    4  orange                                             ██████████▍
    5  strawberry                                                   ███████████

joinset: when each page ran
                       |0 s         |0.5 s        |1 s         |1.5 s       |2 s
    0  apple           ████████
    1  pear            ████████▌
    2  grape           █████████▏
    3  pineapple       ░░░░░░░░░░
    4  orange          ██████████▏
    5  strawberry      ██████████▋
";
        assert_eq!(got, want, "\n{got}");
        // In colour, only the failed page's bar is red.
        let red = render(&[("joinset", &conc)], 80, true);
        assert_eq!(red.matches("\x1b[31m").count(), 1, "{red}");
        let line = red.lines().find(|l| l.contains("\x1b[31m")).unwrap();
        assert!(
            line.starts_with("    3  pineapple") && line.ends_with("░\x1b[0m"),
            "{red}"
        );
    }

    #[test]
    fn more_than_forty_pages_are_grouped() {
        let spans: Vec<Span> = (0..500)
            .map(|i| Span {
                index: i,
                input: format!("t{i}"),
                start: ms((i as u64 / 100) * 100),
                end: ms((i as u64 / 100) * 100 + 100),
                ok: i != 7,
            })
            .collect();
        let got = render(&[("joinset", &spans)], 80, false);
        let rows: Vec<&str> = got.lines().filter(|l| l.contains("pages ")).collect();
        assert_eq!(rows.len(), 39, "{got}");
        assert!(rows[0].starts_with("       pages 0-12"), "{}", rows[0]);
        assert!(rows[0].ends_with("13 at once, 1 failed"), "{}", rows[0]);
        assert!(rows[38].contains("pages 494-499"), "{}", rows[38]);
        // No row is wider than the terminal.
        assert!(got.lines().all(|l| term::width(l) <= 80), "{got}");
    }
}
