//! The only place that creates progress bars. They draw on stderr, and only when asked or when stderr
//! is a terminal, so pipes and CI logs never see them.

use std::io::IsTerminal;

use console::Term;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::term::plural;

/// When to draw the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressWhen {
    /// Only when stderr is a terminal
    Auto,
    /// Always (on stderr)
    Always,
    /// Never
    Never,
}

/// Whether to draw bars at all.
pub fn enabled(when: ProgressWhen, quiet: bool) -> bool {
    match when {
        _ if quiet => false,
        ProgressWhen::Never => false,
        ProgressWhen::Always => true,
        ProgressWhen::Auto => std::io::stderr().is_terminal(),
    }
}

/// A bar of `len` pages (a counter while the length is not known: streamed input) labelled
/// `label`, or a hidden one: pages done / total, pages a second, the time left, failures so far.
pub fn bar(show: bool, len: Option<usize>, label: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    // indicatif's own stderr target hides itself off a terminal; `--progress always` means always.
    // Ten redraws a second at most.
    let target = ProgressDrawTarget::term_like_with_hz(Box::new(Term::buffered_stderr()), 10);
    let bar = ProgressBar::with_draw_target(len.map(|n| n as u64), target);
    bar.set_style(style(len.is_some()));
    bar.set_prefix(label);
    // Draw once now: a short run may end before the first scheduled redraw.
    bar.tick();
    bar
}

/// The input has ended: the bar now knows its length.
pub fn known_length(bar: &ProgressBar, len: usize) {
    if bar.is_hidden() || bar.length().is_some() {
        return;
    }
    bar.set_length(len as u64);
    bar.set_style(style(true));
}

fn style(known: bool) -> ProgressStyle {
    let template = match known {
        true => "{prefix:>12} [{bar:30}] {pos}/{pages}, {rate}, ETA {eta} {msg}",
        false => "{prefix:>12} {spinner} {pages}, {rate}, {elapsed} {msg}",
    };
    ProgressStyle::with_template(template)
        .expect("the template is a valid literal")
        .with_key(
            "pages",
            // `3 pages`, `1 page`: the total when known, else the count done.
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let n = state.len().unwrap_or(state.pos());
                let _ = w.write_str(&plural(n as usize, "page"));
            },
        )
        .with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
        .progress_chars("=> ")
}
