//! The small HTTP/1.1 server the Prometheus and live exporters share, on
//! `std::net` with `httparse` reading the requests: a thread accepts, and
//! each connection is served by a thread of its own (the live view's
//! WebSocket clients stay on theirs after the upgrade).
//!
//! It is built to be left alone with clients that misbehave: a request head
//! must arrive whole within [`HEAD_TIMEOUT`], an idle keep-alive connection
//! is closed after [`IDLE_TIMEOUT`], at most [`MAX_CONNECTIONS`] are open
//! at once (more get 503), at most [`Limits::busy`] requests are answered
//! at once and [`Limits::per_second`] in a second (more get 503 with
//! `Retry-After`: a flood of scrapers cannot take the benchmark's cores;
//! one Prometheus scrapes once in seconds; the live view allows more, its
//! pages being bounded by their own count), and stopping the server gives busy connections
//! [`GRACE`] to finish and then closes every socket, so no client can keep
//! the process alive.
// Queries and upgrades serve the live view only.
#![cfg_attr(not(feature = "live"), allow(dead_code))]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::measure::telemetry_cost::charge_thread;

/// Longest time a request head may take to arrive.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest time a keep-alive connection may wait for its next request.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections open at once; one more is answered 503 and closed.
pub(crate) const MAX_CONNECTIONS: usize = 512;

/// How much a server answers: connections open at once, requests answered
/// at once, and requests answered in one second; past a bound, 503.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub connections: usize,
    pub busy: usize,
    pub per_second: u32,
}

impl Limits {
    /// The bounds of the Prometheus endpoint: 2 requests at once, 50 a second.
    pub(crate) const DEFAULT: Limits = Limits {
        connections: MAX_CONNECTIONS,
        busy: 2,
        per_second: 50,
    };
}
/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long a stopping server waits for busy connections before closing them.
pub(crate) const GRACE: Duration = Duration::from_secs(2);
/// Stack of a connection thread: the work done on it is small.
const STACK: usize = 256 * 1024;

/// A request, as much of it as these servers need.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    headers: Vec<(String, String)>,
}

impl Request {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the header `name` lists `token` (case-insensitive), as in
    /// `Connection: keep-alive, Upgrade`.
    pub(crate) fn header_has(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

/// A complete response.
#[derive(Debug)]
pub(crate) struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_owned())],
            body: body.into(),
        }
    }

    /// A plain-text response.
    /// The status code.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    pub(crate) fn text(status: u16, body: impl Into<String>) -> Response {
        Response::new(status, "text/plain; charset=utf-8", body.into())
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// Takes over an upgraded connection: the stream, the bytes already read
/// past the request head, and the server's stop flag.
pub(crate) type Upgraded = Box<dyn FnOnce(TcpStream, Vec<u8>, &AtomicBool) + Send>;

/// What a handler makes of a request.
pub(crate) enum Reply {
    /// Send this response.
    Respond(Response),
    /// Hand the connection over (a WebSocket upgrade); the closure runs on
    /// the connection's thread.
    Upgrade(Upgraded),
}

/// Answers requests; called on the connection's thread.
pub(crate) type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

struct Connection {
    stream: TcpStream,
    busy: Arc<AtomicBool>,
}

struct Shared {
    stopping: AtomicBool,
    connections: Mutex<HashMap<u64, Connection>>,
    next_id: AtomicU64,
    limits: Limits,
    /// Requests being answered now.
    busy: AtomicUsize,
    /// The current second's start and the requests answered in it.
    second: Mutex<(Instant, u32)>,
}

impl Shared {
    /// Whether this second's requests are all answered: a connection that
    /// arrives now is refused on the accepting thread, without a thread of
    /// its own (which is what a flood of connections costs most).
    fn rate_spent(&self) -> bool {
        let second = self.second.lock().unwrap_or_else(|e| e.into_inner());
        second.1 >= self.limits.per_second && second.0.elapsed() < Duration::from_secs(1)
    }

    /// Takes a place for one request, or says why there is none.
    fn admit(&self) -> Result<(), &'static str> {
        {
            let mut second = self.second.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if now.duration_since(second.0) >= Duration::from_secs(1) {
                *second = (now, 0);
            }
            if second.1 >= self.limits.per_second {
                return Err("too many requests this second");
            }
            second.1 += 1;
        }
        if self.busy.fetch_add(1, Ordering::SeqCst) >= self.limits.busy {
            self.busy.fetch_sub(1, Ordering::SeqCst);
            return Err("too many requests at once");
        }
        Ok(())
    }
}

/// A running server; stops when dropped.
pub(crate) struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Binds `addr` for `server`; an address in use is [`Error::AddrInUse`],
/// with `how` naming the flag and variable that change it.
pub(crate) fn bind(
    addr: SocketAddr,
    server: &'static str,
    how: &'static str,
) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).map_err(|source| match source.kind() {
        std::io::ErrorKind::AddrInUse => Error::AddrInUse { server, addr, how },
        _ => Error::Listen { addr, source },
    })
}

impl HttpServer {
    /// Serves `handler` on `listener`, from threads named after `name`,
    /// within [`Limits::DEFAULT`].
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn start(
        listener: TcpListener,
        name: &str,
        handler: Handler,
    ) -> Result<HttpServer, Error> {
        HttpServer::start_with(listener, name, handler, Limits::DEFAULT)
    }

    pub(crate) fn start_with(
        listener: TcpListener,
        name: &str,
        handler: Handler,
        limits: Limits,
    ) -> Result<HttpServer, Error> {
        let addr = listener.local_addr().map_err(|source| Error::Listen {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            limits,
            busy: AtomicUsize::new(0),
            second: Mutex::new((Instant::now(), 0)),
        });
        let accept_shared = shared.clone();
        let thread_name = name.to_owned();
        let accept = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || accept_loop(listener, accept_shared, handler, thread_name))
            .map_err(|source| Error::Listen { addr, source })?;
        Ok(HttpServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address actually bound (useful with port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept thread, blocked in accept(), with a connection of
        // our own; it sees the flag and leaves.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(if wake.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        let woke = TcpStream::connect_timeout(&wake, Duration::from_millis(500)).is_ok();
        if let Some(accept) = self.accept.take()
            && woke
        {
            let _ = accept.join();
        }
        // Idle connections go now; busy ones get the grace period.
        let deadline = Instant::now() + GRACE;
        loop {
            let busy = {
                let mut connections = self
                    .shared
                    .connections
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                connections.retain(|_, c| {
                    if c.busy.load(Ordering::SeqCst) {
                        true
                    } else {
                        let _ = c.stream.shutdown(Shutdown::Both);
                        false
                    }
                });
                connections.len()
            };
            if busy == 0 || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut connections = self
            .shared
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (_, c) in connections.drain() {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, handler: Handler, name: String) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = stream else {
            // Out of descriptors, say: back off rather than spin.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        // The accepting thread's own work is the exporter's cost too.
        charge_thread();
        let full = shared
            .connections
            .lock()
            .map(|c| c.len() >= shared.limits.connections)
            .unwrap_or(true);
        let why = if full {
            Some("too many connections")
        } else if shared.rate_spent() {
            Some("too many requests this second")
        } else {
            None
        };
        if let Some(why) = why {
            let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
            let _ = write_response(
                &mut stream,
                &Response::text(503, format!("{why}; try again later\n"))
                    .with_header("Retry-After", "1"),
                false,
                false,
            );
            continue;
        }
        let (Ok(registered), Ok(())) = (stream.try_clone(), stream.set_nodelay(true)) else {
            continue;
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let busy = Arc::new(AtomicBool::new(false));
        if let Ok(mut connections) = shared.connections.lock() {
            connections.insert(
                id,
                Connection {
                    stream: registered,
                    busy: busy.clone(),
                },
            );
        }
        let conn_shared = shared.clone();
        let conn_handler = handler.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("{name}-conn"))
            .stack_size(STACK)
            .spawn(move || {
                serve(stream, &conn_shared, &conn_handler, &busy);
                if let Ok(mut connections) = conn_shared.connections.lock() {
                    connections.remove(&id);
                }
            });
        if spawned.is_err()
            && let Ok(mut connections) = shared.connections.lock()
            && let Some(c) = connections.remove(&id)
        {
            let _ = c.stream.shutdown(Shutdown::Both);
        }
    }
}

/// Serves requests on one connection until it closes, times out, upgrades
/// or the server stops.
fn serve(mut stream: TcpStream, shared: &Shared, handler: &Handler, busy: &AtomicBool) {
    // What this connection's thread spends is the exporter's cost, charged
    // after each request and when it ends.
    struct Charge;
    impl Drop for Charge {
        fn drop(&mut self) {
            charge_thread();
        }
    }
    let _charge = Charge;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut first = true;
    loop {
        let wait = if first { HEAD_TIMEOUT } else { IDLE_TIMEOUT };
        first = false;
        let head_len = match read_head(&mut stream, &mut buf, wait) {
            Ok(Some(n)) => n,
            Ok(None) => return,
            Err(status) => {
                refuse(&mut stream, status);
                return;
            }
        };
        busy.store(true, Ordering::SeqCst);
        let parsed = parse(&buf[..head_len]);
        let rest = buf.split_off(head_len);
        buf.clear();
        let (request, keep_alive) = match parsed {
            Ok(parsed) => parsed,
            Err(status) => {
                refuse(&mut stream, status);
                return;
            }
        };
        let head_only = request.method == "HEAD";
        let keep_alive = keep_alive && !shared.stopping.load(Ordering::SeqCst);
        if let Err(why) = shared.admit() {
            let _ = stream.set_write_timeout(Some(HEAD_TIMEOUT));
            let refused = Response::text(503, format!("{why}; try again later\n"))
                .with_header("Retry-After", "1");
            if write_response(&mut stream, &refused, keep_alive, head_only).is_err() || !keep_alive
            {
                return;
            }
            buf = rest;
            busy.store(false, Ordering::SeqCst);
            continue;
        }
        let reply = handler(&request);
        shared.busy.fetch_sub(1, Ordering::SeqCst);
        match reply {
            Reply::Respond(response) => {
                let _ = stream.set_write_timeout(Some(HEAD_TIMEOUT));
                if write_response(&mut stream, &response, keep_alive, head_only).is_err()
                    || !keep_alive
                {
                    return;
                }
            }
            Reply::Upgrade(run) => {
                run(stream, rest, &shared.stopping);
                return;
            }
        }
        buf = rest;
        busy.store(false, Ordering::SeqCst);
        charge_thread();
    }
}

/// Answers a request that cannot be served with `status` and its reason.
fn refuse(stream: &mut TcpStream, status: u16) {
    let body = format!("{}\n", reason(status));
    let _ = write_response(stream, &Response::text(status, body), false, false);
}

/// Reads until `buf` holds a whole request head; returns its length, `None`
/// when the peer closed or was too slow, or the status to refuse it with.
fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    wait: Duration,
) -> Result<Option<usize>, u16> {
    let deadline = Instant::now() + wait;
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(end) = find_head_end(buf) {
            return Ok(Some(end));
        }
        if buf.len() > MAX_HEAD {
            return Err(431);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            // Half a request after the head timeout: tell it; nothing at
            // all on an idle connection: just close.
            return if buf.is_empty() { Ok(None) } else { Err(408) };
        }
        if stream.set_read_timeout(Some(left)).is_err() {
            return Ok(None);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(None),
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a request head; the request and whether the connection stays open.
fn parse(head: &[u8]) -> Result<(Request, bool), u16> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        _ => return Err(400),
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(400);
    };
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    let request = Request {
        method: method.to_owned(),
        path,
        query,
        headers,
    };
    if !matches!(request.method.as_str(), "GET" | "HEAD") {
        return Err(405);
    }
    // These servers read no bodies; one that was sent would be read as the
    // next request.
    let has_body = request
        .header("Content-Length")
        .is_some_and(|v| v.trim() != "0")
        || request.header("Transfer-Encoding").is_some();
    if has_body {
        return Err(400);
    }
    let keep_alive = match version {
        1 => !request.header_has("Connection", "close"),
        _ => request.header_has("Connection", "keep-alive"),
    };
    Ok((request, keep_alive))
}

/// Parses arbitrary bytes as a request head, for the fuzz targets: it must
/// never panic, and what it accepts is a GET or HEAD without a body.
#[cfg(feature = "internals")]
pub(crate) fn fuzz_parse(data: &[u8]) {
    if let Some(end) = find_head_end(data)
        && let Ok((request, _)) = parse(&data[..end])
    {
        assert!(matches!(request.method.as_str(), "GET" | "HEAD"));
        assert!(
            request
                .header("Content-Length")
                .is_none_or(|v| v.trim() == "0")
        );
    }
}

/// Parses a request head, for the tests of the servers built on this one.
#[cfg(test)]
pub(crate) fn tests_parse(head: &[u8]) -> Request {
    parse(head).expect("a valid request head").0
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

fn write_response(
    stream: &mut TcpStream,
    response: &Response,
    keep_alive: bool,
    head_only: bool,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(response.body.len() + 256);
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
        response.status,
        reason(response.status),
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    if response.status == 405 {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    for (name, value) in &response.headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_server() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let handler: Handler = Arc::new(|req: &Request| {
            Reply::Respond(Response::text(200, format!("{} {}", req.method, req.path)))
        });
        HttpServer::start_with(
            listener,
            "test-http",
            handler,
            Limits {
                connections: 4,
                ..Limits::DEFAULT
            },
        )
        .unwrap()
    }

    fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn requests_are_answered_and_keep_alive_is_honoured() {
        let server = echo_server();
        let addr = server.local_addr();
        let out = exchange(
            addr,
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(out.contains("GET /a") && out.contains("GET /b"), "{out}");
        assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
        let out = exchange(addr, b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
        assert!(out.starts_with("HTTP/1.1 405"), "{out}");
        let out = exchange(addr, b"GET /a HTTP/1.0\r\n\r\n");
        assert!(out.contains("Connection: close"), "{out}");
    }

    #[test]
    fn a_half_sent_request_does_not_hold_the_server_when_it_stops() {
        let server = echo_server();
        let mut slow = TcpStream::connect(server.local_addr()).unwrap();
        slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        drop(server);
        assert!(
            start.elapsed() < GRACE + Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
        // The connection was closed: the read ends.
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest);
    }

    #[test]
    fn connections_past_the_cap_get_503() {
        let server = echo_server();
        let idle: Vec<TcpStream> = (0..4)
            .map(|_| TcpStream::connect(server.local_addr()).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        let out = exchange(server.local_addr(), b"GET / HTTP/1.1\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 503"), "{out}");
        drop(idle);
    }

    #[test]
    fn requests_past_the_rate_or_at_once_get_503() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let handler: Handler = Arc::new(|req: &Request| {
            if req.path == "/slow" {
                std::thread::sleep(Duration::from_millis(400));
            }
            Reply::Respond(Response::text(200, "ok\n"))
        });
        let limits = Limits {
            busy: 1,
            per_second: 4,
            ..Limits::DEFAULT
        };
        let server = HttpServer::start_with(listener, "test-limits", handler, limits).unwrap();
        let addr = server.local_addr();
        // One slow request holds the only place: another at once is refused.
        let slow = std::thread::spawn(move || {
            exchange(addr, b"GET /slow HTTP/1.1\r\nConnection: close\r\n\r\n")
        });
        std::thread::sleep(Duration::from_millis(100));
        let refused = exchange(addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
        assert!(refused.contains("too many requests at once"), "{refused}");
        assert!(refused.contains("Retry-After: 1"), "{refused}");
        assert!(slow.join().unwrap().starts_with("HTTP/1.1 200"));
        // Two of the second's four are spent; two more pass, the next not.
        let mut answers: Vec<String> = (0..3)
            .map(|_| exchange(addr, b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"))
            .collect();
        let last = answers.pop().unwrap();
        if answers.iter().all(|a| a.starts_with("HTTP/1.1 200")) {
            assert!(last.contains("too many requests this second"), "{last}");
        }
    }
}
