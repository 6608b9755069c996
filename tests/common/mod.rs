//! Test helpers: the binary with a clean environment, and the built-in server on 127.0.0.1:0 running
//! on a background thread (so blocking assert_cmd tests can use it).

#![allow(dead_code)] // each test binary uses a different subset

pub mod faults;
pub mod h2server;
pub mod proxy;

use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use pagefetch::server::{Server, ServerConfig, Stats};

/// Proxy variables a test must not inherit: a test never leaves the machine.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// `pagefetch` with NO_COLOR set and every proxy variable cleared.
pub fn pagefetch() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("pagefetch").expect("binary built");
    cmd.env("NO_COLOR", "1");
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The same clean environment for a child the test drives itself (signals, pipes closed early).
pub fn command() -> std::process::Command {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pagefetch"));
    cmd.env("NO_COLOR", "1").stdin(std::process::Stdio::null());
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The built-in server on its own runtime and thread; stops when dropped.
pub struct TestServer {
    addr: SocketAddr,
    stats: Arc<Stats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(latency: Duration, jitter: Duration) -> TestServer {
        TestServer::start_with(ServerConfig { latency, jitter }, None)
    }

    /// An HTTPS server presenting `tls` (see `pagefetch::server::tls`).
    pub fn tls(tls: Arc<rustls::ServerConfig>) -> TestServer {
        TestServer::start_with(ServerConfig::default(), Some(tls))
    }

    pub fn start_with(config: ServerConfig, tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async move {
                let server = Server::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), config, tls)
                    .await
                    .expect("bind 127.0.0.1:0");
                tx.send((server.addr(), server.stats().clone())).unwrap();
                let _ = stop_rx.await;
                drop(server);
            });
            rt.shutdown_background();
        });
        let (addr, stats) = rx.recv().expect("server started");
        TestServer {
            addr,
            stats,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn instant() -> TestServer {
        TestServer::start(Duration::ZERO, Duration::ZERO)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Template pointing at this server's search page.
    pub fn template(&self) -> String {
        format!("http://{}/search?q={{}}", self.addr)
    }

    /// The template with `hold=n`: no page is answered until `n` requests are in flight at once
    /// (see `pagefetch::server`), so a run shows its concurrency however loaded the machine is.
    pub fn held_template(&self, n: usize) -> String {
        format!("{}&hold={n}", self.template())
    }

    /// A URL term with query overrides, e.g. `url("t1", "ms=50&bytes=10")`.
    pub fn url(&self, term: &str, overrides: &str) -> String {
        format!("http://{}/search?q={term}&{overrides}", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An address on which nothing listens: bind port 0, note it, close it.
pub fn refused_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// How long a test waits for something that happens at once on an idle machine: generous, since
/// a busy one can stall a process for seconds, and only a failing test ever waits it out.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Waits up to [`DEADLINE`] for `cond`, checking every 10 ms.
pub fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` to a child process.
pub fn send(child: &std::process::Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill failed");
}
