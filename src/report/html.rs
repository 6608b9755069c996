//! `--export-html FILE`: one self-contained page to attach to a CI job. Inline CSS and SVG, no
//! script, no font, no address to fetch anything from: it renders the same offline. Per loop a
//! waterfall (one `<rect>` per page, with `data-mode`, `data-index`, `data-status` and a `<title>`
//! tooltip, coloured by outcome) on a labelled time axis; the summaries, the speedup, and a
//! histogram of page times. It holds every page's span, so it grows with the run.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use super::{summary, Reporter, RunSummary, Speedup, Verdict};
use crate::page::{PageResult, Strategy};
use crate::stats::human;

struct Bar {
    index: usize,
    input: String,
    status: Option<u16>,
    bytes: u64,
    start: Duration,
    elapsed: Duration,
    ok: bool,
}

pub struct Html<'a> {
    out: Box<dyn Write + 'a>,
    loops: Vec<(Strategy, Vec<Bar>)>,
}

impl<'a> Html<'a> {
    pub fn new(out: Box<dyn Write + 'a>) -> Self {
        Html {
            out,
            loops: Vec::new(),
        }
    }
}

/// Characters that reorder the text around them (embeddings, overrides, isolates, marks): in a
/// term, `a\u{202e}gnp.exe` would draw as `aexe.png`. Shown as their escapes instead.
pub const BIDI: [char; 12] = [
    '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}', '\u{200e}', '\u{200f}', '\u{061c}',
];

/// Text for HTML and SVG: the five characters that could end an element or an attribute, control
/// characters, which have no business in a page, and bidi controls, shown as visible `\u{202e}`
/// text so that what is drawn is what the input was.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c if BIDI.contains(&c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:24px;color:#222;background:#fff}\
h1{font-size:20px}h2{font-size:16px;margin-top:28px}\
pre{background:#f6f6f6;padding:10px;white-space:pre-wrap}\
.ok{fill:#2e9e44}.s3{fill:#2a7fb8}.s4{fill:#d89614}.bad{fill:#d2372c}.axis{stroke:#888}\
text{font:11px system-ui,sans-serif;fill:#444}.hist{fill:#6b6bd6}";

impl Reporter for Html<'_> {
    fn page(&mut self, mode: Strategy, page: PageResult) -> io::Result<()> {
        let bar = Bar {
            index: page.job.index,
            input: page.job.input.clone(),
            status: page.status,
            bytes: page.bytes,
            start: page.start.unwrap_or_default(),
            elapsed: page.elapsed,
            ok: page.ok(),
        };
        match self.loops.last_mut() {
            Some((m, bars)) if *m == mode => bars.push(bar),
            _ => self.loops.push((mode, vec![bar])),
        }
        Ok(())
    }

    fn finish(
        &mut self,
        runs: &[RunSummary],
        speedup: &Speedup,
        verdict: &Verdict,
    ) -> io::Result<()> {
        let mut page = String::new();
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>pagefetch report</title><style>{STYLE}</style></head><body>\n<h1>pagefetch report</h1>\n"
        );
        let mut text = Vec::new();
        for r in runs {
            summary::write_summary(&mut text, r)?;
        }
        summary::write_speedup(&mut text, runs, speedup)?;
        summary::write_baseline(&mut text, verdict)?;
        let _ = writeln!(page, "<pre>{}</pre>", esc(&String::from_utf8_lossy(&text)));
        let total = self
            .loops
            .iter()
            .flat_map(|(_, b)| b.iter().map(|b| b.start + b.elapsed))
            .max()
            .unwrap_or_default()
            .max(Duration::from_micros(1));
        for (mode, bars) in &self.loops {
            let _ = writeln!(page, "<h2>{}: when each page ran</h2>", mode.name());
            page.push_str(&waterfall(*mode, bars, total));
        }
        let times: Vec<Duration> = self
            .loops
            .iter()
            .flat_map(|(_, b)| b.iter().filter(|b| b.status.is_some()).map(|b| b.elapsed))
            .collect();
        if !times.is_empty() {
            let _ = writeln!(page, "<h2>Page times (every loop)</h2>");
            page.push_str(&histogram(&times));
        }
        page.push_str("</body></html>\n");
        self.out.write_all(page.as_bytes())?;
        self.out.flush()
    }
}

const W: f64 = 900.0;
const LEFT: f64 = 190.0;
const ROW: f64 = 14.0;

fn class(b: &Bar) -> &'static str {
    match (b.ok, b.status) {
        (false, _) => "bad",
        (true, Some(300..=399)) => "s3",
        (true, Some(400..=499)) => "s4",
        (true, Some(500..=599)) => "bad",
        _ => "ok",
    }
}

/// One row per page, bars on a time axis shared by every loop.
fn waterfall(mode: Strategy, bars: &[Bar], total: Duration) -> String {
    let height = 30.0 + ROW * bars.len() as f64;
    let x = |d: Duration| LEFT + d.as_secs_f64() / total.as_secs_f64() * (W - LEFT - 10.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" \
         role=\"img\" aria-label=\"{} waterfall\">\n",
        mode.name()
    );
    // The axis: ticks at a round step (1, 2 or 5 times a power of ten), in ms or s.
    let secs = total.as_secs_f64();
    let step = super::waterfall::tick_step(secs);
    let mut t = 0.0;
    while t <= secs + 1e-12 {
        let tx = x(Duration::from_secs_f64(t));
        let label = match secs < 2.0 {
            true => format!("{} ms", super::waterfall::fmt_tick(t * 1000.0)),
            false => format!("{} s", super::waterfall::fmt_tick(t)),
        };
        let _ = writeln!(
            svg,
            "<line class=\"axis\" x1=\"{tx:.1}\" y1=\"18\" x2=\"{tx:.1}\" y2=\"{height}\"/>\
             <text x=\"{tx:.1}\" y=\"12\" text-anchor=\"middle\">{label}</text>"
        );
        t += step;
    }
    for (row, b) in bars.iter().enumerate() {
        let y = 22.0 + ROW * row as f64;
        let (x0, x1) = (x(b.start), x(b.start + b.elapsed));
        let status = b.status.map_or("none".to_string(), |s| s.to_string());
        let title = format!(
            "#{} {} | status {} | {} bytes | {}",
            b.index,
            b.input,
            status,
            b.bytes,
            human(b.elapsed)
        );
        let name = crate::term::cut_middle(&b.input, 28);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} {}</text>\
             <rect class=\"{}\" data-mode=\"{}\" data-index=\"{}\" data-status=\"{status}\" \
             x=\"{x0:.2}\" y=\"{y:.1}\" width=\"{:.2}\" height=\"{:.1}\"><title>{}</title></rect>",
            LEFT - 6.0,
            y + ROW - 4.0,
            b.index,
            esc(&name),
            class(b),
            mode.name(),
            b.index,
            (x1 - x0).max(1.0),
            ROW - 3.0,
            esc(&title)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Twenty bins from 0 to the slowest page.
fn histogram(times: &[Duration]) -> String {
    const BINS: usize = 20;
    let max = times
        .iter()
        .copied()
        .max()
        .unwrap_or_default()
        .max(Duration::from_micros(1));
    let mut counts = [0usize; BINS];
    for t in times {
        let i = ((t.as_secs_f64() / max.as_secs_f64()) * BINS as f64) as usize;
        counts[i.min(BINS - 1)] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    let (h, bw) = (160.0, (W - LEFT - 10.0) / BINS as f64);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" role=\"img\" \
         aria-label=\"histogram of page times\">\n",
        h + 40.0
    );
    for (i, &n) in counts.iter().enumerate() {
        let bh = h * n as f64 / most as f64;
        let bx = LEFT + bw * i as f64;
        let (lo, hi) = (
            max.mul_f64(i as f64 / BINS as f64),
            max.mul_f64((i + 1) as f64 / BINS as f64),
        );
        let _ = writeln!(
            svg,
            "<rect class=\"hist\" x=\"{bx:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\">\
             <title>{} to {}: {n} pages</title></rect>",
            10.0 + h - bh,
            bw - 2.0,
            human(lo),
            human(hi)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{LEFT}\" y=\"{}\">0</text><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text x=\"{}\" y=\"20\">{most} pages</text>",
        h + 28.0,
        W - 10.0,
        h + 28.0,
        human(max),
        LEFT - 50.0
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\x1bb"), "a\u{fffd}b");
    }

    #[test]
    fn bidi_controls_are_shown_not_obeyed() {
        assert_eq!(esc("a\u{202e}gnp.exe"), "a\\u{202e}gnp.exe");
        for c in BIDI {
            let shown = esc(&format!("x{c}y"));
            assert!(!shown.contains(c), "{c:?}");
            assert_eq!(shown, format!("x\\u{{{:x}}}y", c as u32));
        }
        assert_eq!(esc("\u{2067}\u{061c}"), "\\u{2067}\\u{61c}");
        // In the page: the label, the tooltip and the summary.
        let job = crate::page::Job::new(0, "a\u{202e}gnp.exe".into(), Err("bad".into()));
        let mut html = Html::new(Box::new(Vec::new()));
        html.page(Strategy::Joinset, PageResult::new(std::sync::Arc::new(job)))
            .unwrap();
        let svg = waterfall(Strategy::Joinset, &html.loops[0].1, Duration::from_secs(1));
        assert!(svg.contains("0 a\\u{202e}gnp.exe</text>"), "{svg}");
        assert!(svg.contains("#0 a\\u{202e}gnp.exe |"), "{svg}");
        assert!(!svg.contains('\u{202e}'), "{svg}");
    }
}
