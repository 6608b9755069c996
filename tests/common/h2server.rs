//! An HTTP/2 server (prior knowledge, plain TCP on 127.0.0.1:0) built on the h2 crate, for what
//! the built-in server never does: end connections with GOAWAY after a number of streams (as
//! nginx does after `keepalive_requests`), refuse streams, reset one stream, send a broken body or
//! a huge head, while the other streams on the connection are healthy.
//!
//! Routes (by path):
//! - `/ok/N`: 200 with N bytes
//! - `/after-bad/N`: 200 with N bytes, sent once a bad route has done its damage (and 200 ms
//!   more, for the client to react to it), or after 5 s
//! - `/rst`: 200, 1000 bytes, then RST_STREAM (INTERNAL_ERROR)
//! - `/bad-gzip`: 200 with `Content-Encoding: gzip` and a body that is not gzip
//! - `/head/K`: 200 with K KiB of response headers and 10 bytes

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the server does to its connections.
#[derive(Clone, Copy, Default)]
pub struct H2Config {
    /// After this many streams on a connection, close it gracefully (GOAWAY): the streams it took
    /// are answered, later ones refused.
    pub goaway_after: Option<usize>,
    /// Refuse every k-th stream of the server with RST_STREAM (REFUSED_STREAM).
    pub refuse_every: Option<usize>,
}

#[derive(Default)]
pub struct H2Stats {
    pub connections: AtomicUsize,
    /// Streams received, refused ones included.
    pub streams: AtomicUsize,
    /// Streams refused with REFUSED_STREAM.
    pub refused: AtomicUsize,
    /// Streams answered with a 200 head.
    pub answered: AtomicUsize,
}

pub struct H2Server {
    addr: SocketAddr,
    pub stats: Arc<H2Stats>,
    _thread: std::thread::JoinHandle<()>,
}

impl H2Server {
    pub fn start(config: H2Config) -> H2Server {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(H2Stats::default());
        let stats2 = stats.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let bad = Arc::new(watch::Sender::new(false));
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(connection(tcp, config, stats2.clone(), bad.clone()));
                }
            });
        });
        H2Server {
            addr: rx.recv().unwrap(),
            stats,
            _thread: thread,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

async fn connection(
    tcp: tokio::net::TcpStream,
    config: H2Config,
    stats: Arc<H2Stats>,
    bad: Arc<watch::Sender<bool>>,
) {
    let Ok(mut conn) = h2::server::handshake(tcp).await else {
        return;
    };
    stats.connections.fetch_add(1, Ordering::SeqCst);
    let mut here = 0;
    while let Some(Ok((req, mut respond))) = conn.accept().await {
        here += 1;
        let n = stats.streams.fetch_add(1, Ordering::SeqCst) + 1;
        if config.refuse_every.is_some_and(|k| n % k == 0) {
            stats.refused.fetch_add(1, Ordering::SeqCst);
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            continue;
        }
        if config.goaway_after == Some(here) {
            // GOAWAY (first naming the highest stream id, then, a round trip later, the last
            // stream received); the streams up to it are answered, later ones refused.
            conn.graceful_shutdown();
        }
        let path = req.uri().path().to_string();
        tokio::spawn(answer(path, respond, stats.clone(), bad.clone()));
    }
    // The streams taken before a GOAWAY are still being answered: keep the connection going.
    let _ = std::future::poll_fn(|cx| conn.poll_closed(cx)).await;
}

async fn answer(
    path: String,
    mut respond: SendResponse<Bytes>,
    stats: Arc<H2Stats>,
    bad: Arc<watch::Sender<bool>>,
) {
    let (route, arg) = match path[1..].split_once('/') {
        Some((r, a)) => (r.to_string(), a.parse::<usize>().unwrap_or(100)),
        None => (path[1..].to_string(), 100),
    };
    let mut head = http::Response::builder().status(200);
    match route.as_str() {
        "after-bad" => {
            let mut done = bad.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(5), done.wait_for(|d| *d)).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        "bad-gzip" => head = head.header("content-encoding", "gzip"),
        "head" => {
            let value = "h".repeat(1024 - 12);
            for i in 0..arg {
                head = head.header(format!("x-big-{i:04}"), &value);
            }
        }
        _ => {}
    }
    let Ok(mut body) = respond.send_response(head.body(()).unwrap(), false) else {
        return;
    };
    stats.answered.fetch_add(1, Ordering::SeqCst);
    match route.as_str() {
        "rst" => {
            let _ = body.send_data(Bytes::from(vec![b'r'; 1000]), false);
            tokio::time::sleep(Duration::from_millis(50)).await;
            body.send_reset(h2::Reason::INTERNAL_ERROR);
            bad.send_replace(true);
        }
        "bad-gzip" => {
            let _ = body.send_data(Bytes::from_static(b"this is not gzip at all"), true);
            bad.send_replace(true);
        }
        "head" => {
            let _ = body.send_data(Bytes::from_static(b"0123456789"), true);
            bad.send_replace(true);
        }
        _ => {
            let _ = body.send_data(Bytes::from(vec![b'x'; arg]), true);
        }
    }
}
