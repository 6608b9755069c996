//! The loopback server behind `serve`, `demo` and the tests: HTTP/1.1 and HTTP/2 (prior
//! knowledge), or with TLS both by ALPN.
//!
//! `GET /search?q=TERM` answers after the latency (plus a jitter derived from the term) with a page
//! whose size is a pure function of the term, so every run and every client sees the same bytes.
//! Per request, `ms=`, `bytes=` and `status=` override delay, size and status, and `close=1` closes
//! the connection after the answer. The server counts
//! connections and requests in flight so tests can prove what a loop really did.
//!
//! Two barriers let a test prove concurrency without a latency the client must beat:
//! `hold=N` keeps the answer until N requests have been in flight at once (the most seen since
//! `max_in_flight` was last reset), and `gate=K` keeps the answers to this query, from its K-th
//! request on, until the test calls [`Stats::open_gate`]. A held answer that waits longer than
//! [`HOLD_DEADLINE`] gives up with a 504 and says why on stderr, so a broken client fails the test
//! instead of hanging it.

pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Delays applied to every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerConfig {
    pub latency: Duration,
    /// Up to this much more per term (deterministic, see [`jitter_for`]).
    pub jitter: Duration,
}

/// What the server observed. Counters only grow, except `in_flight`.
#[derive(Debug, Default)]
pub struct Stats {
    pub connections: AtomicUsize,
    /// Connections open now, and the most that were open at once.
    pub open: AtomicUsize,
    pub max_open: AtomicUsize,
    pub requests: AtomicUsize,
    /// Requests that came over HTTP/2.
    pub http2_requests: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    /// Requests seen per query string, for `fail=` and `drop=` (only those that use them).
    seen: std::sync::Mutex<std::collections::HashMap<String, usize>>,
    /// When each request arrived, from the server's start, if asked to keep them.
    arrivals: std::sync::Mutex<Option<(std::time::Instant, Vec<Duration>)>>,
    /// The smallest `hold=` any request has waited for (0: none yet): a new request wakes the
    /// held ones only once the most in flight has reached it, not on every arrival.
    hold_target: AtomicUsize,
    /// `gate=`: open or not, and the wake-up for held answers when it opens or `hold=` is met.
    gate_open: AtomicBool,
    changed: tokio::sync::Notify,
}

/// How long an answer held by `hold=` or `gate=` waits before it gives up with a 504: far longer
/// than any barrier takes to be met on a busy machine, short enough to fail rather than hang.
pub const HOLD_DEADLINE: Duration = Duration::from_secs(60);

impl Stats {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
    pub fn max_open(&self) -> usize {
        self.max_open.load(Ordering::SeqCst)
    }
    pub fn http2_requests(&self) -> usize {
        self.http2_requests.load(Ordering::SeqCst)
    }

    /// Keeps the arrival time of every request from now on (see [`Stats::arrivals`]).
    pub fn record_arrivals(&self) {
        *self.arrivals.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((std::time::Instant::now(), Vec::new()));
    }

    /// Arrival times recorded so far, from when recording began.
    pub fn arrivals(&self) -> Vec<Duration> {
        let arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        arrivals
            .as_ref()
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// Lets every answer held by `gate=` go, and those that come later.
    pub fn open_gate(&self) {
        self.gate_open.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Holds `gate=` answers again, from the next one on.
    pub fn close_gate(&self) {
        self.gate_open.store(false, Ordering::SeqCst);
    }

    /// Waits until `n` requests have been in flight at once; false after [`HOLD_DEADLINE`].
    async fn hold_until_in_flight(&self, n: usize) -> bool {
        let _ = self
            .hold_target
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                (t == 0 || n < t).then_some(n)
            });
        self.wait_until(|s| s.max_in_flight() >= n).await
    }

    /// Waits until `cond` holds, woken by [`Stats::open_gate`] and by arrivals that meet a `hold=`.
    async fn wait_until(&self, cond: impl Fn(&Stats) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + HOLD_DEADLINE;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            // Registered before the condition is read, so a wake-up in between is not lost.
            notified.as_mut().enable();
            if cond(self) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return cond(self);
            }
        }
    }

    /// The how-many-th request for `query` this one is (1-based).
    fn count(&self, query: &str) -> usize {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let n = seen.entry(query.to_string()).or_default();
        *n += 1;
        *n
    }
}

/// A request the server answers by closing the connection (`drop=`).
#[derive(Debug)]
pub struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on request")
    }
}

impl std::error::Error for Dropped {}

/// A running server; dropping it stops accepting and closes every connection.
pub struct Server {
    addr: SocketAddr,
    stats: Arc<Stats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free one) and serves plain HTTP on the current tokio runtime.
    pub async fn start(addr: SocketAddr, config: ServerConfig) -> anyhow::Result<Server> {
        Server::start_with(addr, config, None).await
    }

    /// The same, over TLS when `tls` is given.
    pub async fn start_with(
        addr: SocketAddr,
        config: ServerConfig,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<Server> {
        let listener = listen(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(accept_loop(
            listener,
            config,
            stats.clone(),
            acceptor,
            stopped,
        ));
        Ok(Server {
            addr,
            stats,
            stop: Some(stop),
            task,
        })
    }

    /// Closes the listening socket (new connections are refused); open connections carry on.
    pub fn stop_accepting(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// `http://ADDR/search?q={}`: the template that points pagefetch at this server.
    pub fn template(&self) -> String {
        format!("http://{}/search?q={{}}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The accept loop owns the connection tasks; aborting it drops (and aborts) them all.
        self.task.abort();
    }
}

/// A listener with a deep accept queue. tokio's `bind` asks for 128 places, as std does; when 256
/// clients connect at once, the rest of their SYNs are dropped and retried a second later, which
/// showed as 1 s pages in the benchmarks. (The kernel caps the depth at net.core.somaxconn.)
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

async fn accept_loop(
    listener: TcpListener,
    config: ServerConfig,
    stats: Arc<Stats>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                crate::output::warn(format_args!("pagefetch serve: accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        stats.connections.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        conns.spawn(connection(stream, config, stats.clone(), tls.clone()));
        // Reap finished connection tasks so the set does not grow with every connection ever made.
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    // Keep serving the open connections until the server is dropped.
    while conns.join_next().await.is_some() {}
}

/// Serves one connection: HTTP/1.1, or HTTP/2 (by ALPN with TLS, by its preface without).
async fn connection(
    stream: TcpStream,
    config: ServerConfig,
    stats: Arc<Stats>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let _open = Open::enter(stats.clone());
    let service = service_fn(move |req| respond(req, config, stats.clone()));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let _ = match tls {
        None => {
            builder
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(tls) => builder.serve_connection(TokioIo::new(tls), service).await,
            Err(_) => return, // a client that did not trust us, or spoke plain HTTP
        },
    };
}

/// Counts a connection as open while it lives.
struct Open(Arc<Stats>);

impl Open {
    fn enter(stats: Arc<Stats>) -> Open {
        let now = stats.open.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_open.fetch_max(now, Ordering::SeqCst);
        Open(stats)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn respond(
    req: Request<Incoming>,
    config: ServerConfig,
    stats: Arc<Stats>,
) -> Result<Response<PageBody>, Dropped> {
    stats.requests.fetch_add(1, Ordering::SeqCst);
    if let Some((start, times)) = stats
        .arrivals
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
    {
        times.push(start.elapsed());
    }
    if req.version() == hyper::Version::HTTP_2 {
        stats.http2_requests.fetch_add(1, Ordering::SeqCst);
    }
    let query = req.uri().query().unwrap_or("");
    let mut ask = Ask::from_query(query, config);
    let mut cut = false;
    let mut gated = false;
    if ask.fail > 0 || ask.drop > 0 || ask.cut > 0 || ask.gate > 0 {
        let nth = stats.count(query);
        cut = nth <= ask.cut;
        gated = ask.gate > 0 && nth >= ask.gate;
        if nth <= ask.drop {
            return Err(Dropped);
        }
        if nth <= ask.fail {
            ask.status = ask.fail_status;
            ask.bytes = 0;
            ask.delay = Duration::ZERO;
        } else {
            ask.retry_after = None;
        }
    }
    let guard = InFlight::enter(stats.clone());
    let mut gave_up = None;
    if ask.hold > 0 && !stats.hold_until_in_flight(ask.hold).await {
        gave_up = Some(format!(
            "hold={}: only {} requests were ever in flight at once",
            ask.hold,
            stats.max_in_flight()
        ));
    }
    if gated
        && gave_up.is_none()
        && !stats
            .wait_until(|s| s.gate_open.load(Ordering::SeqCst))
            .await
    {
        gave_up = Some(format!("gate={}: the test never opened the gate", ask.gate));
    }
    if let Some(why) = gave_up {
        let why = format!(
            "test server: {query}: {why} in {} s; answering 504",
            HOLD_DEADLINE.as_secs()
        );
        eprintln!("{why}");
        let mut resp = Response::new(PageBody {
            remaining: 0,
            guard: Some(guard),
            cut_after: None,
            pause: None,
        });
        *resp.status_mut() = StatusCode::GATEWAY_TIMEOUT;
        if let Ok(v) = hyper::header::HeaderValue::from_str(&why) {
            resp.headers_mut().insert("x-held", v);
        }
        return Ok(resp);
    }
    if !ask.delay.is_zero() {
        tokio::time::sleep(ask.delay).await;
    }
    let body = PageBody {
        remaining: ask.bytes,
        guard: Some(guard),
        cut_after: cut.then_some(ask.bytes / 2),
        pause: None,
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = ask.status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if ask.close {
        resp.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
    }
    if let Some(after) = ask.retry_after.as_deref().and_then(|a| a.parse().ok()) {
        resp.headers_mut().insert(hyper::header::RETRY_AFTER, after);
    }
    Ok(resp)
}

/// What one request asked for, after defaults and overrides.
#[derive(Debug, PartialEq)]
struct Ask {
    delay: Duration,
    bytes: u64,
    status: StatusCode,
    /// Close the connection after this answer (HTTP/1.1), so the next request needs a new one.
    close: bool,
    /// The first `fail` requests for this query get `fail_status` (and `retry_after`).
    fail: usize,
    fail_status: StatusCode,
    retry_after: Option<String>,
    /// The first `drop` requests for this query get their connection closed, no answer.
    drop: usize,
    /// The first `cut` requests for this query get half their body, then the connection breaks.
    cut: usize,
    /// Answer only once this many requests have been in flight at once (0: at once).
    hold: usize,
    /// From this request for the query on (1-based; 0: never), answer once the gate is open.
    gate: usize,
}

impl Ask {
    fn from_query(query: &str, config: ServerConfig) -> Ask {
        let mut term = String::new();
        let (mut ms, mut bytes, mut status, mut close) = (None, None, None, false);
        let (mut fail, mut drop, mut cut, mut retry_after) = (0, 0, 0, None);
        let (mut hold, mut gate) = (0, 0);
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "q" => term = v.into_owned(),
                "ms" => ms = v.parse().ok(),
                "bytes" => bytes = v.parse().ok(),
                "status" => status = v.parse().ok().and_then(|s| StatusCode::from_u16(s).ok()),
                "close" => close = v == "1",
                "fail" => fail = v.parse().unwrap_or(0),
                "drop" => drop = v.parse().unwrap_or(0),
                "cut" => cut = v.parse().unwrap_or(0),
                "retry_after" => retry_after = Some(v.into_owned()),
                "hold" => hold = v.parse().unwrap_or(0),
                "gate" => gate = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        Ask {
            delay: ms.map_or_else(
                || config.latency + jitter_for(&term, config.jitter),
                Duration::from_millis,
            ),
            bytes: bytes.unwrap_or_else(|| page_bytes(&term)),
            status: if fail > 0 {
                StatusCode::OK
            } else {
                status.unwrap_or(StatusCode::OK)
            },
            close,
            fail,
            fail_status: status.unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            retry_after,
            drop,
            cut,
            hold,
            gate,
        }
    }
}

/// FNV-1a: stable across runs and platforms (std's hasher is randomly seeded).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Size of the page for `term`: 10,000 to 59,999 bytes, like a real result page.
pub fn page_bytes(term: &str) -> u64 {
    10_000 + fnv1a(term) % 50_000
}

/// Extra delay for `term`, from 0 up to `max`.
pub fn jitter_for(term: &str, max: Duration) -> Duration {
    let max_us = max.as_micros() as u64;
    if max_us == 0 {
        return Duration::ZERO;
    }
    Duration::from_micros(fnv1a(term).rotate_left(29) % (max_us + 1))
}

const CHUNK: usize = 64 * 1024;

/// The page text: a static buffer, so serving costs no allocation or copy.
static PAGE: [u8; CHUNK] = page_text();

const fn page_text() -> [u8; CHUNK] {
    let line = b"<p>pagefetch test page: the quick brown fox jumps over the lazy dog</p>\n";
    let mut buf = [0u8; CHUNK];
    let mut i = 0;
    while i < CHUNK {
        buf[i] = line[i % line.len()];
        i += 1;
    }
    buf
}

/// Counts a request as in flight until its last body byte has been handed to hyper.
struct InFlight(Arc<Stats>);

impl InFlight {
    fn enter(stats: Arc<Stats>) -> InFlight {
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let max = stats
            .max_in_flight
            .fetch_max(now, Ordering::SeqCst)
            .max(now);
        let target = stats.hold_target.load(Ordering::SeqCst);
        if target > 0 && max >= target {
            stats.changed.notify_waiters();
        }
        InFlight(stats)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A body of exactly `remaining` bytes. The in-flight guard is released with the last chunk, before
/// the client can see it, so a client that starts its next request on the last byte never makes the
/// server count one request too many.
pub struct PageBody {
    remaining: u64,
    guard: Option<InFlight>,
    /// Bytes to send before breaking the body off (`cut=`), if it is to be.
    cut_after: Option<u64>,
    /// The pause before the break, so the bytes sent so far leave first.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for PageBody {
    type Data = Bytes;
    type Error = Dropped;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Dropped>>> {
        if self.remaining == 0 {
            self.guard = None;
            return Poll::Ready(None);
        }
        if self.cut_after == Some(0) {
            let pause = self
                .pause
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(20))));
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.guard = None;
            return Poll::Ready(Some(Err(Dropped)));
        }
        let limit = self.cut_after.unwrap_or(u64::MAX).min(CHUNK as u64);
        let n = self.remaining.min(limit) as usize;
        if let Some(left) = &mut self.cut_after {
            *left -= n as u64;
        }
        self.remaining -= n as u64;
        if self.remaining == 0 {
            self.guard = None;
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&PAGE[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_jitter_are_deterministic_and_in_range() {
        for t in crate::demo::LESSON_TERMS.into_iter().chain([""]) {
            let b = page_bytes(t);
            assert!((10_000..60_000).contains(&b), "{t}: {b}");
            assert_eq!(b, page_bytes(t));
            let j = jitter_for(t, Duration::from_millis(100));
            assert!(j <= Duration::from_millis(100));
            assert_eq!(j, jitter_for(t, Duration::from_millis(100)));
        }
        assert_ne!(page_bytes("apple"), page_bytes("pear"));
        assert_eq!(jitter_for("apple", Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn query_overrides() {
        let cfg = ServerConfig {
            latency: Duration::from_millis(300),
            jitter: Duration::ZERO,
        };
        let a = Ask::from_query("q=apple%20pie", cfg);
        assert_eq!(a.delay, Duration::from_millis(300));
        assert_eq!(a.bytes, page_bytes("apple pie"));
        assert_eq!(a.status, StatusCode::OK);
        let b = Ask::from_query("q=x&ms=5&bytes=7&status=503", cfg);
        assert_eq!(
            b,
            Ask {
                delay: Duration::from_millis(5),
                bytes: 7,
                status: StatusCode::SERVICE_UNAVAILABLE,
                close: false,
                fail: 0,
                fail_status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: None,
                drop: 0,
                cut: 0,
                hold: 0,
                gate: 0,
            }
        );
        let c = Ask::from_query("q=x&hold=12&gate=2", cfg);
        assert_eq!((c.hold, c.gate), (12, 2));
    }

    /// One HTTP/1.1 GET of `/search?{query}` on a fresh connection: the status code.
    async fn get(addr: SocketAddr, query: String) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let head = format!("GET /search?{query} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n");
        conn.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer);
        text[9..12].parse().unwrap_or_else(|_| panic!("{text}"))
    }

    /// Waits (on a real clock, up to the deadline) until `cond` holds.
    async fn until(what: &str, cond: impl Fn() -> bool) {
        let end = tokio::time::Instant::now() + HOLD_DEADLINE;
        while !cond() {
            assert!(
                tokio::time::Instant::now() < end,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hold_answers_only_once_that_many_are_in_flight() {
        let s = Server::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            ServerConfig::default(),
        )
        .await
        .unwrap();
        let (addr, stats) = (s.addr(), s.stats().clone());
        let first: Vec<_> = (0..2)
            .map(|i| tokio::spawn(get(addr, format!("q=a{i}&hold=3&bytes=5"))))
            .collect();
        until("two held requests", || stats.in_flight() == 2).await;
        // However long they wait, two are not three: nothing is answered.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(first.iter().all(|t| !t.is_finished()));
        assert_eq!(stats.in_flight(), 2);
        assert_eq!(get(addr, "q=a2&hold=3&bytes=5".into()).await, 200);
        for t in first {
            assert_eq!(t.await.unwrap(), 200);
        }
        assert_eq!(stats.max_in_flight(), 3);
        // Once met, the barrier stays met until max_in_flight is reset.
        assert_eq!(get(addr, "q=a3&hold=3".into()).await, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gate_holds_from_the_kth_request_until_opened() {
        let s = Server::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            ServerConfig::default(),
        )
        .await
        .unwrap();
        let (addr, stats) = (s.addr(), s.stats().clone());
        assert_eq!(
            get(addr, "q=g&gate=2&bytes=1".into()).await,
            200,
            "the first passes"
        );
        let held = tokio::spawn(get(addr, "q=g&gate=2&bytes=1".into()));
        until("the held request", || stats.in_flight() == 1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!held.is_finished());
        stats.open_gate();
        assert_eq!(held.await.unwrap(), 200);
        assert_eq!(
            get(addr, "q=g&gate=2&bytes=1".into()).await,
            200,
            "open stays open"
        );
        stats.close_gate();
        let held = tokio::spawn(get(addr, "q=g&gate=2&bytes=1".into()));
        until("the held request", || stats.in_flight() == 1).await;
        stats.open_gate();
        assert_eq!(held.await.unwrap(), 200);
    }

    #[tokio::test(start_paused = true)]
    async fn a_barrier_never_met_gives_up_after_the_deadline() {
        let stats = Stats::default();
        let start = tokio::time::Instant::now();
        assert!(!stats.hold_until_in_flight(2).await);
        assert_eq!(start.elapsed(), HOLD_DEADLINE);
        assert!(
            !stats
                .wait_until(|s| s.gate_open.load(Ordering::SeqCst))
                .await
        );
    }

    #[test]
    fn page_text_is_the_repeated_line() {
        assert!(PAGE.starts_with(b"<p>pagefetch test page"));
        assert_eq!(PAGE.len(), CHUNK);
    }
}
