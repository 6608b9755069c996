//! Input read as it is needed: arguments, then the file's or stdin's lines, on a thread of their
//! own, through a bounded channel. Requests start as soon as the first line arrives, a slow
//! producer's records appear as its lines do, and an endless one is read no faster than it is
//! fetched: at most [`AHEAD`] lines wait in the channel.

use std::fs::File;
use std::io::{self, BufReader, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::sync::mpsc;

use super::{Line, LineReader};

/// Lines read ahead of the loops at most.
pub const AHEAD: usize = 1024;

/// What the reading thread sends.
#[derive(Debug)]
pub enum Msg {
    /// A term (or bad line) from an argument (`from_file` false) or a line.
    Item { line: Line, from_file: bool },
    /// Reading stopped: the input could not be read. Nothing follows.
    Failed(String),
}

/// The receiving end, with the name of the input its lines come from.
pub struct Stream {
    rx: mpsc::Receiver<Msg>,
    /// A message looked at and not yet taken.
    peeked: Option<Msg>,
    /// `urls.txt`, `<stdin>`, or empty when there are only arguments.
    pub source: String,
}

impl Stream {
    /// Waits for the first item: `Ok(false)` when the input is empty, `Err` when it could not be
    /// read at all (both usage errors, found before any request).
    pub async fn has_input(&mut self) -> Result<bool, String> {
        if self.peeked.is_none() {
            self.peeked = self.rx.recv().await;
        }
        match &self.peeked {
            None => Ok(false),
            Some(Msg::Failed(e)) => Err(e.clone()),
            Some(Msg::Item { .. }) => Ok(true),
        }
    }

    /// The next message, waiting for it; `None` once the input has ended. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Msg> {
        match self.peeked.take() {
            Some(m) => Some(m),
            None => self.rx.recv().await,
        }
    }

    /// The next message if one is there now.
    pub fn try_recv(&mut self) -> Option<Msg> {
        self.peeked.take().or_else(|| self.rx.try_recv().ok())
    }
}

/// Where lines come from besides the arguments.
enum Reader {
    None,
    Stdin,
    File(File, PathBuf),
}

/// Starts reading: arguments first, then `file` (`-` = stdin), or stdin when there are no
/// arguments and no file and stdin is not a terminal. A file that cannot be opened is an error now.
pub fn spawn(args: Vec<String>, file: Option<&Path>) -> anyhow::Result<Stream> {
    let reader = match file {
        Some(p) if p == Path::new("-") => Reader::Stdin,
        Some(p) => Reader::File(
            File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
            p.to_path_buf(),
        ),
        None if args.is_empty() && !io::stdin().is_terminal() => Reader::Stdin,
        None => Reader::None,
    };
    let source = match &reader {
        Reader::None => String::new(),
        Reader::Stdin => "<stdin>".to_string(),
        Reader::File(_, p) => p.display().to_string(),
    };
    let (tx, rx) = mpsc::channel(AHEAD);
    let name = source.clone();
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || read(args, reader, &name, &tx))
        .context("cannot start the input thread")?;
    Ok(Stream {
        rx,
        peeked: None,
        source,
    })
}

/// The thread's work. It ends when the input does or when nobody listens any more.
fn read(args: Vec<String>, reader: Reader, name: &str, tx: &mpsc::Sender<Msg>) {
    for (i, a) in args.iter().enumerate() {
        let a = a.trim();
        if a.is_empty() {
            continue;
        }
        let line = Line {
            text: Ok(a.to_string()),
            number: i as u32 + 1,
        };
        let item = Msg::Item {
            line,
            from_file: false,
        };
        if tx.blocking_send(item).is_err() {
            return;
        }
    }
    let failed = match reader {
        Reader::None => return,
        Reader::Stdin => lines(LineReader::new(io::stdin().lock(), name), tx),
        Reader::File(f, _) => lines(LineReader::new(BufReader::new(f), name), tx),
    };
    if let Err(e) = failed {
        let _ = tx.blocking_send(Msg::Failed(format!("cannot read {name}: {e}")));
    }
}

fn lines(mut r: LineReader<impl io::BufRead>, tx: &mpsc::Sender<Msg>) -> io::Result<()> {
    while let Some(line) = r.next_line()? {
        let item = Msg::Item {
            line,
            from_file: true,
        };
        if tx.blocking_send(item).is_err() {
            return Ok(());
        }
    }
    Ok(())
}
