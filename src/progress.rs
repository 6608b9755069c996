//! The only place that creates progress bars. They draw on stderr, and only when asked or when stderr
//! is a terminal, so pipes and CI logs never see them.

use std::io::IsTerminal;

use console::Term;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::ProgressWhen;

/// Whether to draw bars at all.
pub fn enabled(when: ProgressWhen, quiet: bool) -> bool {
    match when {
        _ if quiet => false,
        ProgressWhen::Never => false,
        ProgressWhen::Always => true,
        ProgressWhen::Auto => std::io::stderr().is_terminal(),
    }
}

/// A bar of `len` pages (a counter when the length is not known yet: streamed input) labelled
/// `label`, or a hidden one.
pub fn bar(show: bool, len: Option<usize>, label: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    // indicatif's own stderr target hides itself off a terminal; `--progress always` means always.
    let target = ProgressDrawTarget::term_like_with_hz(Box::new(Term::buffered_stderr()), 20);
    let bar = ProgressBar::with_draw_target(len.map(|n| n as u64), target);
    let template = match len {
        Some(_) => "{prefix:>12} [{bar:30}] {pos}/{len} pages {elapsed}",
        None => "{prefix:>12} {spinner} {pos} pages {elapsed}",
    };
    let style = ProgressStyle::with_template(template)
        .expect("the template is a valid literal")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label);
    // Draw once now: a short run may end before the first scheduled redraw.
    bar.tick();
    bar
}
