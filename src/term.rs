//! Text for a terminal: user-supplied text made harmless, measured in columns, cut to fit.
//!
//! An input line can hold `ESC ] 0 ; title BEL` or `ESC [ 2 J`; printed raw, it would retitle the
//! window or clear the screen, and a newline would split a table row. Everything that shows user
//! text to a person (the table, stderr) goes through [`escape`]; JSON and CSV stay exact.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::IsTerminal;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Characters a terminal acts on instead of printing: C0 and C1 controls, DEL, and the bidi
/// controls that reorder what is shown (so `abc` can display as `cba`).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character written as an escape: `\e`, `\n`, `\r`, `\t`, `\x07`, `\u{9b}`.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\x1b' => out.push_str("\\e"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && is_unsafe(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Columns `s` takes on a terminal (a CJK character takes two). `s` must already be escaped.
pub fn width(s: &str) -> usize {
    s.width()
}

/// `s` cut to at most `max` columns by replacing its middle with `…`, so two long URLs that differ
/// only at the end (`...q=x&status=500`, `...q=y&status=500`) still look different.
pub fn cut_middle(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let room = max - 1; // the ellipsis takes one column
    let (head_room, tail_room) = (room - room / 2, room / 2);
    let mut head = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > head_room {
            break;
        }
        used += w;
        head.push(c);
    }
    let mut tail: Vec<char> = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > tail_room {
            break;
        }
        used += w;
        tail.push(c);
    }
    head.push('…');
    head.extend(tail.into_iter().rev());
    Cow::Owned(head)
}

/// `s` padded with spaces to `cols` columns (left-aligned); longer text is left as it is.
pub fn pad_right(s: &str, cols: usize) -> String {
    let w = width(s);
    let mut out = String::with_capacity(s.len() + cols.saturating_sub(w));
    out.push_str(s);
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(w)));
    out
}

/// `--color`: when the table uses colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorWhen {
    /// Only when stdout is a terminal, and NO_COLOR is not set (CLICOLOR_FORCE=1 forces it)
    #[default]
    Auto,
    /// Always
    Always,
    /// Never
    Never,
}

/// Whether to colour, given the flag, the environment and whether stdout is a terminal.
pub fn use_color(when: ColorWhen, env: impl Fn(&str) -> Option<String>, terminal: bool) -> bool {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    match when {
        ColorWhen::Always => true,
        ColorWhen::Never => false,
        ColorWhen::Auto if set("NO_COLOR") => false,
        ColorWhen::Auto if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") => true,
        ColorWhen::Auto => terminal,
    }
}

/// The colour of a status or an error, as an ANSI SGR code.
pub fn outcome_color(status: Option<u16>, failed: bool) -> &'static str {
    match (status, failed) {
        (_, true) => "31",            // red: the page failed
        (Some(200..=299), _) => "32", // green
        (Some(300..=399), _) => "36", // cyan
        (Some(400..=499), _) => "33", // yellow
        (Some(_), _) => "31",         // 5xx: red
        (None, _) => "31",
    }
}

/// `text` in colour `sgr` when `on`.
pub fn paint(text: &str, sgr: &str, on: bool) -> String {
    match on {
        true => format!("\x1b[{sgr}m{text}\x1b[0m"),
        false => text.to_string(),
    }
}

/// Width of the terminal on stdout, or `None` when stdout is not a terminal.
pub fn stdout_columns() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    console::Term::stdout()
        .size_checked()
        .map(|(_, cols)| cols as usize)
}

/// The same for stderr.
pub fn stderr_columns() -> Option<usize> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    console::Term::stderr()
        .size_checked()
        .map(|(_, cols)| cols as usize)
}

/// `1 page`, `2 pages`.
pub fn plural(n: usize, what: &str) -> String {
    match n {
        1 => format!("1 {what}"),
        n => format!("{n} {what}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_plain_text_is_borrowed() {
        assert_eq!(escape("\x1b]0;title\x07"), "\\e]0;title\\x07");
        assert_eq!(escape("\x1b[2Ja\nb\tc\rd\x7f"), "\\e[2Ja\\nb\\tc\\rd\\x7f");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(escape("abc\u{202e}def"), "abc\\u{202e}def");
        assert!(matches!(escape("poire à café 日本"), Cow::Borrowed(_)));
    }

    #[test]
    fn colour_follows_the_flag_then_no_color_then_clicolor_force_then_the_terminal() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(use_color(
            ColorWhen::Always,
            env(&[("NO_COLOR", "1")]),
            false
        ));
        assert!(!use_color(
            ColorWhen::Never,
            env(&[("CLICOLOR_FORCE", "1")]),
            true
        ));
        assert!(!use_color(ColorWhen::Auto, env(&[("NO_COLOR", "1")]), true));
        assert!(use_color(ColorWhen::Auto, env(&[("NO_COLOR", "")]), true));
        assert!(use_color(
            ColorWhen::Auto,
            env(&[("CLICOLOR_FORCE", "1")]),
            false
        ));
        assert!(!use_color(
            ColorWhen::Auto,
            env(&[("CLICOLOR_FORCE", "0")]),
            false
        ));
        assert!(use_color(ColorWhen::Auto, env(&[]), true));
        assert!(!use_color(ColorWhen::Auto, env(&[]), false));
        assert_eq!(paint("200", "32", true), "\x1b[32m200\x1b[0m");
        assert_eq!(paint("200", "32", false), "200");
    }

    #[test]
    fn width_counts_columns_not_characters() {
        assert_eq!(width("日本語の検索語"), 14);
        assert_eq!(width("café"), 4);
        assert_eq!(pad_right("日本", 6), "日本  ");
    }

    #[test]
    fn long_text_is_cut_in_the_middle() {
        let a = "http://example.com/a/rather/long/path/to/search?q=x&status=500";
        let b = "http://example.com/a/rather/long/path/to/search?q=y&status=500";
        let (ca, cb) = (cut_middle(a, 30), cut_middle(b, 30));
        assert_eq!(width(&ca), 30);
        assert_eq!(ca, "http://example.…q=x&status=500");
        // Cut from the right, both would read "http://example.com/a/rather/l…".
        assert_ne!(ca, cb);
        assert_eq!(cut_middle("short", 30), "short");
        // A double-width character is never split.
        let cjk = cut_middle("日本語の検索語です", 9);
        assert!(width(&cjk) <= 9, "{cjk}");
        assert_eq!(cut_middle("abc", 0), "");
    }
}
