//! Against a real peer nobody here wrote: nginx (Debian's package) over HTTPS and HTTP/2, on a
//! port of 127.0.0.1 picked for it, with a certificate made in the test. nginx ends an HTTP/2
//! connection with GOAWAY after `keepalive_requests` streams; the streams it did not take must be
//! sent again, never reported as failed, in every loop. Skipped with a message where nginx is not
//! installed, except where PAGEFETCH_REQUIRE_NGINX is set (CI installs it).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::pagefetch;
use pagefetch::server::tls::Authority;
use serde_json::Value;

const MODES: [&str; 3] = ["sequential", "joinset", "join-all"];

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// nginx in the foreground, in a directory of its own; stopped when dropped.
struct Nginx {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Serves `files` (name, size) over HTTPS with HTTP/2, `keepalive_requests` as given.
    fn start(binary: &Path, keepalive_requests: usize, files: &[(String, usize)]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca = Authority::new("nginx test CA").unwrap();
        let leaf = ca.localhost().unwrap();
        std::fs::write(d.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(d.join("cert.pem"), pem("CERTIFICATE", &leaf.chain[0])).unwrap();
        std::fs::write(d.join("key.pem"), pem("PRIVATE KEY", leaf.key.secret_der())).unwrap();
        std::fs::create_dir(d.join("www")).unwrap();
        for (name, size) in files {
            std::fs::write(d.join("www").join(name), vec![b'n'; *size]).unwrap();
        }
        // A port nothing holds now; nginx binds it a moment later (tried again if it lost it).
        for _ in 0..5 {
            let port = common::refused_addr().port();
            let conf = format!(
                "daemon off;\nmaster_process off;\nworker_processes 1;\n\
                 error_log {d}/error.log warn;\npid {d}/nginx.pid;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n\
                 log_format conns '$connection $status $request_uri';\n\
                 access_log {d}/access.log conns;\n\
                 client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
                 fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
                 keepalive_requests {keepalive_requests};\n\
                 server {{\n\
                 listen 127.0.0.1:{port} ssl http2;\n\
                 ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
                 root {d}/www;\n\
                 }}\n}}\n",
                d = d.display()
            );
            std::fs::write(d.join("nginx.conf"), conf).unwrap();
            let mut child = Command::new(binary)
                .args(["-p", d.to_str().unwrap(), "-c"])
                .arg(d.join("nginx.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("nginx starts");
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Nginx { child, port, dir };
                }
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let log = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
        panic!("nginx did not start: {log}");
    }

    fn url(&self, name: &str) -> String {
        format!("https://localhost:{}/{name}", self.port)
    }

    fn cacert(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The access log's lines so far: (connection serial number, status, URI).
    fn log(&self) -> Vec<(String, String, String)> {
        let text = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut f = l.split(' ');
                Some((f.next()?.into(), f.next()?.into(), f.next()?.into()))
            })
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn nginx_goaway_after_keepalive_requests_loses_no_page() {
    let Some(binary) = nginx_binary() else {
        assert!(
            std::env::var_os("PAGEFETCH_REQUIRE_NGINX").is_none(),
            "nginx is required here (PAGEFETCH_REQUIRE_NGINX) but is not installed"
        );
        eprintln!("skipped: nginx is not installed (apt-get install nginx)");
        return;
    };
    let files: Vec<(String, usize)> = (0..400)
        .map(|i| (format!("p{i}.html"), 1000 + 37 * i))
        .collect();
    for mode in MODES {
        let nginx = Nginx::start(&binary, 50, &files);
        let mut cmd = pagefetch();
        cmd.args([
            "fetch", "--format", "json", "-c", "64", "-m", mode, "--cacert",
        ])
        .arg(nginx.cacert());
        for (name, _) in &files {
            cmd.arg(nginx.url(name));
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let doc: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{mode}: {e}: {stderr}"));
        let pages = doc["pages"].as_array().unwrap();
        let failed: Vec<&Value> = pages.iter().filter(|p| p["status"] != 200).collect();
        assert!(
            failed.is_empty(),
            "{mode}: {} of 400 pages failed, first: {}",
            failed.len(),
            failed[0]
        );
        for (p, (_, size)) in pages.iter().zip(&files) {
            assert_eq!(p["bytes"], *size, "{mode}: {p}");
            assert_eq!(p["http"], "2", "{mode}: {p}");
        }
        assert_eq!(out.status.code(), Some(0), "{mode}: {stderr}");
        // nginx answered each page once and saw as many connections as pagefetch counted.
        let log = nginx.log();
        let answered = log.iter().filter(|(_, status, _)| status == "200").count();
        assert_eq!(answered, 400, "{mode}: nginx's log");
        let conns: HashSet<&String> = log.iter().map(|(c, _, _)| c).collect();
        assert_eq!(
            doc["connections"].as_u64(),
            Some(conns.len() as u64),
            "{mode}: connections in the summary vs nginx's log"
        );
        assert!(conns.len() >= 8, "{mode}: 400 pages at 50 a connection");
    }
}
