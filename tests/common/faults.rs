//! A deliberately broken HTTP server for the fault suite: raw TCP on 127.0.0.1:0, so it can do what
//! no well-behaved server library would (hang, trickle, lie about Content-Length, reset, bomb).
//! Test-only: `pagefetch serve` stays clean.
//!
//! Routes (by path):
//! - `/ok/N`: 200 with N bytes, keep-alive
//! - `/silent`: reads the request, never answers
//! - `/trickle`: announces 1000 bytes, sends one every 100 ms
//! - `/short`: announces 10000 bytes, sends 4000 and closes
//! - `/reset`: sends headers and 4000 of 10000 bytes, then resets the connection (RST)
//! - `/endless`: chunked body that never ends
//! - `/gzip-bomb`: a small gzip body that decodes to 4 GiB of zeros
//! - `/loop`: redirects to itself; `/chain/N`: N redirects, then `/ok/100`
//! - `/to/LOCATION`: redirects to LOCATION, the rest of the path as it is (`/to/http://h:1/ok/5`)
//! - `/to-ftp`: redirects to an ftp:// URL
//! - `/to-nowhere`: redirects to a host that does not resolve (`nowhere.invalid`)
//! - `/status/N`: status N with a 20-byte body
//! - `/close`: reads the request, closes without a word
//! - `/http10`: HTTP/1.0 answer without Content-Length or keep-alive, body until close
//! - `/chunked-cut`: chunked body of which one 3000-byte chunk arrives, then the connection closes
//! - `/head/K`: 200 with K KiB of response headers (K headers of 1 KiB) and 10 bytes
//! - `/one-header/K`: 200 with one response header of K KiB and 10 bytes
//! - `/headers/N`: 200 with N small response headers and 10 bytes
//! - `/vary`: 200 with 10 + (requests received so far) bytes: a page that changes between loops
//!
//! Every request head is recorded, so tests can check what pagefetch sent. `start_tls` serves the
//! same routes over TLS; a route that closes its connection there drops it without a TLS
//! close_notify, as many servers do.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct FaultServer {
    addr: SocketAddr,
    scheme: &'static str,
    heads: Arc<Mutex<Vec<String>>>,
    _thread: std::thread::JoinHandle<()>,
}

impl FaultServer {
    pub fn start() -> FaultServer {
        FaultServer::start_with(None)
    }

    /// The same routes over TLS, presenting `tls`, offering HTTP/1.1 only (ALPN).
    pub fn start_tls(tls: Arc<rustls::ServerConfig>) -> FaultServer {
        let mut tls = (*tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        FaultServer::start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls))))
    }

    fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> FaultServer {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (tx, rx) = mpsc::channel();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let heads2 = heads.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    // Without it, a small head and body written apart wait 40 ms for a delayed ACK.
                    let _ = stream.set_nodelay(true);
                    let heads = heads2.clone();
                    match tls.clone() {
                        None => tokio::spawn(connection(stream, heads)),
                        Some(tls) => tokio::spawn(async move {
                            if let Ok(stream) = tls.accept(stream).await {
                                connection(stream, heads).await;
                            }
                        }),
                    };
                }
            });
        });
        let addr = rx.recv().unwrap();
        FaultServer {
            addr,
            scheme,
            heads,
            _thread: thread,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request head received so far.
    pub fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

/// A connection the fault routes can answer on: TCP, or TLS over TCP.
trait Conn: AsyncRead + AsyncWrite + Unpin + Send {
    fn tcp(&self) -> &TcpStream;
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Conn for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

async fn connection(mut stream: impl Conn, heads: Arc<Mutex<Vec<String>>>) {
    loop {
        let Some(head) = read_head(&mut stream).await else {
            return;
        };
        heads.lock().unwrap().push(head.clone());
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let keep_alive = match path.as_str() {
            "/vary" => {
                let n = 10 + heads.lock().unwrap().len();
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
                let sent = stream.write_all(head.as_bytes()).await;
                sent.is_ok() && stream.write_all(&vec![b'v'; n]).await.is_ok()
            }
            _ => answer(&mut stream, &path).await.unwrap_or(false),
        };
        if !keep_alive {
            return;
        }
    }
}

async fn read_head(stream: &mut impl Conn) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Answers one request; returns whether the connection may serve another.
async fn answer(s: &mut impl Conn, path: &str) -> std::io::Result<bool> {
    let ok_head = |n: usize| format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
    if let Some(n) = path.strip_prefix("/ok/") {
        let n: usize = n.parse().unwrap_or(100);
        s.write_all(ok_head(n).as_bytes()).await?;
        s.write_all(&vec![b'x'; n]).await?;
        return Ok(true);
    }
    if let Some(n) = path.strip_prefix("/chain/") {
        let n: usize = n.parse().unwrap_or(0);
        let next = if n == 0 {
            "/ok/100".to_string()
        } else {
            format!("/chain/{}", n - 1)
        };
        redirect(s, &next).await?;
        return Ok(true);
    }
    if let Some(location) = path.strip_prefix("/to/") {
        redirect(s, location).await?;
        return Ok(true);
    }
    for (route, one) in [("/head/", 1024), ("/one-header/", 0), ("/headers/", 0)] {
        let Some(n) = path.strip_prefix(route) else {
            continue;
        };
        let n: usize = n.parse().unwrap_or(1);
        let headers: String = match (route, one) {
            ("/head/", one) => (0..n)
                .map(|i| format!("X-Big-{i:04}: {}\r\n", "h".repeat(one - 14)))
                .collect(),
            ("/one-header/", _) => format!("X-Big: {}\r\n", "h".repeat(n * 1024 - 9)),
            _ => (0..n).map(|i| format!("X-Small-{i:05}: s\r\n")).collect(),
        };
        let head = format!("HTTP/1.1 200 OK\r\n{headers}Content-Length: 10\r\n\r\n");
        s.write_all(head.as_bytes()).await?;
        s.write_all(&[b'b'; 10]).await?;
        return Ok(true);
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let head = format!("HTTP/1.1 {code} Fault\r\nContent-Length: 20\r\n\r\n");
        s.write_all(head.as_bytes()).await?;
        s.write_all(&[b'e'; 20]).await?;
        return Ok(true);
    }
    match path {
        "/silent" => tokio::time::sleep(Duration::from_secs(3600)).await,
        "/trickle" => {
            s.write_all(ok_head(1000).as_bytes()).await?;
            for _ in 0..1000 {
                s.write_all(b"t").await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        "/short" => {
            s.write_all(ok_head(10_000).as_bytes()).await?;
            s.write_all(&[b's'; 4000]).await?;
            s.flush().await?;
        }
        "/reset" => {
            s.write_all(ok_head(10_000).as_bytes()).await?;
            s.write_all(&[b'r'; 4000]).await?;
            s.flush().await?;
            tokio::time::sleep(Duration::from_millis(50)).await;
            // Linger 0: closing sends RST instead of FIN. (Deprecated because a non-zero linger
            // blocks the thread on drop; zero never does.)
            #[allow(deprecated)]
            s.tcp().set_linger(Some(Duration::ZERO))?;
        }
        "/endless" => {
            s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            let chunk = [b'e'; 16 * 1024];
            loop {
                s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                s.write_all(&chunk).await?;
                s.write_all(b"\r\n").await?;
            }
        }
        "/gzip-bomb" => {
            let body = gzip_bomb();
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(body).await?;
            return Ok(true);
        }
        "/loop" => {
            redirect(s, "/loop").await?;
            return Ok(true);
        }
        "/to-ftp" => {
            redirect(s, "ftp://files.example/x").await?;
            return Ok(true);
        }
        "/to-nowhere" => {
            redirect(s, "http://nowhere.invalid/page").await?;
            return Ok(true);
        }
        "/close" => {}
        "/http10" => {
            s.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
                .await?;
            s.write_all(&[b'h'; 5000]).await?;
            s.flush().await?;
        }
        "/chunked-cut" => {
            s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await?;
            s.write_all(format!("{:x}\r\n", 3000).as_bytes()).await?;
            s.write_all(&[b'c'; 3000]).await?;
            s.write_all(b"\r\n").await?;
            s.flush().await?;
        }
        other => {
            let body = format!("no route {other}");
            let head = format!(
                "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            s.write_all(head.as_bytes()).await?;
            s.write_all(body.as_bytes()).await?;
        }
    }
    Ok(false)
}

async fn redirect(s: &mut impl Conn, location: &str) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n");
    s.write_all(head.as_bytes()).await
}

/// 4 GiB of zeros, gzip-compressed (about 4 MiB): one deflate segment of 64 MiB of zeros, ended by a
/// sync flush, repeated 64 times. Zeros referring back to zeros stay valid across repeats. The
/// trailer's CRC is not computed: a client that decodes that far has already failed the test.
pub fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut segment = Vec::new();
        let mut c = flate2::Compress::new(flate2::Compression::best(), false);
        let zeros = vec![0u8; 64 << 20];
        segment.reserve(128 << 10);
        c.compress_vec(&zeros, &mut segment, flate2::FlushCompress::Sync)
            .unwrap();
        while c.total_in() < zeros.len() as u64 {
            let done = c.total_in() as usize;
            segment.reserve(128 << 10);
            c.compress_vec(&zeros[done..], &mut segment, flate2::FlushCompress::Sync)
                .unwrap();
        }
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        for _ in 0..64 {
            out.extend_from_slice(&segment);
        }
        // A final, empty stored block, then CRC32 (not computed) and ISIZE (4 GiB mod 2^32 = 0).
        out.extend_from_slice(&[0x03, 0x00]);
        out.extend_from_slice(&[0; 8]);
        out
    })
}
