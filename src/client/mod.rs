//! The HTTP client: connections pagefetch opens, pools and closes itself (on hyper), so that each
//! page can be told exactly how its response reached it, every connection is counted, and the
//! number open at once is capped.
//!
//! Here: a run's [`Client`], the request (headers, credentials, redirects) and error words.
//! `connect` opens connections, `pool` keeps them, `tls`, `proxy` and `resolve` hold what the
//! command line and the environment say about trust, proxies and names, `body` counts bodies.
//! Nothing here knows about loops, reports or the command line's types.

mod body;
mod connect;
pub mod pool;
pub mod proxy;
pub mod resolve;
pub mod tls;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri, Version};
use http_body_util::Empty;
use url::Url;

pub use body::{Body, Step};
use connect::{Dialer, Route};
use pool::{Pool, Pooled, Sender};
use proxy::Proxies;
use resolve::{Override, Resolver};
use tls::Tls;

use crate::page::{Cause, ConnectError, HttpVersion, Opening, PageError};

/// Which HTTP versions may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersions {
    /// HTTP/2 where TLS negotiation (ALPN) picks it, else HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only (`--http1.1`).
    Http1,
    /// HTTP/2 only (`--http2`): ALPN must pick it; prior knowledge on `http://`, except through
    /// an HTTP proxy, which gets the request in HTTP/1.1 (as curl does).
    Http2,
}

/// How requests are made: everything a run's client needs, shared by every run of a process.
#[derive(Clone)]
pub struct Options {
    pub connect_timeout: Duration,
    pub user_agent: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub max_redirects: usize,
    pub compressed: bool,
    pub versions: HttpVersions,
    pub tls: Arc<Tls>,
    pub proxies: Arc<Proxies>,
    pub resolve: Arc<[Override]>,
    /// The most connections open at once (from the open-files limit).
    pub max_open: usize,
}

/// The response to a page's request, after redirects, with its body still to read.
pub struct Response {
    pub status: u16,
    pub version: HttpVersion,
    /// The URL that answered (differs from the one asked for after redirects).
    pub url: Url,
    /// When its headers arrived.
    pub headers_at: Instant,
    /// Its connection was already open when this page asked.
    pub reused: bool,
    /// How its connection was opened, when this page opened it (or waited for it to open).
    pub opening: Option<Opening>,
    /// Its `Retry-After` header.
    pub retry_after: Option<String>,
    pub body: Body,
}

/// One run's client: a fresh pool and resolver cache, so no run inherits warm connections.
pub struct Client {
    options: Options,
    pool: Arc<Pool>,
    resolver: Resolver,
}

impl Client {
    /// `concurrency`: requests in flight at most (idle connections kept: as many, or 64).
    pub fn new(options: &Options, concurrency: usize) -> Client {
        Client {
            pool: Pool::new(options.max_open, concurrency.max(64)),
            resolver: Resolver::new(options.resolve.clone()),
            options: options.clone(),
        }
    }

    /// Connections this client has opened.
    pub fn connections_opened(&self) -> usize {
        self.pool.opened()
    }

    /// Connections open now (tests check the cap with it).
    pub fn connections_open(&self) -> usize {
        self.pool.open_now()
    }

    /// GETs `url`, following redirects; returns once the final response's headers are in.
    /// `limit`: the most body bytes to count. `resent` counts requests sent again on a new
    /// connection after a reused one turned out closed (they are attempts of the page too).
    pub async fn get(
        &self,
        url: &Url,
        limit: u64,
        resent: &mut u32,
    ) -> Result<Response, PageError> {
        let origin = url;
        let mut url = url.clone();
        // The chain of a redirect, for loop detection; most pages have none, so it starts empty.
        let mut visited = Vec::new();
        let mut headers = self.headers_for(&url, true);
        loop {
            let (resp, conn) = self.send(&url, &headers, resent).await?;
            let status = resp.status();
            let location = resp.headers().get(header::LOCATION).cloned();
            let next = match (status.is_redirection(), location) {
                (true, Some(loc)) if status != StatusCode::NOT_MODIFIED => {
                    if visited.is_empty() {
                        visited.push(url.clone());
                    }
                    self.next_hop(&url, &loc, &visited)?
                }
                _ => return Ok(self.response(url, resp, conn, limit)),
            };
            // Read the (short) redirect body so the connection can serve the next request.
            let mut body = Body::new(resp.into_body(), conn, None, 64 * 1024);
            while let Ok(Step::Data(_, false)) = body.next().await {}
            drop(body);
            // The user's credentials are for the origin they were given for: like curl, they go
            // to no other host, scheme or port on the way, and again once the chain comes back.
            headers = self.headers_for(&next, same_origin(origin, &next));
            visited.push(next.clone());
            url = next;
        }
    }

    fn response(
        &self,
        url: Url,
        resp: http::Response<hyper::body::Incoming>,
        conn: Pooled,
        limit: u64,
    ) -> Response {
        let version = match resp.version() {
            Version::HTTP_2 => HttpVersion::Http2,
            Version::HTTP_10 | Version::HTTP_09 => HttpVersion::Http10,
            _ => HttpVersion::Http11,
        };
        let encoding = match self.options.compressed {
            true => resp
                .headers()
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            false => None,
        };
        let (reused, opening) = (conn.reused, conn.opening);
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Response {
            status: resp.status().as_u16(),
            version,
            url,
            headers_at: Instant::now(),
            reused,
            opening,
            retry_after,
            body: Body::new(resp.into_body(), conn, encoding.as_deref(), limit),
        }
    }

    /// Where a redirect leads, if it may be followed.
    fn next_hop(
        &self,
        from: &Url,
        location: &HeaderValue,
        visited: &[Url],
    ) -> Result<Url, PageError> {
        let max = self.options.max_redirects;
        let next = location
            .to_str()
            .ok()
            .and_then(|l| from.join(l).ok())
            .ok_or_else(|| PageError::Redirect("redirect to an invalid URL".into()))?;
        if !matches!(next.scheme(), "http" | "https") {
            return Err(PageError::Redirect(format!(
                "redirect to a non-HTTP URL ({}:)",
                next.scheme()
            )));
        }
        if visited.contains(&next) {
            return Err(PageError::Redirect("redirect loop".into()));
        }
        if visited.len() > max {
            return Err(PageError::Redirect(format!("more than {max} redirects")));
        }
        if next.host_str().is_none_or(str::is_empty) {
            return Err(PageError::Redirect(
                "redirect to a URL without a host".into(),
            ));
        }
        Ok(next)
    }

    /// The headers of a request to `url`: ours, the user's (which win), and the URL's credentials.
    /// Without `user_credentials`, the user's headers that carry credentials are left out.
    fn headers_for(&self, url: &Url, user_credentials: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        if let Ok(ua) = HeaderValue::from_str(&self.options.user_agent) {
            h.insert(header::USER_AGENT, ua);
        }
        if self.options.compressed {
            let all = HeaderValue::from_static("gzip, deflate, br, zstd");
            h.insert(header::ACCEPT_ENCODING, all);
        }
        if !url.username().is_empty() || url.password().is_some() {
            let user = proxy::percent_decode(url.username());
            let pass = proxy::percent_decode(url.password().unwrap_or(""));
            if let Ok(v) = HeaderValue::from_str(&proxy::basic(&user, &pass)) {
                h.insert(header::AUTHORIZATION, v);
            }
        }
        for (name, value) in &self.options.headers {
            if user_credentials || !carries_credentials(name) {
                h.insert(name.clone(), value.clone());
            }
        }
        h
    }

    /// Sends one request. A reused connection that turns out closed (the server dropped it while
    /// idle) gets the request again on a new one, once: nothing was processed.
    async fn send(
        &self,
        url: &Url,
        headers: &HeaderMap,
        resent: &mut u32,
    ) -> Result<(http::Response<hyper::body::Incoming>, Pooled), PageError> {
        let route = Route::of(url, &self.options.proxies)
            .ok_or_else(|| PageError::Input("invalid URL: no host".into()))?;
        let may_be_h2 = match self.options.versions {
            HttpVersions::Http1 => false,
            // Absolute-form requests to an HTTP proxy are HTTP/1.1 (see `connect::open`).
            HttpVersions::Http2 => !route.absolute_form(),
            HttpVersions::Auto => route.https,
        };
        let mut reuse = true;
        let mut resends = 0;
        loop {
            let mut conn = self.connection(&route, may_be_h2, reuse).await?;
            let request = self.request(url, headers, &route, conn.is_h2())?;
            let sent = match conn.sender() {
                Sender::H1(s) => match s.ready().await {
                    Ok(()) => s.send_request(request).await,
                    Err(e) => Err(e),
                },
                Sender::H2(s) => match s.ready().await {
                    Ok(()) => s.send_request(request).await,
                    Err(e) => Err(e),
                },
            };
            let proxy = route.proxy.as_ref().map(|p| p.shown.as_str());
            match sent {
                // A plain-HTTP request goes to the proxy itself, so a 407 is the proxy's refusal,
                // the same failure as a 407 to CONNECT for HTTPS, not the page's answer.
                Ok(resp) if resp.status() == StatusCode::PROXY_AUTHENTICATION_REQUIRED => {
                    match (&route.proxy, route.absolute_form()) {
                        (Some(p), true) => {
                            conn.discard();
                            return Err(connect::wants_credentials(p));
                        }
                        _ => return Ok((resp, conn)),
                    }
                }
                Ok(resp) => return Ok((resp, conn)),
                // The server took the request in no way: send it again, on a new connection
                // that the other refused requests share.
                Err(e) if refused(&e) && resends < MAX_RESENDS => {
                    conn.retire();
                    *resent += 1;
                    resends += 1;
                }
                Err(e) if refused(&e) => {
                    conn.retire();
                    return Err(classify(&e, proxy));
                }
                Err(e) if conn.reused && reuse && unsent(&e) => {
                    // An HTTP/1.1 request goes to a new connection, not another idle one that
                    // may be as stale; an HTTP/2 route shares one connection anyway.
                    reuse = conn.is_h2();
                    conn.discard();
                    *resent += 1;
                    resends += 1;
                }
                Err(e) => {
                    conn.discard();
                    return Err(classify(&e, proxy));
                }
            }
        }
    }

    async fn connection(
        &self,
        route: &Route,
        may_be_h2: bool,
        reuse: bool,
    ) -> Result<Pooled, PageError> {
        let timeout = self.options.connect_timeout;
        let dialer = Dialer {
            resolver: &self.resolver,
            tls: &self.options.tls,
            versions: self.options.versions,
        };
        self.pool
            .acquire(route, may_be_h2, reuse, || async {
                match tokio::time::timeout(timeout, connect::open(route, &dialer)).await {
                    Ok(opened) => opened,
                    Err(_) => Err(PageError::Timeout(format!(
                        "connect timed out after {}",
                        humantime::format_duration(timeout)
                    ))),
                }
            })
            .await
    }

    fn request(
        &self,
        url: &Url,
        headers: &HeaderMap,
        route: &Route,
        h2: bool,
    ) -> Result<Request<Empty<bytes::Bytes>>, PageError> {
        let authority = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_string(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let target = match h2 || route.absolute_form() {
            true => format!("{}://{authority}{path}", url.scheme()),
            false => path,
        };
        let uri: Uri = target
            .parse()
            .map_err(|e| PageError::Request(format!("invalid request target: {e}")))?;
        let mut req = Request::builder().method(Method::GET).uri(uri);
        if !h2 {
            req = req.version(Version::HTTP_11);
            if !headers.contains_key(header::HOST) {
                req = req.header(header::HOST, &authority);
            }
        } else {
            req = req.version(Version::HTTP_2);
        }
        let mut req = req
            .body(Empty::new())
            .map_err(|e| PageError::Request(format!("cannot build the request: {e}")))?;
        req.headers_mut()
            .extend(headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        if h2 {
            req.headers_mut().remove(header::HOST);
        }
        if let (true, Some(proxy)) = (route.absolute_form(), &route.proxy) {
            if let Some(auth) = proxy
                .auth
                .as_ref()
                .and_then(|a| HeaderValue::from_str(a).ok())
            {
                req.headers_mut().insert(header::PROXY_AUTHORIZATION, auth);
            }
        }
        Ok(req)
    }
}

/// Headers that carry credentials: sent only to the origin the user gave them for.
fn carries_credentials(name: &HeaderName) -> bool {
    [
        header::AUTHORIZATION,
        header::COOKIE,
        header::PROXY_AUTHORIZATION,
    ]
    .contains(name)
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// How often one request is sent again because the server did not take it. Against nginx with
/// `keepalive_requests 50` at -c 64, each connection turns away the 14 requests beyond its 50, and
/// join-all polls the same pages last each time: 5 resends left some pages failed; 32 is far
/// beyond what was seen (7) and still ends a server that refuses everything.
const MAX_RESENDS: u32 = 32;

/// An HTTP/2 request the server says it did not process (RFC 9113 §8.7): a stream above the last
/// one a graceful GOAWAY will answer, or one reset with REFUSED_STREAM. A GOAWAY with an error
/// code also ends the streams it had taken, so those are not known to be unprocessed.
fn refused(e: &hyper::Error) -> bool {
    h2_error(e).is_some_and(|h| {
        h.is_remote()
            && match h.reason() {
                Some(h2::Reason::NO_ERROR) => h.is_go_away(),
                Some(h2::Reason::REFUSED_STREAM) => h.is_reset(),
                _ => false,
            }
    })
}

fn h2_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a h2::Error> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(h) = c.downcast_ref::<h2::Error>() {
            return Some(h);
        }
        cur = c.source();
    }
    None
}

/// A request that failed before the server could have seen it: safe to send again.
fn unsent(e: &hyper::Error) -> bool {
    e.is_canceled() || e.is_closed() || (e.is_incomplete_message() && !e.is_body_write_aborted())
}

/// A failed exchange in words.
fn classify(e: &hyper::Error, proxy: Option<&str>) -> PageError {
    let connect = || PageError::from(ConnectError::via(cause(e), proxy));
    let what = words(e);
    let what = match proxy {
        Some(p) => format!("proxy {p}: {what}"),
        None => what,
    };
    if e.is_parse_too_large() {
        // hyper says "message head is too large" for a head over its buffer's maximum and for
        // one with too many headers alike.
        PageError::Request(format!(
            "response head over {} KiB (or over {} headers)",
            pool::H1_MAX_HEAD / 1024,
            pool::H1_MAX_HEADERS
        ))
    } else if e.is_parse() || e.is_parse_status() {
        PageError::Request(format!("not an HTTP answer: {what}"))
    } else if h2_error(e).is_some_and(|h| h.is_go_away() || h.is_io()) {
        // The HTTP/2 connection ended (GOAWAY or I/O): a connection failure, worth a retry.
        connect()
    } else if unsent(e) || has_io_error(e) {
        // The connection failed before an answer came: a connection failure, worth a retry.
        connect()
    } else {
        PageError::Request(what)
    }
}

fn has_io_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.is::<io::Error>() {
            return true;
        }
        cur = c.source();
    }
    false
}

/// The most specific message of an error's chain: well-known I/O failures in curl-like words.
pub fn words(err: &(dyn std::error::Error + 'static)) -> String {
    let mut e: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut innermost = err.to_string();
    while let Some(cur) = e {
        if let Some(io) = cur.downcast_ref::<io::Error>() {
            return io_words(io);
        }
        if let Some(h) = cur.downcast_ref::<h2::Error>() {
            if let Some(text) = h2_words(h) {
                return text;
            }
        }
        let text = cur.to_string();
        if !text.is_empty() {
            innermost = text;
        }
        e = cur.source();
    }
    match innermost.as_str() {
        "connection closed before message completed" => "connection closed early".into(),
        _ => innermost,
    }
}

/// An HTTP/2 error in words (h2's own text reads "connection error received: not a result of an
/// error" for a graceful GOAWAY); None for an I/O error, which `io_words` says better.
fn h2_words(h: &h2::Error) -> Option<String> {
    let reason = h.reason()?;
    let why = reason_words(reason);
    Some(match (h.is_go_away(), h.is_remote()) {
        (true, true) if reason == h2::Reason::NO_ERROR => {
            "the server closed the HTTP/2 connection (GOAWAY) before answering".into()
        }
        (true, true) => format!("the server ended the HTTP/2 connection: {why}"),
        (true, false) => format!("the server broke the HTTP/2 protocol: {why}"),
        (false, true) => format!("the server reset the HTTP/2 stream: {why}"),
        // h2 resets a stream itself when the server breaks the protocol on it, as with a
        // response head over the limit.
        (false, false) if reason == h2::Reason::PROTOCOL_ERROR => format!(
            "the server broke the HTTP/2 protocol on this stream \
             (a response head over {} KiB, or a malformed one)",
            pool::H2_MAX_HEAD / 1024
        ),
        (false, false) => format!("HTTP/2 stream ended: {why}"),
    })
}

/// An HTTP/2 error code (RFC 9113 §7) in words, with its name to search for.
fn reason_words(reason: h2::Reason) -> String {
    use h2::Reason as R;
    let (name, what) = match reason {
        R::NO_ERROR => ("NO_ERROR", "no error"),
        R::PROTOCOL_ERROR => ("PROTOCOL_ERROR", "a protocol error"),
        R::INTERNAL_ERROR => ("INTERNAL_ERROR", "an internal error"),
        R::FLOW_CONTROL_ERROR => ("FLOW_CONTROL_ERROR", "a flow-control error"),
        R::SETTINGS_TIMEOUT => ("SETTINGS_TIMEOUT", "settings not acknowledged"),
        R::STREAM_CLOSED => ("STREAM_CLOSED", "data on a closed stream"),
        R::FRAME_SIZE_ERROR => ("FRAME_SIZE_ERROR", "a frame of the wrong size"),
        R::REFUSED_STREAM => ("REFUSED_STREAM", "refused before processing"),
        R::CANCEL => ("CANCEL", "cancelled"),
        R::COMPRESSION_ERROR => ("COMPRESSION_ERROR", "a header compression error"),
        R::CONNECT_ERROR => ("CONNECT_ERROR", "a CONNECT error"),
        R::ENHANCE_YOUR_CALM => ("ENHANCE_YOUR_CALM", "too many requests"),
        R::INADEQUATE_SECURITY => ("INADEQUATE_SECURITY", "inadequate TLS security"),
        R::HTTP_1_1_REQUIRED => ("HTTP_1_1_REQUIRED", "HTTP/1.1 required"),
        other => return format!("HTTP/2 error code {}", u32::from(other)),
    };
    format!("{what} ({name})")
}

/// The cause of a failed exchange: the I/O error's, if one is in the chain, else its words.
fn cause(err: &(dyn std::error::Error + 'static)) -> Cause {
    let mut e: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cur) = e {
        if let Some(io) = cur.downcast_ref::<io::Error>() {
            return io_cause(io);
        }
        if cur
            .downcast_ref::<h2::Error>()
            .is_some_and(|h| h.reason().is_some())
        {
            break;
        }
        e = cur.source();
    }
    Cause::Other(words(err))
}

/// An I/O error as a connection's [`Cause`] (its Display is [`io_words`]).
pub fn io_cause(e: &io::Error) -> Cause {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Cause::Refused,
        io::ErrorKind::ConnectionReset => Cause::Reset,
        io::ErrorKind::TimedOut => Cause::TimedOut,
        _ => Cause::Other(io_words(e)),
    }
}

/// An I/O error as curl would say it.
pub fn io_words(e: &io::Error) -> String {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset by peer".into(),
        ConnectionAborted => "connection aborted".into(),
        UnexpectedEof => "connection closed early".into(),
        BrokenPipe => "connection closed by the server".into(),
        NotConnected => "connection closed".into(),
        TimedOut => "timed out".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        AddrNotAvailable => "address not available".into(),
        _ => match e.get_ref() {
            Some(inner) => inner.to_string(),
            None => e.to_string(),
        },
    }
}
