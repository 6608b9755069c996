//! The two standard streams as the program writes them.
//!
//! stdout carries the data, so a failed write there ends the run: a closed pipe (`| head`) quietly,
//! anything else (`> /dev/full`) with an error that says it was stdout. stderr is for people, and a
//! failed write there (its reader gone, a full disk) must never change the exit code, stop the run
//! or lose stdout, so [`Stderr`] swallows its errors. Nothing here uses `eprintln!`, which panics
//! when stderr is closed.

use std::fmt;
use std::io::{self, Write};

/// Marks an I/O error as one from writing stdout.
#[derive(Debug)]
struct StdoutError(io::Error);

impl fmt::Display for StdoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot write to stdout: {}", self.0)
    }
}

impl std::error::Error for StdoutError {}

fn tag(e: io::Error) -> io::Error {
    // An error tagged twice (a writer layered on another) keeps its first tag.
    if e.get_ref().is_some_and(|inner| inner.is::<StdoutError>()) {
        return e;
    }
    io::Error::new(e.kind(), StdoutError(e))
}

/// Buffered stdout whose errors name it. Not locked: a lock must never be held across an await.
pub struct Stdout(io::BufWriter<io::Stdout>);

impl Stdout {
    pub fn new() -> Self {
        Stdout(io::BufWriter::with_capacity(64 * 1024, io::stdout()))
    }
}

impl Default for Stdout {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(tag)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf).map_err(tag)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(tag)
    }
}

/// True when `err` came from writing stdout after its reader left: not an error (as in ripgrep).
pub fn is_stdout_closed(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| {
            io.kind() == io::ErrorKind::BrokenPipe
                && io.get_ref().is_some_and(|inner| inner.is::<StdoutError>())
        })
}

/// A file the records go to; its errors name it.
pub struct FileSink {
    file: io::BufWriter<std::fs::File>,
    name: String,
}

impl FileSink {
    pub fn new(file: std::fs::File, name: String) -> Self {
        FileSink {
            file: io::BufWriter::with_capacity(64 * 1024, file),
            name,
        }
    }

    fn named(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("cannot write to {}: {e}", self.name))
    }
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf).map_err(|e| self.named(e))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush().map_err(|e| self.named(e))
    }
}

/// A record file written in whole lines: a line reaches the file once its newline has, one
/// `write_all` for all the lines ready, so a run stopped at any point (even killed) leaves whole
/// NDJSON records and CSV rows. Its errors name the file. `--resume` (which must never append half
/// a record) leaves an unfinished last line out when dropped; `-o` writes it as it is.
pub struct LineFile {
    file: std::fs::File,
    name: String,
    pending: Vec<u8>,
    keep_tail: bool,
}

impl LineFile {
    /// Lines kept before they are written without waiting for a flush.
    pub const BATCH: usize = 64 * 1024;

    pub fn new(file: std::fs::File, name: String, keep_tail: bool) -> Self {
        LineFile {
            file,
            name,
            pending: Vec::new(),
            keep_tail,
        }
    }

    fn write_upto(&mut self, end: usize) -> io::Result<()> {
        let written = self.file.write_all(&self.pending[..end]);
        self.pending.drain(..end);
        written.map_err(|e| io::Error::new(e.kind(), format!("cannot write to {}: {e}", self.name)))
    }

    fn write_lines(&mut self) -> io::Result<()> {
        match self.pending.iter().rposition(|&b| b == b'\n') {
            Some(last) => self.write_upto(last + 1),
            None => Ok(()),
        }
    }
}

impl Write for LineFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= Self::BATCH {
            self.write_lines()?;
        }
        Ok(buf.len())
    }

    /// Writes the whole lines; the start of a line waits for the rest of it.
    fn flush(&mut self) -> io::Result<()> {
        self.write_lines()
    }
}

impl Drop for LineFile {
    fn drop(&mut self) {
        let _ = match self.keep_tail {
            true => self.write_upto(self.pending.len()),
            false => self.write_lines(),
        };
    }
}

/// stderr that never fails: a write that cannot be made is dropped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}

/// One line on stderr, control characters escaped (the text may hold a term or a file name).
pub fn warn(args: fmt::Arguments<'_>) {
    let line = crate::term::escape(&args.to_string()).into_owned();
    let _ = writeln!(Stderr, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_broken_pipe_on_stdout_counts_as_the_reader_gone() {
        let closed = anyhow::Error::from(tag(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(is_stdout_closed(&closed));
        // A broken pipe elsewhere (stderr, a socket) is not "stdout closed".
        let other = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(!is_stdout_closed(&other));
        let full = tag(io::Error::from_raw_os_error(28));
        assert!(full.to_string().starts_with("cannot write to stdout: "));
        assert!(!is_stdout_closed(&anyhow::Error::from(full)));
    }

    #[test]
    fn a_tag_is_applied_once() {
        let twice = tag(tag(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert_eq!(
            twice.to_string().matches("cannot write to stdout").count(),
            1
        );
    }
}
