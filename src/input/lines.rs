//! Input lines, one at a time and in bounded memory: trimmed, blank lines and `#` comments skipped,
//! CRLF and a leading UTF-8 byte-order mark accepted, and every bad line turned into an error
//! naming it (not valid UTF-8, a NUL byte, longer than 64 KiB) instead of stopping the input.
//! Text in another encoding is refused as a whole: read as UTF-8, UTF-16 would make every line a
//! garbage term.

use std::io::{self, BufRead};

/// Longest accepted input line; a longer one becomes an error record (and is never held whole).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// One usable line: its trimmed text, or why it cannot be used (the message names the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: Result<String, String>,
    /// 1-based line number.
    pub number: u32,
}

pub struct LineReader<R> {
    r: R,
    source: String,
    line: u32,
    buf: Vec<u8>,
    /// The last read left bytes in the reader's buffer.
    buffered: bool,
}

impl<R: BufRead> LineReader<R> {
    /// `source` names the input in error messages (`urls.txt`, `<stdin>`).
    pub fn new(r: R, source: &str) -> Self {
        LineReader {
            r,
            source: source.to_string(),
            line: 0,
            buf: Vec::new(),
            buffered: false,
        }
    }

    /// Whether a next line can be had without reading more input (it is in the buffer already).
    pub fn has_buffered(&self) -> bool {
        self.buffered
    }

    /// The next term or bad line; `None` at the end. `Err`: the input could not be read, or is in
    /// another encoding than UTF-8.
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        loop {
            self.buf.clear();
            let (n, overlong, buffered) =
                read_line_bounded(&mut self.r, &mut self.buf, MAX_LINE_BYTES)?;
            self.buffered = buffered;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.line == 1 {
                check_encoding(&self.buf)?;
                if self.buf.starts_with(UTF8_BOM) {
                    self.buf.drain(..UTF8_BOM.len());
                }
            }
            let bad = |why: &str| format!("line {} of {}: {why}", self.line, self.source);
            let text = if overlong {
                Err(bad(&format!("longer than {} KiB", MAX_LINE_BYTES / 1024)))
            } else {
                match std::str::from_utf8(&self.buf) {
                    Ok(s) => match s.trim() {
                        "" => continue,
                        t if t.starts_with('#') => continue,
                        t if t.contains('\0') => Err(bad("contains a NUL byte")),
                        t => Ok(t.to_string()),
                    },
                    // Where and what, so a person can find it in a long line: a Latin-1 `é`
                    // is byte 0xe9.
                    Err(e) => Err(bad(&format!(
                        "not valid UTF-8 (byte {} is {:#04x})",
                        e.valid_up_to() + 1,
                        self.buf[e.valid_up_to()]
                    ))),
                }
            };
            return Ok(Some(Line {
                text,
                number: self.line,
            }));
        }
    }
}

/// Every byte at an even position (0, 2, 4...) of `l` is zero.
fn zero_every_other(l: &[u8]) -> bool {
    l.iter().step_by(2).all(|&b| b == 0)
}

/// Refuses input whose first line shows it is UTF-16 or UTF-32 (by its byte-order mark, or by a
/// zero byte in every other position, which is what ASCII looks like in UTF-16).
fn check_encoding(first_line: &[u8]) -> io::Result<()> {
    let encoding = match first_line {
        [0xff, 0xfe, 0, 0, ..] => "UTF-32LE",
        [0, 0, 0xfe, 0xff, ..] => "UTF-32BE",
        [0xff, 0xfe, ..] => "UTF-16LE",
        [0xfe, 0xff, ..] => "UTF-16BE",
        l if l.len() >= 4 && (zero_every_other(l) || zero_every_other(&l[1..])) => {
            "UTF-16 (no byte-order mark)"
        }
        _ => return Ok(()),
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the text is {encoding}, not UTF-8; convert it first (iconv -f {} -t UTF-8)",
            encoding.split(' ').next().unwrap_or(encoding)
        ),
    ))
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `max` bytes and skipping the rest.
/// Returns the bytes consumed (0 at end of input), whether the line was longer than `max`, and
/// whether more bytes wait in the reader's buffer.
fn read_line_bounded(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<(usize, bool, bool)> {
    let (mut consumed, mut overlong) = (0, false);
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((consumed, overlong, false));
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let more = take < chunk.len();
        let content = &chunk[..if done { take - 1 } else { take }];
        if buf.len() + content.len() > max {
            overlong = true;
        } else {
            buf.extend_from_slice(content);
        }
        r.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, overlong, more));
        }
    }
}
