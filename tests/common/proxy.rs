//! A small forward proxy on 127.0.0.1:0 for the proxy tests: absolute-form HTTP requests are
//! forwarded, CONNECT opens a tunnel. Every host name is taken to mean 127.0.0.1 (so a test can
//! use names that only the proxy "resolves"), and it counts what passes through it. A [`Mode`]
//! makes it misbehave the way real proxies do.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{mpsc, Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
pub struct Seen {
    /// Request heads as received (the request line and headers).
    pub heads: Vec<String>,
    /// `host:port` of every CONNECT tunnel opened.
    pub tunnels: Vec<String>,
}

/// How the proxy answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Forwards requests and opens tunnels.
    #[default]
    Forward,
    /// Answers every request, CONNECT or absolute-form, with 407 Proxy Authentication Required.
    Demand407,
    /// Answers CONNECT with 200 and then closes the connection at once.
    CloseTunnel,
}

pub struct Proxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    _thread: std::thread::JoinHandle<()>,
}

impl Proxy {
    pub fn start() -> Proxy {
        Proxy::start_with(Mode::Forward)
    }

    pub fn start_with(mode: Mode) -> Proxy {
        let (tx, rx) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let seen2 = seen.clone();
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
                    tokio::spawn(serve(stream, seen2.clone(), mode));
                }
            });
        });
        Proxy {
            addr: rx.recv().unwrap(),
            seen,
            _thread: thread,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn heads(&self) -> Vec<String> {
        self.seen.lock().unwrap().heads.clone()
    }

    pub fn tunnels(&self) -> Vec<String> {
        self.seen.lock().unwrap().tunnels.clone()
    }
}

async fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The port of `host:port` or of an absolute URL's authority; the host is ignored.
fn port_of(authority: &str) -> Option<u16> {
    authority.rsplit(':').next()?.parse().ok()
}

async fn serve(mut client: TcpStream, seen: Arc<Mutex<Seen>>, mode: Mode) {
    // One request per connection: enough for the tests, and simple.
    let Some(head) = read_head(&mut client).await else {
        return;
    };
    seen.lock().unwrap().heads.push(head.clone());
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    match (mode, method) {
        (Mode::Demand407, _) => {
            let body = "proxy credentials required";
            let answer = format!(
                "HTTP/1.1 407 Proxy Authentication Required\r\n\
                 Proxy-Authenticate: Basic realm=\"test\"\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(answer.as_bytes()).await;
            return;
        }
        (Mode::CloseTunnel, "CONNECT") => {
            let _ = client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await;
            return;
        }
        _ => {}
    }
    if method == "CONNECT" {
        let Some(port) = port_of(target) else {
            return;
        };
        seen.lock().unwrap().tunnels.push(target.to_string());
        let Ok(mut origin) = TcpStream::connect(("127.0.0.1", port)).await else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
            return;
        };
        let _ = client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut origin).await;
        return;
    }
    // Absolute form: GET http://host:port/path HTTP/1.1
    let Some(rest) = target.strip_prefix("http://") else {
        let _ = client
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some(port) = port_of(authority) else {
        return;
    };
    let Ok(mut origin) = TcpStream::connect(("127.0.0.1", port)).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    // Forward in origin form, closing after the answer.
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let version = first.rsplit(' ').next().unwrap_or("HTTP/1.1");
    let mut forwarded = format!(
        "GET {} {version}\r\n",
        if path.is_empty() { "/" } else { path }
    );
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        if name != "proxy-authorization" && name != "connection" {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    if origin.write_all(forwarded.as_bytes()).await.is_err() {
        return;
    }
    let _ = tokio::io::copy(&mut origin, &mut client).await;
}
