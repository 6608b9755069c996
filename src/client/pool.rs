//! The connections of one run: reused while idle, capped in number, the least recently used idle
//! one closed first.
//!
//! Every connection is opened for exactly one page, which is told so (`reused: false`) with how the
//! opening went; so is every page that asked while a shared HTTP/2 connection was being opened and
//! waited for it (it was not open when they asked; they waited out the same phases). Every later
//! page on it is told it was reused. Connections open at once (in use,
//! idle, or being opened) never exceed `max_open`: before one more is opened, the idle connection
//! used least recently is closed, and its descriptor is freed on the spot. Without that, a list of
//! thousands of hosts kept a pooled connection to each until the process ran out of files.
//!
//! A route that may speak HTTP/2 gets one connection that every request shares: while it is being
//! opened, other requests to the route wait for it instead of opening their own. A failure of one
//! of its streams fails that page only; a connection the server is closing (GOAWAY) is retired:
//! it finishes the streams it took, and the next requests open a new one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http_body_util::Empty;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use super::connect::{Opened, Route, Stream};
use crate::page::{Opening, PageError};

/// The most one read of a connection takes in. hyper's adaptive HTTP/1.1 read buffer doubles
/// after a read that fills it; reads kept one byte under 32 KiB hold it at 32 KiB however fast the
/// bodies come (see [`Pool::start`]).
const READ_MAX: usize = 32 * 1024 - 1;

/// The largest HTTP/1.1 response head accepted: as for HTTP/2. curl 7.88 takes a head of up to
/// 300 KiB (a header under 100 KiB each); hyper's buffer is what bounds it.
pub const H1_MAX_HEAD: usize = 256 * 1024;

/// The most headers an HTTP/1.1 response may have. hyper's default, 100, failed pages that curl
/// (no limit but the head's size) fetches; hyper takes room for this many per response parsed.
pub const H1_MAX_HEADERS: usize = 1000;

/// The largest HTTP/2 response head accepted (decoded). hyper's default, 16 KiB, failed pages
/// that curl (100 KiB a header) fetches.
pub const H2_MAX_HEAD: u32 = 256 * 1024;

/// The request body type: pagefetch only sends GET.
pub type ReqBody = Empty<Bytes>;

/// A connection's request handle.
pub enum Sender {
    H1(http1::SendRequest<ReqBody>),
    H2(http2::SendRequest<ReqBody>),
}

pub struct Pool {
    state: Mutex<State>,
    /// Connections open now (in use, idle or being opened).
    open: Arc<AtomicUsize>,
    /// Connections opened since the pool was made.
    opened: AtomicUsize,
    max_open: usize,
    max_idle: usize,
}

#[derive(Default)]
struct State {
    /// Orders idle connections: each gets a new stamp when it goes idle.
    stamp: u64,
    idle: HashMap<Route, Vec<Idle>>,
    h2: HashMap<Route, H2>,
    /// Idle connections (HTTP/1.1, and HTTP/2 ones nobody is using) by stamp, oldest first.
    order: BTreeMap<u64, Route>,
    /// Connects in progress to routes that may turn out to speak HTTP/2.
    attempts: HashMap<Route, Arc<Attempt>>,
    /// Routes whose server chose HTTP/1.1: requests to them need not wait for each other.
    h1_only: HashSet<Route>,
}

struct Idle {
    sender: http1::SendRequest<ReqBody>,
    conn: Arc<Conn>,
    stamp: u64,
}

struct H2 {
    sender: http2::SendRequest<ReqBody>,
    conn: Arc<Conn>,
    users: usize,
    stamp: Option<u64>,
}

impl Pool {
    /// `max_open`: the most connections open at once; `max_idle`: the most kept idle.
    pub fn new(max_open: usize, max_idle: usize) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State::default()),
            open: Arc::new(AtomicUsize::new(0)),
            opened: AtomicUsize::new(0),
            max_open: max_open.max(1),
            max_idle,
        })
    }

    /// Connections opened so far.
    pub fn opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open_now(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection for `route`: an open one if `reuse` and one is free, else a new one made by
    /// `open` (for a route that `may_be_h2`, at most one such opening at a time).
    pub async fn acquire<F, Fut>(
        self: &Arc<Self>,
        route: &Route,
        may_be_h2: bool,
        reuse: bool,
        open: F,
    ) -> Result<Pooled, PageError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Opened, PageError>>,
    {
        let mut owned = None;
        // The opening this request waited for, if it did.
        let mut waited: Option<Arc<Attempt>> = None;
        loop {
            let waiting = {
                let mut st = self.lock();
                if reuse {
                    if let Some(mut p) = self.take(&mut st, route) {
                        if let Some(a) = &waited {
                            a.tell_waiter(&mut p);
                        }
                        return Ok(p);
                    }
                }
                if !may_be_h2 || st.h1_only.contains(route) {
                    break;
                }
                match st.attempts.get(route) {
                    Some(a) => a.clone(),
                    None => {
                        let a = Arc::new(Attempt::default());
                        st.attempts.insert(route.clone(), a.clone());
                        owned = Some(AttemptGuard {
                            pool: self.clone(),
                            route: route.clone(),
                            attempt: a,
                        });
                        break;
                    }
                }
            };
            // Another request is opening this route's connection: use it, or share its failure.
            if let Some(e) = waiting.wait().await {
                return Err(e);
            }
            waited = Some(waiting);
        }
        self.make_room(1);
        self.open.fetch_add(1, Ordering::SeqCst);
        let conn = match open().await {
            Ok(opened) => self.start(route, opened).await,
            Err(e) => {
                self.open.fetch_sub(1, Ordering::SeqCst);
                Err(e)
            }
        };
        if let Some(guard) = owned {
            if let Ok(p) = &conn {
                guard.attempt.opened(p);
            }
            guard.attempt.finish(conn.as_ref().err().cloned());
        }
        conn
    }

    /// Runs the HTTP handshake on a new connection and hands it to the page that opened it.
    async fn start(self: &Arc<Self>, route: &Route, opened: Opened) -> Result<Pooled, PageError> {
        let conn = Arc::new(Conn {
            io: Mutex::new(Io {
                stream: Some(opened.stream),
                reader: None,
            }),
            counted: AtomicBool::new(true),
            open: self.open.clone(),
        });
        let io = TokioIo::new(ConnIo(conn.clone()));
        let handshake_failed = |e: hyper::Error| {
            conn.close();
            PageError::Request(format!("HTTP handshake failed: {e}"))
        };
        let sender = if opened.h2 {
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .max_header_list_size(H2_MAX_HEAD)
                .handshake(io)
                .await
                .map_err(handshake_failed)?;
            // This future ends as soon as the connection takes no new request (at a GOAWAY),
            // while hyper's own task still reads the streams the server took: the connection
            // is closed when hyper drops it (ConnIo's Drop), not here.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            let mut st = self.lock();
            st.h2.insert(
                route.clone(),
                H2 {
                    sender: sender.clone(),
                    conn: conn.clone(),
                    users: 1,
                    stamp: None,
                },
            );
            Sender::H2(sender)
        } else {
            // hyper grows a connection's read buffer up to ~400 KB by default; bodies are counted
            // and dropped, so a small buffer costs little, bounds memory at high -c, and keeps it
            // flat: a buffer that grows with what a connection has seen made a long run's peak
            // higher than a short one's. A fixed one (`read_buf_exact_size`) is also the head's
            // limit, though, and 32 KiB failed heads curl reads. So the buffer's maximum is the
            // head limit, and reads under 32 KiB (`READ_MAX`, in `ConnIo`) keep hyper's adaptive
            // buffer at 32 KiB for bodies; only a connection that gets a head larger than that
            // grows its buffer (to hold the head, at most `H1_MAX_HEAD`) and keeps it.
            let (sender, connection) = http1::Builder::new()
                .max_buf_size(H1_MAX_HEAD)
                .max_headers(H1_MAX_HEADERS)
                .handshake(io)
                .await
                .map_err(handshake_failed)?;
            let c = conn.clone();
            tokio::spawn(async move {
                let _ = connection.await;
                c.close();
            });
            self.lock().h1_only.insert(route.clone());
            Sender::H1(sender)
        };
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(Pooled {
            sender: Some(sender),
            reused: false,
            opening: Some(opened.opening),
            route: route.clone(),
            conn,
            pool: self.clone(),
        })
    }

    /// A free open connection for `route`, if any.
    fn take(self: &Arc<Self>, st: &mut State, route: &Route) -> Option<Pooled> {
        let pooled = |sender, conn| Pooled {
            sender: Some(sender),
            reused: true,
            opening: None,
            route: route.clone(),
            conn,
            pool: self.clone(),
        };
        if let Some(h) = st.h2.get_mut(route) {
            if !h.sender.is_closed() && h.conn.is_open() {
                h.users += 1;
                if let Some(stamp) = h.stamp.take() {
                    st.order.remove(&stamp);
                }
                return Some(pooled(Sender::H2(h.sender.clone()), h.conn.clone()));
            }
            // Closed for new requests (after a GOAWAY hyper closes its sender while the streams
            // the server took still run): forget it, but leave closing to hyper's task, which
            // ends once those streams have, or closing it here would cut them off mid-body.
            if let Some(stamp) = st.h2.remove(route).and_then(|dead| dead.stamp) {
                st.order.remove(&stamp);
            }
        }
        let list = st.idle.get_mut(route)?;
        let mut found = None;
        let mut dropped = Vec::new();
        while let Some(idle) = list.pop() {
            dropped.push(idle.stamp);
            if idle.sender.is_closed() || !idle.conn.is_open() {
                idle.conn.close();
                continue;
            }
            found = Some(idle);
            break;
        }
        if list.is_empty() {
            st.idle.remove(route);
        }
        for stamp in dropped {
            st.order.remove(&stamp);
        }
        let idle = found?;
        Some(pooled(Sender::H1(idle.sender), idle.conn))
    }

    /// Closes idle connections, least recently used first, until `extra` more fit under the cap.
    fn make_room(&self, extra: usize) {
        while self.open.load(Ordering::SeqCst) + extra > self.max_open {
            if !self.close_oldest_idle() {
                break;
            }
        }
    }

    /// Closes the idle connection used least recently; false if none is idle.
    fn close_oldest_idle(&self) -> bool {
        let mut st = self.lock();
        let Some((stamp, route)) = st.order.pop_first() else {
            return false;
        };
        if let Some(list) = st.idle.get_mut(&route) {
            if let Some(i) = list.iter().position(|idle| idle.stamp == stamp) {
                list.remove(i).conn.close();
                if list.is_empty() {
                    st.idle.remove(&route);
                }
                return true;
            }
        }
        if st.h2.get(&route).is_some_and(|h| h.stamp == Some(stamp)) {
            if let Some(h) = st.h2.remove(&route) {
                h.conn.close();
            }
        }
        true
    }

    fn next_stamp(st: &mut State) -> u64 {
        st.stamp += 1;
        st.stamp
    }

    /// An HTTP/1.1 connection whose response was read to its end goes back to the idle list.
    fn check_in(&self, route: Route, sender: http1::SendRequest<ReqBody>, conn: Arc<Conn>) {
        if sender.is_closed() || !conn.is_open() {
            conn.close();
            return;
        }
        {
            let mut st = self.lock();
            let stamp = Self::next_stamp(&mut st);
            st.order.insert(stamp, route.clone());
            st.idle.entry(route).or_default().push(Idle {
                sender,
                conn,
                stamp,
            });
        }
        while self.lock().order.len() > self.max_idle {
            self.close_oldest_idle();
        }
    }

    /// A page is done with a shared HTTP/2 connection.
    fn leave_h2(&self, route: &Route, conn: &Arc<Conn>) {
        let mut st = self.lock();
        let stamp = Self::next_stamp(&mut st);
        let Some(h) = st.h2.get_mut(route) else {
            return;
        };
        if !Arc::ptr_eq(&h.conn, conn) {
            return;
        }
        h.users = h.users.saturating_sub(1);
        if h.users == 0 {
            h.stamp = Some(stamp);
            st.order.insert(stamp, route.clone());
        }
    }
}

/// One connect in progress to a route that may speak HTTP/2; others wait for its outcome.
#[derive(Default)]
struct Attempt {
    /// `Some(None)`: done (use the connection, or open another); `Some(Some(e))`: it failed.
    done: OnceLock<Option<PageError>>,
    /// The HTTP/2 connection it opened, and how the opening went.
    made: OnceLock<(Weak<Conn>, Opening)>,
    notify: Notify,
}

impl Attempt {
    async fn wait(&self) -> Option<PageError> {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Registered before the check, so a finish in between is not missed.
        notified.as_mut().enable();
        if self.done.get().is_none() {
            notified.await;
        }
        self.done.get().cloned().flatten()
    }

    /// The attempt opened `p`'s connection; if it speaks HTTP/2, the waiters will share it.
    fn opened(&self, p: &Pooled) {
        if let (true, Some(opening)) = (p.is_h2(), p.opening) {
            let _ = self.made.set((Arc::downgrade(&p.conn), opening));
        }
    }

    /// A request that waited for this attempt got `p`: if it is the connection the attempt opened,
    /// the request was not given an open connection but waited for a new one, whose opening it
    /// is told.
    fn tell_waiter(&self, p: &mut Pooled) {
        if let Some((conn, opening)) = self.made.get() {
            if std::ptr::eq(conn.as_ptr(), Arc::as_ptr(&p.conn)) {
                p.reused = false;
                p.opening = Some(*opening);
            }
        }
    }

    fn finish(&self, failure: Option<PageError>) {
        let _ = self.done.set(failure);
        self.notify.notify_waiters();
    }
}

/// Ends an attempt however its page ends (a timeout or Ctrl-C drops it halfway).
struct AttemptGuard {
    pool: Arc<Pool>,
    route: Route,
    attempt: Arc<Attempt>,
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        {
            let mut st = self.pool.lock();
            if st
                .attempts
                .get(&self.route)
                .is_some_and(|a| Arc::ptr_eq(a, &self.attempt))
            {
                st.attempts.remove(&self.route);
            }
        }
        self.attempt.finish(None);
    }
}

/// A connection lent to one request.
pub struct Pooled {
    sender: Option<Sender>,
    /// The connection was open before this request needed it.
    pub reused: bool,
    /// How it was opened, for the request that opened it or waited for it to open.
    pub opening: Option<Opening>,
    route: Route,
    conn: Arc<Conn>,
    pool: Arc<Pool>,
}

impl Pooled {
    pub fn sender(&mut self) -> &mut Sender {
        self.sender.as_mut().expect("a sender until released")
    }

    pub fn is_h2(&self) -> bool {
        matches!(self.sender, Some(Sender::H2(_)))
    }

    /// The response was read to its end: an HTTP/1.1 connection can serve another request.
    pub fn release(mut self) {
        if let Some(Sender::H1(sender)) = self.sender.take() {
            self.pool
                .check_in(self.route.clone(), sender, self.conn.clone());
        } else {
            self.pool.leave_h2(&self.route, &self.conn);
        }
    }

    /// This request failed. An HTTP/1.1 connection serves no other; a shared HTTP/2 one keeps
    /// serving its other streams (one stream's error is that page's alone) unless it is closed,
    /// in which case hyper has already failed every stream on it.
    pub fn discard(mut self) {
        match self.sender.take() {
            Some(Sender::H2(sender)) if !sender.is_closed() && self.conn.is_open() => {
                self.pool.leave_h2(&self.route, &self.conn)
            }
            Some(Sender::H2(_)) => self.forget_h2(),
            _ => self.conn.close(),
        }
    }

    /// The server is closing this HTTP/2 connection (GOAWAY): it takes no new request, but the
    /// streams it accepted run to their end, after which hyper's task ends and closes it.
    pub fn retire(mut self) {
        self.sender.take();
        self.forget_h2();
    }

    fn forget_h2(&self) {
        let mut st = self.pool.lock();
        if st
            .h2
            .get(&self.route)
            .is_some_and(|h| Arc::ptr_eq(&h.conn, &self.conn))
        {
            if let Some(stamp) = st.h2.remove(&self.route).and_then(|h| h.stamp) {
                st.order.remove(&stamp);
            }
        }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        match self.sender.take() {
            // An HTTP/1.1 response not read to its end leaves the connection unusable.
            Some(Sender::H1(_)) => self.conn.close(),
            Some(Sender::H2(_)) => self.pool.leave_h2(&self.route, &self.conn),
            None => {}
        }
    }
}

/// The descriptor side of a connection: the stream, closed exactly once, by whoever comes first
/// (the pool making room, a failed request, or the end of hyper's connection task).
pub struct Conn {
    io: Mutex<Io>,
    counted: AtomicBool,
    open: Arc<AtomicUsize>,
}

struct Io {
    stream: Option<Stream>,
    /// The task last waiting to read: closing wakes it, so hyper sees the end at once and fails
    /// the requests still on the connection instead of leaving them to their timeouts.
    reader: Option<Waker>,
}

impl Conn {
    fn close(&self) {
        let (stream, reader) = {
            let mut io = self.io.lock().unwrap_or_else(|e| e.into_inner());
            (io.stream.take(), io.reader.take())
        };
        drop(stream);
        if let Some(reader) = reader {
            reader.wake();
        }
        if self.counted.swap(false, Ordering::SeqCst) {
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn is_open(&self) -> bool {
        self.counted.load(Ordering::SeqCst)
    }
}

/// hyper's view of a connection: reads and writes reach the stream until it is closed.
struct ConnIo(Arc<Conn>);

impl ConnIo {
    fn with<T>(
        &self,
        closed: impl FnOnce() -> Poll<io::Result<T>>,
        f: impl FnOnce(Pin<&mut Stream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let mut guard = self.0.io.lock().unwrap_or_else(|e| e.into_inner());
        match guard.stream.as_mut() {
            Some(s) => f(Pin::new(s)),
            None => closed(),
        }
    }
}

impl Drop for ConnIo {
    /// hyper is done with the connection (its task ended): close it, if nothing else has.
    fn drop(&mut self) {
        self.0.close();
    }
}

fn not_connected<T>() -> Poll<io::Result<T>> {
    Poll::Ready(Err(io::ErrorKind::NotConnected.into()))
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut guard = self.0.io.lock().unwrap_or_else(|e| e.into_inner());
        let io = &mut *guard;
        let Some(s) = io.stream.as_mut() else {
            return not_connected();
        };
        let polled = match buf.remaining() > READ_MAX {
            false => Pin::new(s).poll_read(cx, buf),
            true => {
                let mut part = buf.take(READ_MAX);
                let polled = Pin::new(s).poll_read(cx, &mut part);
                let n = part.filled().len();
                // SAFETY: `part` is the start of `buf`'s unfilled part, and the stream filled
                // (initialised) its first `n` bytes, as tokio's own `Take` reader relies on.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                polled
            }
        };
        if polled.is_pending() && !io.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            io.reader = Some(cx.waker().clone());
        }
        polled
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.with(not_connected, |s| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.with(not_connected, |s| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|| Poll::Ready(Ok(())), |s| s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(|| Poll::Ready(Ok(())), |s| s.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// However much room hyper offers, one read takes in less than 32 KiB: what holds its adaptive
    /// HTTP/1.1 buffer at 32 KiB while bodies stream (the buffer doubles after a read fills it).
    #[tokio::test]
    async fn one_read_takes_in_less_than_32_kib() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let sent = 300_000;
        tokio::spawn(async move { server.write_all(&vec![7u8; sent]).await });
        let mut io = ConnIo(Arc::new(Conn {
            io: Mutex::new(Io {
                stream: Some(Stream::Tcp(client)),
                reader: None,
            }),
            counted: AtomicBool::new(true),
            open: Arc::new(AtomicUsize::new(1)),
        }));
        let mut room = vec![0u8; H1_MAX_HEAD];
        let mut total = 0;
        while total < sent {
            let n = io.read(&mut room).await.unwrap();
            assert!(n > 0 && n <= READ_MAX, "{n} bytes in one read");
            assert!(room[..n].iter().all(|&b| b == 7));
            total += n;
        }
    }
}
