//! The only place that creates progress bars. They draw on stderr, and only when asked or when stderr
//! is a terminal, so pipes and CI logs never see them.

use std::io::IsTerminal;

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

/// A bar of `len` pages labelled `label`, or a hidden one.
pub fn bar(show: bool, len: usize, label: String) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} pages {elapsed}")
        .expect("the template is a valid literal")
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(label);
    bar
}
