//! `pagefetch man`: one complete manual page in roff, made from the same clap definitions the
//! parser uses (so it cannot drift from it): every subcommand with its options under their help
//! headings, its examples, then the exit codes and the environment.
//!
//! clap_mangen renders one page per command and points to `pagefetch-fetch(1)` and the like, pages
//! nothing installs; this writes them all into `pagefetch(1)`.

use std::fmt::Write as _;

use clap::{ArgAction, Command};

/// Text for roff: backslashes and hyphens escaped, and no line starting with a control character.
fn esc(text: &str) -> String {
    let text = text.replace('\\', "\\e").replace('-', "\\-");
    let lines: Vec<String> = text
        .lines()
        .map(|l| match l.starts_with(['.', '\'']) {
            true => format!("\\&{l}"),
            false => l.to_string(),
        })
        .collect();
    lines.join("\n")
}

/// `EXIT STATUS` and `ENVIRONMENT`: what `--help` says in a few lines, in full.
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Every page was fetched."),
    (
        "1",
        "The run finished, but at least one page failed (its record says why).",
    ),
    (
        "2",
        "Usage or fatal error: a bad flag or value, an unreadable file, a bad template, no input, \
         cannot listen, cannot write stdout, a malformed --check.",
    ),
    (
        "3",
        "A --check failed (or was inconclusive, with --fail-inconclusive); it outranks 1.",
    ),
    ("130, 143", "Interrupted by Ctrl-C (SIGINT) or SIGTERM."),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "http_proxy, HTTP_PROXY",
        "Proxy for http:// URLs (lower case wins; HTTP_PROXY is ignored when REQUEST_METHOD is \
         set, as in a CGI script). Only http:// proxies; HTTPS goes through them with CONNECT.",
    ),
    ("https_proxy, HTTPS_PROXY", "Proxy for https:// URLs."),
    (
        "all_proxy, ALL_PROXY",
        "Proxy for either, when the specific variable is unset.",
    ),
    (
        "no_proxy, NO_PROXY",
        "Hosts, domains, addresses and networks reached without a proxy, comma-separated, as curl \
         7.88 reads them; a lone * means every host. Loopback and localhost never use a proxy. \
         --proxy and --noproxy replace these variables.",
    ),
    (
        "SSL_CERT_FILE, SSL_CERT_DIR",
        "Where the system's trusted certificates are (else the usual places, such as \
         /etc/ssl/certs); --cacert adds to them.",
    ),
    (
        "NO_COLOR",
        "When set and not empty, no colour with --color auto, even with CLICOLOR_FORCE (--color \
         always still colours).",
    ),
    (
        "CLICOLOR_FORCE",
        "When set, not empty and not 0, colour with --color auto even off a terminal.",
    ),
    (
        "JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, PARALLEL_SEQ",
        "Where --shard auto/N takes K from: a Kubernetes Indexed Job, a Slurm array (less its \
         first task's number) or GNU parallel (less 1), in that order.",
    ),
];

/// One option: `\fB\-c\fR, \fB\-\-concurrency\fR \fIN\fR`, its help, values, default, aliases.
fn option(page: &mut String, arg: &clap::Arg) {
    let mut names = Vec::new();
    if let Some(short) = arg.get_short() {
        names.push(format!("\\fB\\-{}\\fR", esc(&short.to_string())));
    }
    if let Some(long) = arg.get_long() {
        names.push(format!("\\fB\\-\\-{}\\fR", esc(long)));
    }
    let takes_value = !matches!(
        arg.get_action(),
        ArgAction::SetTrue | ArgAction::SetFalse | ArgAction::Count
    );
    let mut head = names.join(", ");
    if arg.is_positional() {
        let name = arg.get_value_names().and_then(|v| v.first().cloned());
        let name = name
            .map(|n| n.to_string())
            .unwrap_or_else(|| arg.get_id().to_string());
        head = format!("\\fI{}\\fR...", esc(&name));
    } else if takes_value {
        if let Some(value) = arg.get_value_names().and_then(|v| v.first()) {
            head.push_str(&format!(" \\fI{}\\fR", esc(value)));
        }
    }
    let _ = writeln!(page, ".TP\n{head}");
    let help = arg.get_long_help().or(arg.get_help());
    let mut text = help.map(|h| h.to_string()).unwrap_or_default();
    let values: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| match v.get_help() {
            Some(h) => format!("{} ({h})", v.get_name()),
            None => v.get_name().to_string(),
        })
        .collect();
    if takes_value && !values.is_empty() {
        text.push_str(&format!(". One of: {}", values.join("; ")));
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    if takes_value && !defaults.is_empty() {
        text.push_str(&format!(" [default: {}]", defaults.join(",")));
    }
    let aliases: Vec<String> = arg
        .get_visible_aliases()
        .unwrap_or_default()
        .iter()
        .map(|a| format!("--{a}"))
        .collect();
    if !aliases.is_empty() {
        text.push_str(&format!(" [alias: {}]", aliases.join(", ")));
    }
    let _ = writeln!(page, "{}", esc(&text));
}

/// One subcommand: its synopsis, what it does, its options by heading, its examples.
fn subcommand(page: &mut String, sub: &mut Command) {
    let usage = sub.render_usage().to_string();
    let usage = usage.trim().trim_start_matches("Usage:").trim().to_string();
    let _ = writeln!(page, ".SS \"{}\"", esc(&usage));
    let about = sub.get_long_about().or(sub.get_about());
    if let Some(about) = about {
        let _ = writeln!(page, "{}.", esc(about.to_string().trim_end_matches('.')));
    }
    let args: Vec<&clap::Arg> = sub
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter(|a| !matches!(a.get_action(), ArgAction::Help | ArgAction::Version))
        .collect();
    let mut headings: Vec<Option<&str>> = Vec::new();
    for arg in &args {
        if !headings.contains(&arg.get_help_heading()) {
            headings.push(arg.get_help_heading());
        }
    }
    for heading in headings {
        let title = heading.unwrap_or("Options");
        let _ = writeln!(page, ".PP\n\\fI{}:\\fR", esc(title));
        for arg in args.iter().filter(|a| a.get_help_heading() == heading) {
            option(page, arg);
        }
    }
    // The examples and notes of --help, without its exit codes (they have a section of their own).
    if let Some(after) = sub.get_after_help() {
        let after = after.to_string();
        let notes = after.split("Exit status:").next().unwrap_or("").trim_end();
        if !notes.is_empty() {
            let _ = writeln!(page, ".PP\n.nf\n.RS 4\n{}\n.RE\n.fi", esc(notes));
        }
    }
}

/// The whole page.
pub fn render(mut cli: Command) -> String {
    cli.build();
    let version = cli.get_version().unwrap_or("").to_string();
    let about = cli.get_about().map(|a| a.to_string()).unwrap_or_default();
    let mut page = String::new();
    let _ = writeln!(
        page,
        ".TH pagefetch 1 \"\" \"pagefetch {}\" \"User Commands\"",
        esc(&version)
    );
    let _ = writeln!(page, ".SH NAME\npagefetch \\- {}", esc(&about));
    let _ = writeln!(page, ".SH SYNOPSIS");
    let mut subs: Vec<Command> = cli
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .cloned()
        .collect();
    for (i, sub) in subs.iter_mut().enumerate() {
        let usage = sub.render_usage().to_string();
        let usage = usage.trim().trim_start_matches("Usage:").trim().to_string();
        let _ = writeln!(
            page,
            "{}\\fB{}\\fR",
            [".br\n", ""][(i == 0) as usize],
            esc(&usage)
        );
    }
    let _ = writeln!(
        page,
        ".SH DESCRIPTION\n\
         pagefetch fetches many web pages concurrently and reports, in input order, each page's \
         size, status and time, and how much faster the concurrent run was than the sequential \
         one. Inputs are search terms, put into a URL template, or http(s) URLs. stdout carries \
         only the report (a table, JSON, NDJSON or CSV); progress, warnings, check results and \
         errors go to stderr. Every subcommand takes \\fB\\-h\\fR (a summary) and \
         \\fB\\-\\-help\\fR (in full).\n\
         .PP\n\
         Durations are written like 250ms, 2s or 1m (at most 1y); sizes like 64K, 10M or 1G \
         (binary units)."
    );
    let _ = writeln!(page, ".SH COMMANDS");
    for sub in &mut subs {
        subcommand(&mut page, sub);
    }
    let _ = writeln!(page, ".SH \"EXIT STATUS\"");
    for (code, meaning) in EXIT_STATUS {
        let _ = writeln!(page, ".TP\n\\fB{}\\fR\n{}", esc(code), esc(meaning));
    }
    let _ = writeln!(
        page,
        ".PP\nWhen several apply, the first in this order wins: 2, 130/143, 3, 1, 0. A usage \
         error is one line on stderr and a hint. A closed stdout (a reader such as head(1) that \
         has read enough) ends the run quietly with 0."
    );
    let _ = writeln!(page, ".SH ENVIRONMENT");
    for (name, meaning) in ENVIRONMENT {
        let _ = writeln!(page, ".TP\n\\fB{}\\fR\n{}", esc(name), esc(meaning));
    }
    let _ = writeln!(
        page,
        ".SH \"SEE ALSO\"\n\
         curl(1), parallel(1); the documentation in the source: README.md and docs/."
    );
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::process::{Command as Process, Stdio};

    fn page() -> String {
        render(<crate::cli::Cli as clap::CommandFactory>::command())
    }

    #[test]
    fn the_page_holds_every_subcommand_the_exit_codes_and_the_environment() {
        let page = page();
        for want in [
            ".SS \"pagefetch fetch",
            ".SS \"pagefetch compare",
            ".SS \"pagefetch serve",
            ".SS \"pagefetch demo",
            ".SS \"pagefetch merge",
            ".SS \"pagefetch completions",
            "\\fB\\-\\-retry\\fR \\fIN\\fR",
            "\\fIPoliteness:\\fR",
            "[alias: \\-\\-max\\-time]",
            ".SH \"EXIT STATUS\"",
            "\\fB130, 143\\fR",
            ".SH ENVIRONMENT",
            "NO_PROXY",
            "NO_COLOR",
            "SSL_CERT_FILE",
        ] {
            assert!(page.contains(want), "{want} missing:\n{page}");
        }
        assert!(
            !page.contains("pagefetch\\-fetch(1)"),
            "no pages that do not exist"
        );
        assert!(
            !page.contains("log\\-arrivals"),
            "hidden options stay hidden"
        );
    }

    #[test]
    fn man_renders_the_page_without_warnings() {
        // Skipped where man is not installed (it is a check of the roff, not of pagefetch).
        let spawn = Process::new("man")
            .args(["-l", "-"])
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut man) = spawn else {
            eprintln!("skipped: man is not installed");
            return;
        };
        man.stdin
            .take()
            .unwrap()
            .write_all(page().as_bytes())
            .unwrap();
        let out = man.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        // Bold and underline as overstrikes (`X\x08X`, `_\x08X`), as man writes them into a pipe.
        let mut text = String::new();
        for c in String::from_utf8_lossy(&out.stdout).chars() {
            match c {
                '\x08' => drop(text.pop()),
                c => text.push(c),
            }
        }
        assert!(out.status.success(), "{err}");
        assert!(err.trim().is_empty(), "man warns:\n{err}");
        for want in [
            "pagefetch fetch",
            "EXIT STATUS",
            "ENVIRONMENT",
            "--max-time",
        ] {
            assert!(text.contains(want), "{want}:\n{text}");
        }
    }
}
