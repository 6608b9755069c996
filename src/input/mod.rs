//! Collects terms from arguments, then from `--file` (or stdin), remembering where each came from so
//! that a bad line can be named in its own error record instead of stopping the run.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::Path;

use anyhow::{bail, Context};

mod lines;
pub mod stream;

pub use lines::{Line, LineReader};

pub use lines::MAX_LINE_BYTES;

/// The usage error for an input without a single term.
pub const NO_INPUT: &str =
    "no input: give terms or URLs as arguments, with --file PATH, or on stdin";

/// Where a term came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// 1-based position among the positional arguments.
    Arg(u32),
    /// 1-based line number in a file (or `<stdin>`).
    Line { source: &'a str, line: u32 },
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Arg(n) => write!(f, "argument {n}"),
            Origin::Line { source, line } => write!(f, "line {line} of {source}"),
        }
    }
}

/// One input item: the trimmed text, or why the line could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term<'a> {
    pub text: Result<&'a str, &'a str>,
    pub origin: Origin<'a>,
}

/// Every input item, stored compactly: one text buffer and 16 bytes per item, instead of a
/// `String` (and its allocation) each. Jobs are made from it one at a time, as loops need them.
#[derive(Debug, Default)]
pub struct Terms {
    text: String,
    items: Vec<Item>,
    /// Name of the file the `Line` items came from.
    source: Box<str>,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    start: u32,
    len: u32,
    /// Argument or line number, 1-based.
    number: u32,
    from_file: bool,
    /// The text is an error message, not a term.
    error: bool,
}

impl Terms {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `i`th item, 0-based. Panics if out of range, like slice indexing.
    pub fn get(&self, i: usize) -> Term<'_> {
        let it = self.items[i];
        let text = &self.text[it.start as usize..(it.start + it.len) as usize];
        let origin = match it.from_file {
            true => Origin::Line {
                source: &self.source,
                line: it.number,
            },
            false => Origin::Arg(it.number),
        };
        Term {
            text: if it.error { Err(text) } else { Ok(text) },
            origin,
        }
    }

    fn push(&mut self, text: Result<&str, &str>, number: usize, from_file: bool) -> io::Result<()> {
        let too_big = || io::Error::other("input larger than 4 GiB");
        let start = u32::try_from(self.text.len()).map_err(|_| too_big())?;
        let (s, error) = match text {
            Ok(t) => (t, false),
            Err(e) => (e, true),
        };
        self.text.push_str(s);
        u32::try_from(self.text.len()).map_err(|_| too_big())?;
        self.items.push(Item {
            start,
            len: s.len() as u32,
            number: u32::try_from(number).map_err(|_| too_big())?,
            from_file,
            error,
        });
        Ok(())
    }
}

/// Reads every term: arguments first, then the file's lines. Stdin is read for `-f -`, or when there
/// are no arguments and no file and stdin is not a terminal (so `cat list | pagefetch fetch` works).
pub fn read_terms(args: &[String], file: Option<&Path>) -> anyhow::Result<Terms> {
    let mut terms = terms_from_args(args);
    match file {
        Some(p) if p == Path::new("-") => {
            read_lines(io::stdin().lock(), "<stdin>", &mut terms).context("cannot read stdin")?
        }
        Some(p) => {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            read_lines(BufReader::new(f), &p.display().to_string(), &mut terms)
                .with_context(|| format!("cannot read {}", p.display()))?
        }
        None if args.is_empty() && !io::stdin().is_terminal() => {
            read_lines(io::stdin().lock(), "<stdin>", &mut terms).context("cannot read stdin")?
        }
        None => {}
    }
    if terms.is_empty() {
        bail!(NO_INPUT);
    }
    Ok(terms)
}

/// One term per non-blank argument, trimmed, numbered from 1.
pub fn terms_from_args<S: AsRef<str>>(args: &[S]) -> Terms {
    let mut terms = Terms::default();
    for (i, a) in args.iter().enumerate() {
        let a = a.as_ref().trim();
        if !a.is_empty() {
            // Arguments cannot reach 4 GiB: the OS limits the command line far below that.
            let _ = terms.push(Ok(a), i + 1, false);
        }
    }
    terms
}

/// Appends one term per non-blank, non-comment line (see [`LineReader`]).
pub fn read_lines(r: impl BufRead, source: &str, out: &mut Terms) -> io::Result<()> {
    out.source = source.into();
    let mut lines = LineReader::new(r, source);
    while let Some(line) = lines.next_line()? {
        let text = line.text.as_deref().map_err(String::as_str);
        out.push(text, line.number as usize, true)?;
    }
    Ok(())
}

/// Reads all of a reader; used by tests.
pub fn terms_from_reader(r: impl Read, source: &str) -> io::Result<Terms> {
    let mut out = Terms::default();
    read_lines(BufReader::new(r), source, &mut out)?;
    Ok(out)
}

/// Inputs named in the warning about host-like inputs, at most.
pub const HOSTS_NAMED: usize = 3;

/// Whether a term without a scheme looks like a host name or address someone meant to fetch
/// (`example.com`, `intranet.corp/path`, `10.0.0.5:8080/health`) rather than words to search for:
/// the part before any `/`, `?` or `#` is an IPv4 address with an optional port, or dotted labels
/// of letters, digits and `-` whose last label is 2 to 24 letters (a TLD), with an optional port.
/// A bare word (`apple`), a phrase (`pear pie`), a number (`3.14`) or a URL with a scheme is not.
pub fn looks_like_host(term: &str) -> bool {
    if term.contains("://") || term.chars().any(char::is_whitespace) {
        return false;
    }
    let authority = term.split(['/', '?', '#']).next().unwrap_or("");
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.len() <= 5 => {
            if !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            host
        }
        Some(_) => return false,
        None => authority,
    };
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let tld = labels.last().copied().unwrap_or("");
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && (2..=24).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Inputs that look like host names ([`looks_like_host`]), counted as they are read (a stream's
/// too, from the reading side), with the first few kept to name them.
#[derive(Debug, Default)]
pub struct HostLike {
    count: std::sync::atomic::AtomicUsize,
    first: std::sync::Mutex<Vec<String>>,
}

impl HostLike {
    /// Counts `term` if it looks like a host name.
    pub fn note(&self, term: &str) {
        if !looks_like_host(term) {
            return;
        }
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        if first.len() < HOSTS_NAMED {
            first.push(term.to_string());
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The warning, if any input looked like a host name: `pagefetch: warning: 2 inputs look like
    /// host names but have no scheme, so they are sent to the default search template:
    /// "example.com", "10.0.0.5:8080/health"; to fetch them, add https:// (e.g. https://example.com)`.
    pub fn warning(&self) -> Option<String> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let first = self.first.lock().unwrap_or_else(|e| e.into_inner());
        let named: Vec<String> = first
            .iter()
            .map(|t| format!("\"{}\"", crate::term::escape(t)))
            .collect();
        let more = match n > first.len() {
            true => format!(" and {} more", n - first.len()),
            false => String::new(),
        };
        let subject = match n {
            1 => "1 input looks like a host name but has".to_string(),
            n => format!("{n} inputs look like host names but have"),
        };
        Some(format!(
            "pagefetch: warning: {subject} no scheme, so {} sent to the default search template: \
             {}{more}; to fetch {}, add https:// (e.g. https://{})",
            if n == 1 { "it is" } else { "they are" },
            named.join(", "),
            if n == 1 { "it" } else { "them" },
            crate::term::escape(&first[0]),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &[u8]) -> Vec<Result<String, String>> {
        let terms = terms_from_reader(input, "in.txt").unwrap();
        (0..terms.len())
            .map(|i| terms.get(i).text.map(String::from).map_err(String::from))
            .collect()
    }

    #[test]
    fn skips_blank_and_comments_and_accepts_crlf() {
        assert_eq!(
            texts(b"apple\r\n\n  # comment\n  pear  \r\n\r\ngrape"),
            vec![Ok("apple".into()), Ok("pear".into()), Ok("grape".into())]
        );
    }

    #[test]
    fn line_numbers_count_skipped_lines() {
        let terms = terms_from_reader(&b"# head\n\napple\n"[..], "in.txt").unwrap();
        assert_eq!(
            terms.get(0).origin,
            Origin::Line {
                source: "in.txt",
                line: 3
            }
        );
        assert_eq!(terms.get(0).origin.to_string(), "line 3 of in.txt");
    }

    #[test]
    fn bad_lines_become_errors_and_the_rest_survives() {
        let mut input = b"apple\ncaf\xe9 \xff\n".to_vec();
        input.extend(vec![b'x'; MAX_LINE_BYTES + 10]);
        input.extend(b"\npear\n");
        let got = texts(&input);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Ok("apple".into()));
        assert_eq!(
            got[1],
            Err("line 2 of in.txt: not valid UTF-8 (byte 4 is 0xe9)".into())
        );
        assert_eq!(got[2], Err("line 3 of in.txt: longer than 64 KiB".into()));
        assert_eq!(got[3], Ok("pear".into()));
    }

    #[test]
    fn a_utf8_bom_is_stripped_and_a_nul_makes_an_error_row() {
        let got = texts(b"\xef\xbb\xbfhttp://127.0.0.1:18080/ok\na\0b\npear\n");
        assert_eq!(got[0], Ok("http://127.0.0.1:18080/ok".into()));
        assert_eq!(got[1], Err("line 2 of in.txt: contains a NUL byte".into()));
        assert_eq!(got[2], Ok("pear".into()));
        // A BOM on its own line is an empty line; a BOM later in the file is not stripped.
        assert_eq!(texts(b"\xef\xbb\xbf\napple\n"), vec![Ok("apple".into())]);
        assert_eq!(texts(b"a\n\xef\xbb\xbfb\n")[1], Ok("\u{feff}b".into()));
    }

    #[test]
    fn utf16_and_utf32_are_refused_by_name() {
        let utf16le: Vec<u8> = "\u{feff}apple\npear\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let utf16be: Vec<u8> = "\u{feff}apple\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        let no_bom: Vec<u8> = "apple\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        for (bytes, name) in [
            (utf16le, "UTF-16LE"),
            (utf16be, "UTF-16BE"),
            (no_bom, "UTF-16 (no byte-order mark)"),
            (b"\xff\xfe\0\0a\0\0\0".to_vec(), "UTF-32LE"),
        ] {
            let err = terms_from_reader(&bytes[..], "in.txt").unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
            assert!(err.to_string().contains("not UTF-8"), "{err}");
        }
    }

    #[test]
    fn line_of_exactly_the_limit_is_kept() {
        let mut input = vec![b'y'; MAX_LINE_BYTES];
        input.push(b'\n');
        assert_eq!(texts(&input)[0].as_ref().unwrap().len(), MAX_LINE_BYTES);
    }

    #[test]
    fn args_come_first_and_file_errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "pear\n").unwrap();
        let terms = read_terms(&["apple".into()], Some(&path)).unwrap();
        assert_eq!(terms.get(0).text, Ok("apple"));
        assert_eq!(terms.get(0).origin, Origin::Arg(1));
        assert_eq!(terms.get(1).text, Ok("pear"));
        assert_eq!(
            terms.get(1).origin.to_string(),
            format!("line 1 of {}", path.display())
        );

        let missing = dir.path().join("missing.txt");
        let err = read_terms(&[], Some(&missing)).unwrap_err();
        assert!(format!("{err:#}").contains("missing.txt"), "{err:#}");
    }
}

#[cfg(test)]
mod host_tests {
    use super::*;

    #[test]
    fn host_names_and_addresses_look_like_hosts_and_words_do_not() {
        for host in [
            "example.com",
            "intranet.corp/health",
            "api.example.co.uk:8443/v1?x=1",
            "10.0.0.5:8080/health",
            "10.0.0.5",
            "a-b.example.org",
        ] {
            assert!(looks_like_host(host), "{host}");
        }
        for word in [
            "apple",
            "pear",
            "pear pie",
            "3.14",
            "1.2.3",
            "e.g",
            "https://example.com",
            "what is rust?",
            "node.js 22",
            "a..com",
            "-x.com",
            "example.com:http",
            "300.1.1.1",
        ] {
            assert!(!looks_like_host(word), "{word}");
        }
    }

    #[test]
    fn the_warning_names_the_first_few_and_counts_them_all() {
        let h = HostLike::default();
        assert_eq!(h.warning(), None);
        for t in [
            "apple",
            "example.com",
            "10.0.0.5:8080/health",
            "a.io",
            "b.io",
            "pear",
        ] {
            h.note(t);
        }
        assert_eq!(h.count(), 4);
        let w = h.warning().unwrap();
        assert!(
            w.contains("4 inputs look like host names but have no scheme")
                && w.contains("\"example.com\", \"10.0.0.5:8080/health\", \"a.io\" and 1 more")
                && w.contains("add https:// (e.g. https://example.com)"),
            "{w}"
        );
    }
}
