//! Collects terms from arguments, then from `--file` (or stdin), remembering where each came from so
//! that a bad line can be named in its own error record instead of stopping the run.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

/// Longest accepted input line; a longer one becomes an error record (and is never held whole).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Where a term came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// 1-based position among the positional arguments.
    Arg(usize),
    /// 1-based line number in a file (or `<stdin>`).
    Line { source: Arc<str>, line: usize },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Arg(n) => write!(f, "argument {n}"),
            Origin::Line { source, line } => write!(f, "line {line} of {source}"),
        }
    }
}

/// One input item: the trimmed text, or why the line could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: Result<String, String>,
    pub origin: Origin,
}

/// Reads every term: arguments first, then the file's lines. Stdin is read for `-f -`, or when there
/// are no arguments and no file and stdin is not a terminal (so `cat list | pagefetch fetch` works).
pub fn read_terms(args: &[String], file: Option<&Path>) -> anyhow::Result<Vec<Term>> {
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
        bail!("no input: give terms or URLs as arguments, with --file PATH, or on stdin");
    }
    Ok(terms)
}

/// One term per non-blank argument, trimmed, numbered from 1.
pub fn terms_from_args<S: AsRef<str>>(args: &[S]) -> Vec<Term> {
    args.iter()
        .enumerate()
        .filter(|(_, a)| !a.as_ref().trim().is_empty())
        .map(|(i, a)| Term {
            text: Ok(a.as_ref().trim().to_string()),
            origin: Origin::Arg(i + 1),
        })
        .collect()
}

/// Appends one `Term` per non-blank, non-comment line. CRLF is accepted.
pub fn read_lines(mut r: impl BufRead, source: &str, out: &mut Vec<Term>) -> io::Result<()> {
    let source: Arc<str> = source.into();
    let mut buf = Vec::new();
    for line in 1.. {
        buf.clear();
        let (n, overlong) = read_line_bounded(&mut r, &mut buf, MAX_LINE_BYTES)?;
        if n == 0 {
            break;
        }
        let origin = Origin::Line {
            source: source.clone(),
            line,
        };
        let text = if overlong {
            Err(format!(
                "{origin}: longer than {} KiB",
                MAX_LINE_BYTES / 1024
            ))
        } else {
            match std::str::from_utf8(&buf) {
                Ok(s) => match s.trim() {
                    "" => continue,
                    t if t.starts_with('#') => continue,
                    t => Ok(t.to_string()),
                },
                Err(_) => Err(format!("{origin}: not valid UTF-8")),
            }
        };
        out.push(Term { text, origin });
    }
    Ok(())
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `max` bytes and skipping the rest.
/// Returns the bytes consumed (0 at end of input) and whether the line was longer than `max`.
fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<(usize, bool)> {
    let (mut consumed, mut overlong) = (0, false);
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((consumed, overlong));
        }
        let (take, done) = match memchr(chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = &chunk[..if done { take - 1 } else { take }];
        if buf.len() + content.len() > max {
            overlong = true;
        } else {
            buf.extend_from_slice(content);
        }
        r.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, overlong));
        }
    }
}

fn memchr(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\n')
}

/// Reads all of a small reader; used by tests and by stdin-fed helpers.
pub fn terms_from_reader(r: impl Read, source: &str) -> io::Result<Vec<Term>> {
    let mut out = Vec::new();
    read_lines(BufReader::new(r), source, &mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &[u8]) -> Vec<Result<String, String>> {
        terms_from_reader(input, "in.txt")
            .unwrap()
            .into_iter()
            .map(|t| t.text)
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
            terms[0].origin,
            Origin::Line {
                source: "in.txt".into(),
                line: 3
            }
        );
        assert_eq!(terms[0].origin.to_string(), "line 3 of in.txt");
    }

    #[test]
    fn bad_lines_become_errors_and_the_rest_survives() {
        let mut input = b"apple\n\xff\xfe\n".to_vec();
        input.extend(vec![b'x'; MAX_LINE_BYTES + 10]);
        input.extend(b"\npear\n");
        let got = texts(&input);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Ok("apple".into()));
        assert_eq!(got[1], Err("line 2 of in.txt: not valid UTF-8".into()));
        assert_eq!(got[2], Err("line 3 of in.txt: longer than 64 KiB".into()));
        assert_eq!(got[3], Ok("pear".into()));
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
        assert_eq!(terms[0].text, Ok("apple".into()));
        assert_eq!(terms[0].origin, Origin::Arg(1));
        assert_eq!(terms[1].text, Ok("pear".into()));

        let missing = dir.path().join("missing.txt");
        let err = read_terms(&[], Some(&missing)).unwrap_err();
        assert!(format!("{err:#}").contains("missing.txt"), "{err:#}");
    }
}
