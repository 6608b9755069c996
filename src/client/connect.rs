//! Opening one connection: name lookup, TCP connect, a CONNECT tunnel through a proxy for HTTPS,
//! and the TLS handshake, each timed where it happens.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use url::{Host, Url};

use super::proxy::{Proxies, ProxyServer};
use super::resolve::Resolver;
use super::tls::{self, Alpn, Tls};
use super::{io_cause, HttpVersions};
use crate::page::{Cause, ConnectError, Name, Opening, PageError};

/// Where a connection goes: the origin, and the proxy in between if any. Connections are pooled
/// by route.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Route {
    pub https: bool,
    /// Host name, or IP address without brackets.
    pub host: String,
    pub port: u16,
    pub proxy: Option<ProxyServer>,
}

impl Route {
    pub fn of(url: &Url, proxies: &Proxies) -> Option<Route> {
        let host = match url.host()? {
            Host::Ipv6(ip) => ip.to_string(),
            h => h.to_string(),
        };
        Some(Route {
            https: url.scheme() == "https",
            host,
            port: url.port_or_known_default()?,
            proxy: proxies.for_url(url).cloned(),
        })
    }

    /// `host:port` as in a CONNECT line (IPv6 in brackets).
    pub fn authority(&self) -> String {
        match self.host.contains(':') {
            true => format!("[{}]:{}", self.host, self.port),
            false => format!("{}:{}", self.host, self.port),
        }
    }

    /// Requests go to the proxy as absolute URLs (plain HTTP through a proxy; no tunnel).
    pub fn absolute_form(&self) -> bool {
        self.proxy.is_some() && !self.https
    }
}

/// A TCP connection, with TLS on it or not.
pub enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// What [`open`] made.
pub struct Opened {
    pub stream: Stream,
    /// HTTP/2 was agreed (ALPN), or asked for with prior knowledge.
    pub h2: bool,
    pub opening: Opening,
}

/// What opening a connection needs besides the route.
pub struct Dialer<'a> {
    pub resolver: &'a Resolver,
    pub tls: &'a Arc<Tls>,
    pub versions: HttpVersions,
}

/// Opens a connection for `route`. The caller bounds the whole with the connect timeout.
pub async fn open(route: &Route, d: &Dialer<'_>) -> Result<Opened, PageError> {
    let (host, port) = match &route.proxy {
        Some(p) => (p.host.as_str(), p.port),
        None => (route.host.as_str(), route.port),
    };
    let via = |cause: Cause| {
        PageError::from(ConnectError::via(
            cause,
            route.proxy.as_ref().map(|p| p.shown.as_str()),
        ))
    };
    let resolved = d.resolver.resolve(host, port).await.map_err(|e| {
        let name = match &route.proxy {
            Some(p) => Name::Proxy(p.host.clone()),
            None => Name::Host(e.host().to_string()),
        };
        PageError::from(ConnectError::new(e.cause(name)))
    })?;
    let dns = resolved.dns;
    let connect_start = Instant::now();
    let mut tcp = connect_any(&resolved.addrs)
        .await
        .map_err(|e| via(io_cause(&e)))?;
    if let (Some(proxy), true) = (&route.proxy, route.https) {
        tunnel(&mut tcp, route, proxy).await?;
    }
    let connect = connect_start.elapsed();
    if !route.https {
        return Ok(Opened {
            stream: Stream::Tcp(tcp),
            // Prior knowledge is for the origin. A plain-HTTP request through a proxy goes to the
            // proxy in absolute form, which is HTTP/1.1: curl 7.88 ("Ignoring HTTP/2 prior
            // knowledge due to proxy") does the same.
            h2: d.versions == HttpVersions::Http2 && !route.absolute_form(),
            opening: Opening {
                dns,
                connect,
                tls: None,
            },
        });
    }
    let tls_start = Instant::now();
    let alpn = match d.versions {
        HttpVersions::Auto => Alpn::Both,
        HttpVersions::Http1 => Alpn::Http1,
        HttpVersions::Http2 => Alpn::Http2,
    };
    let config = d.tls.config(alpn).map_err(PageError::Tls)?;
    let name = ServerName::try_from(route.host.clone())
        .map_err(|_| PageError::Tls(format!("{} is not a valid TLS server name", route.host)))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| match &route.proxy {
            Some(p) if hung_up(&e) => PageError::from(ConnectError::via(
                Cause::Other("closed the tunnel before the TLS handshake".into()),
                Some(&p.shown),
            )),
            _ => PageError::Tls(tls::describe(&e)),
        })?;
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    if d.versions == HttpVersions::Http2 && !h2 {
        return Err(PageError::Tls(
            "the server does not offer HTTP/2 (--http2 requires it)".into(),
        ));
    }
    Ok(Opened {
        stream: Stream::Tls(Box::new(stream)),
        h2,
        opening: Opening {
            dns,
            connect,
            tls: Some(tls_start.elapsed()),
        },
    })
}

/// Tries each address in turn; the last error if none answers.
async fn connect_any(addrs: &[std::net::SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                // Small requests and heads are sent at once, not after a delayed ACK.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The other end hung up during the TLS handshake without sending any TLS message (no alert, no
/// record rustls could object to): through a proxy, the tunnel it had just agreed to was closed.
/// A close right after the 200 races with our ClientHello, so a reset or a broken pipe counts too.
fn hung_up(e: &io::Error) -> bool {
    let tls_said_something = e
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
    !tls_said_something
        && matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
        )
}

/// A proxy's 407 in words, to CONNECT or to a plain-HTTP request alike (`--retry` keys on them).
pub fn wants_credentials(proxy: &ProxyServer) -> PageError {
    PageError::from(ConnectError::via(
        Cause::ProxyWantsCredentials,
        Some(&proxy.shown),
    ))
}

/// Longest CONNECT answer head read from a proxy.
const MAX_PROXY_HEAD: usize = 16 * 1024;

/// `CONNECT host:port` through an HTTP proxy; the stream then carries TLS to the origin.
async fn tunnel(tcp: &mut TcpStream, route: &Route, proxy: &ProxyServer) -> Result<(), PageError> {
    let target = route.authority();
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = &proxy.auth {
        head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
    }
    head.push_str("\r\n");
    let fail = |cause: Cause| PageError::from(ConnectError::via(cause, Some(&proxy.shown)));
    let said = |what: &str| fail(Cause::Other(what.into()));
    tcp.write_all(head.as_bytes())
        .await
        .map_err(|e| fail(io_cause(&e)))?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tcp.read(&mut buf).await.map_err(|e| fail(io_cause(&e)))?;
        if n == 0 {
            return Err(said("closed the connection instead of answering CONNECT"));
        }
        answer.extend_from_slice(&buf[..n]);
        if answer.len() > MAX_PROXY_HEAD {
            return Err(said("answer to CONNECT too long"));
        }
    }
    let status_line = String::from_utf8_lossy(&answer);
    let status: Option<u16> = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok());
    match status {
        Some(200..=299) => Ok(()),
        Some(407) => Err(wants_credentials(proxy)),
        Some(status) => Err(fail(Cause::ProxyRefused { target, status })),
        None => Err(said("answered CONNECT with something that is not HTTP")),
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            // rustls reports a TCP close without TLS close_notify as UnexpectedEof; it is read
            // here as the end of the stream, as curl reads it. hyper counts Content-Length and
            // chunked bodies itself and still fails one cut short at that end ("connection
            // closed early"); only a close-delimited body (HTTP/1.0, no length), which ends by
            // closing, is now whole instead of failed with every byte read.
            Stream::Tls(s) => match Pin::new(s).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                polled => polled,
            },
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Tcp(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
