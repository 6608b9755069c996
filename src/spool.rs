//! Output that never blocks the thread that times pages.
//!
//! stdout and export files are written by a thread of their own: a reader that pauses (`| less`,
//! a slow consumer, a full pipe) then stops that thread, not the runtime, so no socket or timer
//! waits and no page's time grows. What a paused reader has not taken waits in memory, up to
//! [`MAX_BACKLOG`] bytes over all outputs; past that no new page starts ([`room`], awaited by the
//! source before it hands out a job), so memory stays bounded while the pages in flight finish.
//!
//! Each output is one queue of chunks, written in the order they were handed over; the handles to
//! stdout all share one queue, so a table and the chart after it never interleave. [`finish`], at
//! the end of a command, waits until everything is written and returns the first write error.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;

use tokio::sync::Notify;

/// Bytes waiting for a slow reader past which no new page starts.
pub const MAX_BACKLOG: usize = 16 << 20;

/// A handle's own buffer is handed over when it reaches this size (or at a flush).
const CHUNK: usize = 64 * 1024;

/// Bytes handed to the writer threads and not written yet, over every output.
static BACKLOG: AtomicUsize = AtomicUsize::new(0);
/// Told when the backlog falls below the limit.
static ROOM: Notify = Notify::const_new();
/// Every output's queue and thread, for `finish`.
static OUTPUTS: Mutex<Vec<(Arc<Queue>, JoinHandle<()>)>> = Mutex::new(Vec::new());
static STDOUT: OnceLock<Arc<Queue>> = OnceLock::new();

struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    /// A write failed: the next write or flush of any handle says so.
    failed: AtomicBool,
}

#[derive(Default)]
struct State {
    chunks: VecDeque<Vec<u8>>,
    closed: bool,
    error: Option<io::Error>,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, chunk: Vec<u8>) {
        BACKLOG.fetch_add(chunk.len(), Ordering::SeqCst);
        self.lock().chunks.push_back(chunk);
        self.wake.notify_one();
    }

    /// The error that stopped the writer, as an error of the same kind and words.
    fn error(&self) -> io::Result<()> {
        if !self.failed.load(Ordering::Relaxed) {
            return Ok(());
        }
        match self.lock().error.as_ref() {
            Some(e) => Err(copy(e)),
            None => Ok(()),
        }
    }
}

/// Another io::Error with the same kind and message chain (the original stays for `finish`).
fn copy(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

/// The writer thread: writes chunks as they come until the queue is closed and empty.
fn drain(queue: Arc<Queue>, mut out: Box<dyn Write + Send>) {
    loop {
        let chunk = {
            let mut st = queue.lock();
            loop {
                if let Some(c) = st.chunks.pop_front() {
                    break Some((c, st.chunks.is_empty()));
                }
                if st.closed {
                    break None;
                }
                st = queue.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some((chunk, last)) = chunk else { break };
        if !queue.failed.load(Ordering::Relaxed) {
            let written = out.write_all(&chunk).and_then(|()| match last {
                // Flushed whenever the queue runs dry, so a reader sees records as they come.
                true => out.flush(),
                false => Ok(()),
            });
            if let Err(e) = written {
                queue.lock().error = Some(e);
                queue.failed.store(true, Ordering::Relaxed);
            }
        }
        let before = BACKLOG.fetch_sub(chunk.len(), Ordering::SeqCst);
        if before >= MAX_BACKLOG && before - chunk.len() < MAX_BACKLOG {
            ROOM.notify_waiters();
        }
    }
    if !queue.failed.load(Ordering::Relaxed) {
        if let Err(e) = out.flush() {
            queue.lock().error = Some(e);
        }
    }
}

fn start(out: Box<dyn Write + Send>) -> Arc<Queue> {
    let queue = Arc::new(Queue {
        state: Mutex::new(State::default()),
        wake: Condvar::new(),
        failed: AtomicBool::new(false),
    });
    let q = queue.clone();
    let thread = std::thread::Builder::new()
        .name("pagefetch-output".into())
        .spawn(move || drain(q, out))
        .expect("a thread for output");
    OUTPUTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((queue.clone(), thread));
    queue
}

/// A handle that writes `out` from a thread of its own.
pub fn spool(out: Box<dyn Write + Send>) -> Box<dyn Write> {
    Box::new(Spool::new(start(out)))
}

/// An output that several handles write to through one queue, so that what they hand over stays
/// in order (`-o FILE`: a table and the chart after it), as stdout's handles do.
#[derive(Clone)]
pub struct Shared(Arc<Queue>);

impl Shared {
    /// Starts the writer thread of `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Shared {
        Shared(start(out))
    }

    /// One more handle to the output.
    pub fn handle(&self) -> Box<dyn Write> {
        Box::new(Spool::new(self.0.clone()))
    }
}

/// A handle to stdout (buffered, its errors naming it), written from one thread for the process.
pub fn stdout() -> Box<dyn Write> {
    let queue = STDOUT.get_or_init(|| start(Box::new(crate::output::Stdout::new())));
    Box::new(Spool::new(queue.clone()))
}

/// Waits until the backlog is under [`MAX_BACKLOG`]; at once in the usual case.
pub async fn room() {
    while BACKLOG.load(Ordering::SeqCst) >= MAX_BACKLOG {
        let notified = ROOM.notified();
        tokio::pin!(notified);
        // Registered before the check, so a drain in between is not missed.
        notified.as_mut().enable();
        if BACKLOG.load(Ordering::SeqCst) < MAX_BACKLOG {
            return;
        }
        notified.await;
    }
}

/// Closes every output, waits until each has written what it was given, and returns the first
/// write error. Call it once the handles are dropped (their last bytes are handed over then).
pub fn finish() -> io::Result<()> {
    let outputs = std::mem::take(&mut *OUTPUTS.lock().unwrap_or_else(|e| e.into_inner()));
    let mut first = None;
    for (queue, thread) in outputs {
        queue.lock().closed = true;
        queue.wake.notify_one();
        let _ = thread.join();
        if let Some(e) = queue.lock().error.take() {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// One writer's handle: a buffer of its own, handed to the queue in chunks.
struct Spool {
    queue: Arc<Queue>,
    pending: Vec<u8>,
}

impl Spool {
    fn new(queue: Arc<Queue>) -> Spool {
        Spool {
            queue,
            pending: Vec::new(),
        }
    }

    fn hand_over(&mut self) {
        if !self.pending.is_empty() {
            let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
            self.queue.push(chunk);
        }
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.queue.error()?;
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= CHUNK {
            self.hand_over();
        }
        Ok(buf.len())
    }

    /// Hands the bytes over; the writer thread writes and flushes them. Never waits for it.
    fn flush(&mut self) -> io::Result<()> {
        self.hand_over();
        self.queue.error()
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.hand_over();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that records what reached it.
    #[derive(Clone, Default)]
    struct Seen(Arc<Mutex<Vec<u8>>>);

    impl Write for Seen {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(28))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    // One test: `finish` closes every output of the process.
    #[test]
    fn bytes_arrive_in_order_and_a_write_error_is_returned() {
        let seen = Seen::default();
        let queue = start(Box::new(seen.clone()));
        let mut a = Spool::new(queue.clone());
        let mut b = Spool::new(queue);
        let big = vec![b'x'; CHUNK * 3 + 5];
        a.write_all(b"first ").unwrap();
        a.flush().unwrap();
        b.write_all(&big).unwrap();
        b.flush().unwrap();
        a.write_all(b" last").unwrap();
        drop((a, b));
        let mut full = spool(Box::new(Full));
        full.write_all(b"lost").unwrap();
        // The writer may fail before or after this returns: either way `finish` has the error.
        let _ = full.flush();
        drop(full);
        let err = finish().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(28));
        let got = seen.0.lock().unwrap().clone();
        assert_eq!(got.len(), 6 + big.len() + 5);
        assert!(got.starts_with(b"first xxx") && got.ends_with(b"x last"));
        assert_eq!(BACKLOG.load(Ordering::SeqCst), 0);
    }
}
