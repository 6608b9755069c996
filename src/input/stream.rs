//! Input read as it is needed: arguments, then the file's or stdin's lines, on a thread of their
//! own, through a bounded channel. Requests start as soon as the first line arrives, a slow
//! producer's records appear as its lines do, and an endless one is read no faster than it is
//! fetched: at most [`AHEAD`] lines wait in the channel.
//!
//! Lines travel in batches: a batch goes as soon as the next line would need another read of the
//! input (so a slow producer's line is never held back), or when it holds [`BATCH`] lines. One
//! message a line cost a thread wake-up per page, a third of the throughput on a fast list.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::sync::mpsc;

use super::{Line, LineReader};

/// Lines read ahead of the loops at most.
pub const AHEAD: usize = 1024;

/// Lines in one message at most.
pub const BATCH: usize = 128;

/// What the reading thread sends.
#[derive(Debug)]
pub enum Msg {
    /// A term (or bad line) from an argument (`from_file` false) or a line.
    Item { line: Line, from_file: bool },
    /// Reading stopped: the input could not be read. Nothing follows.
    Failed(String),
}

/// What travels through the channel: items in order.
type Batch = Vec<Msg>;

/// The receiving end, with the name of the input its lines come from.
pub struct Stream {
    rx: mpsc::Receiver<Batch>,
    /// Messages received and not yet taken (the rest of a batch).
    pending: VecDeque<Msg>,
    /// `urls.txt`, `<stdin>`, or empty when there are only arguments.
    pub source: String,
    /// Counts the items taken that look like host names (with the default template).
    hosts: Option<std::sync::Arc<super::HostLike>>,
}

impl Stream {
    /// Waits for the first item: `Ok(false)` when the input is empty, `Err` when it could not be
    /// read at all (both usage errors, found before any request).
    pub async fn has_input(&mut self) -> Result<bool, String> {
        while self.pending.is_empty() {
            match self.rx.recv().await {
                Some(batch) => self.pending.extend(batch),
                None => return Ok(false),
            }
        }
        match self.pending.front() {
            Some(Msg::Failed(e)) => Err(e.clone()),
            _ => Ok(true),
        }
    }

    /// Items taken from now on that look like host names are counted in `hosts`.
    pub fn watch_hosts(&mut self, hosts: std::sync::Arc<super::HostLike>) {
        self.hosts = Some(hosts);
    }

    /// The next message, waiting for it; `None` once the input has ended. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Msg> {
        while self.pending.is_empty() {
            self.pending.extend(self.rx.recv().await?);
        }
        let msg = self.pending.pop_front();
        self.taken(msg)
    }

    /// The next message if one is there now.
    pub fn try_recv(&mut self) -> Option<Msg> {
        if self.pending.is_empty() {
            self.pending.extend(self.rx.try_recv().ok()?);
        }
        let msg = self.pending.pop_front();
        self.taken(msg)
    }

    fn taken(&self, msg: Option<Msg>) -> Option<Msg> {
        if let (Some(hosts), Some(Msg::Item { line, .. })) = (&self.hosts, &msg) {
            if let Ok(text) = &line.text {
                hosts.note(text);
            }
        }
        msg
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
    let (tx, rx) = mpsc::channel(AHEAD / BATCH);
    let name = source.clone();
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || read(args, reader, &name, &tx))
        .context("cannot start the input thread")?;
    Ok(Stream {
        rx,
        pending: VecDeque::new(),
        source,
        hosts: None,
    })
}

/// The thread's work. It ends when the input does or when nobody listens any more.
fn read(args: Vec<String>, reader: Reader, name: &str, tx: &mpsc::Sender<Batch>) {
    let mut out = Sender {
        tx,
        batch: Vec::new(),
    };
    for (i, a) in args.iter().enumerate() {
        let a = a.trim();
        if a.is_empty() {
            continue;
        }
        let line = Line {
            text: Ok(a.to_string()),
            number: i as u32 + 1,
        };
        if !out.push(line, false) {
            return;
        }
    }
    if !out.send() {
        return;
    }
    let failed = match reader {
        Reader::None => return,
        Reader::Stdin => lines(LineReader::new(io::stdin().lock(), name), &mut out),
        Reader::File(f, _) => lines(LineReader::new(BufReader::new(f), name), &mut out),
    };
    if let Err(e) = failed {
        out.batch
            .push(Msg::Failed(format!("cannot read {name}: {e}")));
    }
    out.send();
}

fn lines(mut r: LineReader<impl io::BufRead>, out: &mut Sender<'_>) -> io::Result<()> {
    while let Some(line) = r.next_line()? {
        if !out.push(line, true) {
            return Ok(());
        }
        // The next line needs another read, which may wait: let this batch go first.
        if !r.has_buffered() && !out.send() {
            return Ok(());
        }
    }
    Ok(())
}

/// Gathers items into batches; false once nobody listens.
struct Sender<'a> {
    tx: &'a mpsc::Sender<Batch>,
    batch: Batch,
}

impl Sender<'_> {
    fn push(&mut self, line: Line, from_file: bool) -> bool {
        self.batch.push(Msg::Item { line, from_file });
        self.batch.len() < BATCH || self.send()
    }

    fn send(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.tx.blocking_send(batch).is_ok()
    }
}
