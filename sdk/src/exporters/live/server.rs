//! The live view's server: the page at `/` and the WebSocket at `/ws`, on
//! the exporters' small HTTP server. A connection's thread does the
//! WebSocket handshake and hands the socket, non-blocking, to one pump
//! thread, which every gathering window writes each client what was queued
//! for it and reads what it sent: one thread's wake-ups for all clients,
//! where a thread per client would wake each of them.
//!
//! Who may connect: on loopback without a token, only pages served from a
//! loopback name at this port (the `Host` and `Origin` a browser sends must
//! say so, which defeats DNS rebinding); beyond loopback a token is
//! required (`?token=`, percent-decoded, compared in constant time) and
//! checked before anything else. A client may send pings only, in frames of
//! at most [`MAX_CLIENT_MESSAGE`] bytes; at most `max_clients` are
//! connected at once, and one more is closed with the reason.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes, WebSocket};

use super::{LiveHub, SEND_TIMEOUT, Subscription};
use crate::error::Error;
use crate::exporters::http::{self, HttpServer, Reply, Request, Response};
use crate::measure::telemetry_cost::charge_thread;

/// How long a client's writer waits, at least, to gather messages into one
/// write: well under the 100 ms latency aim.
const COALESCE_MIN: Duration = Duration::from_millis(50);
/// ... and at most, however many clients there are.
const COALESCE_MAX: Duration = Duration::from_millis(250);
/// Socket writes a second the server aims to stay under, all clients
/// together: each write is a syscall, and with many clients they, not the
/// messages, are what the live view costs the machine.
const WRITES_PER_SECOND: u32 = 500;
/// Most messages written in one go.
const MAX_BATCH: usize = 64;
/// How often a client's thread looks at what the client sent.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// The read buffer of a client's connection: clients only ping.
const READ_BUFFER: usize = 4096;

/// A client's batch is gathered in its write buffer and goes out in one
/// syscall at the flush.
const WRITE_BUFFER: usize = 64 * 1024;

/// What may wait in a client's write buffer for a socket that takes
/// nothing: a few snapshots. Past it the client is dropped.
const MAX_WRITE_BUFFER: usize = 1 << 20;

/// Largest message, and frame, a client may send.
pub const MAX_CLIENT_MESSAGE: usize = 4096;

const PAGE: &str = include_str!("index.html");

/// A client's gathering window with `clients` connected: 50 ms up to 25
/// clients, then growing with them (200 ms at 100), at most 250 ms.
fn coalesce_window(clients: usize) -> Duration {
    let share =
        Duration::from_secs(1) * u32::try_from(clients).unwrap_or(u32::MAX) / WRITES_PER_SECOND;
    share.clamp(COALESCE_MIN, COALESCE_MAX)
}

struct Access {
    token: Option<String>,
    port: u16,
    max_clients: usize,
    /// Where upgraded connections go: the pump.
    hand_over: Mutex<mpsc::Sender<Client>>,
}

/// The running server; stops when dropped.
pub struct LiveServer {
    server: HttpServer,
    stop: Arc<AtomicBool>,
    pump: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for LiveServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveServer")
            .field("addr", &self.server.local_addr())
            .finish()
    }
}

impl LiveServer {
    /// Serves `hub` on `addr`, to at most `max_clients` pages at once. A
    /// non-loopback address needs `token`.
    pub fn start(
        addr: SocketAddr,
        token: Option<String>,
        max_clients: usize,
        hub: LiveHub,
    ) -> Result<LiveServer, Error> {
        let token = token.filter(|t| !t.is_empty());
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(Error::Config {
                key: "live.addr".into(),
                value: addr.to_string(),
                reason: "listening beyond loopback needs a token: set BENCHSCOPE_LIVE_TOKEN (or live.token), and open the page with ?token=...".into(),
            });
        }
        let listener = http::bind(addr, "the live view", "--live-addr or BENCHSCOPE_LIVE_ADDR")?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(addr.port());
        let (hand_over, handed) = mpsc::channel::<Client>();
        let stop = Arc::new(AtomicBool::new(false));
        let pump_hub = hub.clone();
        let pump_stop = stop.clone();
        let pump = std::thread::Builder::new()
            .name("benchscope-live-pump".into())
            .spawn(move || pump(handed, &pump_hub, &pump_stop))
            .map_err(|source| Error::Listen { addr, source })?;
        let access = Arc::new(Access {
            token,
            port,
            max_clients,
            hand_over: Mutex::new(hand_over),
        });
        let handler = Arc::new(move |req: &Request| route(req, &access, &hub));
        // Pages connect all at once (a team opening the link): the clients'
        // own bound is `max_clients`, and what each costs is served by the
        // pump, not per request.
        let limits = http::Limits {
            busy: 8,
            per_second: 1000,
            ..http::Limits::DEFAULT
        };
        let server = HttpServer::start_with(listener, "benchscope-live", handler, limits)?;
        Ok(LiveServer {
            server,
            stop,
            pump: Some(pump),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        // The pump says goodbye to every client and leaves within a window.
        self.stop.store(true, Ordering::SeqCst);
        if let Some(pump) = self.pump.take() {
            let _ = pump.join();
        }
    }
}

fn route(req: &Request, access: &Access, hub: &LiveHub) -> Reply {
    match req.path.as_str() {
        "/" => Reply::Respond(match refusal(req, access) {
            Some(refused) => refused,
            None => Response::new(200, "text/html; charset=utf-8", PAGE)
                .with_header("Cache-Control", "no-store"),
        }),
        "/ws" => upgrade(req, access, hub),
        _ => Reply::Respond(Response::text(404, "not found: the live page is at /\n")),
    }
}

/// Why `req` may not see the live view, as a response; `None` when it may.
fn refusal(req: &Request, access: &Access) -> Option<Response> {
    match &access.token {
        Some(token) => {
            let given = query_token(req.query.as_deref());
            if !given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
                return Some(Response::text(401, "a valid ?token= is required\n"));
            }
            // Whoever holds the token may connect from any host name, but a
            // browser's upgrade must come from the page this server served.
            let host = req.header("Host").unwrap_or_default();
            let same_origin = req.header("Origin").is_none_or(|o| {
                o.strip_prefix("http://")
                    .or_else(|| o.strip_prefix("https://"))
                    .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
            });
            (!same_origin)
                .then(|| Response::text(403, "cross-origin WebSocket upgrades are refused\n"))
        }
        None => {
            let host_ok = req
                .header("Host")
                .is_some_and(|h| is_loopback_authority(h, access.port));
            let origin_ok = req.header("Origin").is_none_or(|o| {
                o.split_once("://").is_some_and(|(scheme, authority)| {
                    matches!(scheme, "http" | "https")
                        && is_loopback_authority(authority, access.port)
                })
            });
            (!(host_ok && origin_ok)).then(|| {
                Response::text(
                    403,
                    "the live view answers pages served from a loopback name (127.0.0.1, localhost, [::1]) at its own port\n",
                )
            })
        }
    }
}

/// `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`.
fn is_loopback_authority(authority: &str, port: u16) -> bool {
    let Some((host, p)) = authority.rsplit_once(':') else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    p.parse::<u16>() == Ok(port) && matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
}

/// The token from `?token=...`, percent-decoded.
fn query_token(query: Option<&str>) -> Option<String> {
    let value = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))?;
    percent_encoding::percent_decode_str(&value.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|t| t.into_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn upgrade(req: &Request, access: &Access, hub: &LiveHub) -> Reply {
    if let Some(refused) = refusal(req, access) {
        return Reply::Respond(refused);
    }
    let key = req.header("Sec-WebSocket-Key").map(str::to_owned);
    let valid = req.header_has("Connection", "upgrade")
        && req.header_has("Upgrade", "websocket")
        && req.header("Sec-WebSocket-Version") == Some("13");
    let Some(key) = key.filter(|_| valid) else {
        return Reply::Respond(Response::text(
            400,
            "/ws is a WebSocket (version 13); open the page at / instead\n",
        ));
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let hub = hub.clone();
    let max_clients = access.max_clients;
    let hand_over = access
        .hand_over
        .lock()
        .map(|tx| tx.clone())
        .unwrap_or_else(|e| e.into_inner().clone());
    Reply::Upgrade(Box::new(move |stream, rest, stopping| {
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        let _ = stream.set_write_timeout(Some(SEND_TIMEOUT));
        if std::io::Write::write_all(&mut &stream, response.as_bytes()).is_err() {
            return;
        }
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(WRITE_BUFFER)
            .max_write_buffer_size(MAX_WRITE_BUFFER)
            .max_message_size(Some(MAX_CLIENT_MESSAGE))
            .max_frame_size(Some(MAX_CLIENT_MESSAGE));
        let mut socket = WebSocket::from_partially_read(stream, rest, Role::Server, Some(config));
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        if hub.clients() >= max_clients {
            goodbye(
                &mut socket,
                close(
                    CloseCode::Again,
                    format!(
                        "too many live clients: {max_clients} are connected (live.max_clients); close a page or raise the limit"
                    ),
                ),
            );
            return;
        }
        if socket.get_ref().set_nonblocking(true).is_err() {
            return;
        }
        let subscription = hub.subscribe();
        let _ = hand_over.send(Client {
            socket,
            subscription,
            last_read: Instant::now(),
            stalled_since: None,
        });
    }))
}

fn close(code: CloseCode, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

/// What a client's message asks for, or why it is refused.
fn answer(message: &Message) -> Result<Option<Message>, Message> {
    match message {
        Message::Text(text) => match serde_json::from_str::<serde_json::Value>(text.as_str()) {
            Ok(v) if v["type"] == "ping" => Ok(Some(Message::Text(Utf8Bytes::from(format!(
                "{{\"v\":{},\"type\":\"pong\"}}",
                super::SCHEMA_VERSION
            ))))),
            Ok(_) => Err(close(
                CloseCode::Policy,
                "unknown message: the only message a client may send is {\"type\":\"ping\"}".into(),
            )),
            Err(e) => Err(close(CloseCode::Invalid, format!("malformed message: {e}"))),
        },
        Message::Binary(_) => Err(close(
            CloseCode::Unsupported,
            "binary messages are not accepted; send JSON text".into(),
        )),
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => Ok(None),
    }
}

/// Answers arbitrary bytes as a client's text or binary message, for the
/// fuzz targets: it must never panic.
#[cfg(feature = "internals")]
pub(crate) fn fuzz_answer(data: &[u8]) {
    let message = match std::str::from_utf8(data) {
        Ok(text) => Message::Text(Utf8Bytes::from(text.to_owned())),
        Err(_) => Message::Binary(data.to_vec().into()),
    };
    let _ = answer(&message);
}

/// The refusal of a message over the size limit, from tungstenite's error.
fn too_big(error: &tungstenite::Error) -> Option<Message> {
    match error {
        tungstenite::Error::Capacity(e) => Some(close(
            CloseCode::Size,
            format!("message too big ({e}); the limit is {MAX_CLIENT_MESSAGE} bytes"),
        )),
        _ => None,
    }
}

fn is_timeout(error: &tungstenite::Error) -> bool {
    matches!(error, tungstenite::Error::Io(e) if matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ))
}

/// Says goodbye with `frame` and waits briefly for the client's answer.
fn goodbye(socket: &mut WebSocket<TcpStream>, frame: Message) {
    let _ = socket.send(frame);
    let deadline = Instant::now() + Duration::from_millis(500);
    let _ = socket
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(50)));
    while Instant::now() < deadline {
        match socket.read() {
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
}

/// A connected page, as the pump keeps it.
struct Client {
    socket: WebSocket<TcpStream>,
    subscription: Subscription,
    last_read: Instant,
    /// Since when the socket has not taken all that was written to it.
    stalled_since: Option<Instant>,
}

/// Serves every client from one thread until `stop`: one wake-up per
/// gathering window (or when a client arrives), everything queued for a
/// client written in one go, what clients sent read every [`IDLE_POLL`].
fn pump(handed: mpsc::Receiver<Client>, hub: &LiveHub, stop: &AtomicBool) {
    let mut clients: Vec<Client> = Vec::new();
    let mut wait = Duration::ZERO;
    loop {
        match handed.recv_timeout(wait) {
            // A new page gets its snapshot at once.
            Ok(client) => clients.push(client),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if clients.is_empty() && stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(wait);
            }
        }
        while let Ok(client) = handed.try_recv() {
            clients.push(client);
        }
        if stop.load(Ordering::SeqCst) {
            for mut c in clients.drain(..) {
                let _ = c
                    .socket
                    .send(close(CloseCode::Away, "the suite has finished".into()));
                hub.unsubscribe(c.subscription.id);
            }
            break;
        }
        let now = Instant::now();
        clients.retain_mut(|c| {
            let keep = serve(c, hub, now);
            if !keep {
                hub.unsubscribe(c.subscription.id);
            }
            keep
        });
        wait = coalesce_window(clients.len());
        charge_thread();
    }
}

/// One round for one client: writes what was queued for it, reads what it
/// sent; false when the client is gone or dropped.
fn serve(c: &mut Client, hub: &LiveHub, now: Instant) -> bool {
    let mut batch = Vec::new();
    let mut gone = false;
    while batch.len() < MAX_BATCH {
        match c.subscription.messages.try_recv() {
            Ok(next) => batch.push(next),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Disconnected) => {
                gone = true;
                break;
            }
        }
    }
    if c.subscription.lagged.swap(false, Ordering::Relaxed) {
        // Behind: what is queued is stale; the newest state wins.
        while c.subscription.messages.try_recv().is_ok() {}
        batch = vec![hub.snapshot()];
    }
    for frame in batch {
        match c.socket.write(Message::Text(frame)) {
            Ok(()) => {}
            // Buffered: the socket takes it later.
            Err(e) if is_timeout(&e) => {}
            Err(_) => return false,
        }
    }
    match c.socket.flush() {
        Ok(()) => c.stalled_since = None,
        Err(e) if is_timeout(&e) => {
            // A client whose socket takes nothing for SEND_TIMEOUT is dropped.
            let since = *c.stalled_since.get_or_insert(now);
            if now.duration_since(since) > SEND_TIMEOUT {
                return false;
            }
        }
        Err(_) => return false,
    }
    if gone {
        return false;
    }
    // What the client sent meanwhile: looked at once per IDLE_POLL.
    if now.duration_since(c.last_read) < IDLE_POLL {
        return true;
    }
    c.last_read = now;
    loop {
        match c.socket.read() {
            Ok(message) => match answer(&message) {
                Ok(Some(reply)) => {
                    if matches!(c.socket.send(reply), Err(ref e) if !is_timeout(e)) {
                        return false;
                    }
                }
                Ok(None) if matches!(message, Message::Close(_)) => {
                    let _ = c.socket.flush();
                    return false;
                }
                Ok(None) => {}
                Err(closing) => {
                    let _ = c.socket.send(closing);
                    return false;
                }
            },
            Err(e) if is_timeout(&e) => return true,
            Err(e) => {
                if let Some(closing) = too_big(&e) {
                    let _ = c.socket.send(closing);
                }
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)], query: Option<&str>) -> Request {
        let mut text = format!(
            "GET /ws{} HTTP/1.1\r\n",
            query.map(|q| format!("?{q}")).unwrap_or_default()
        );
        for (k, v) in headers {
            text.push_str(&format!("{k}: {v}\r\n"));
        }
        text.push_str("\r\n");
        http::tests_parse(text.as_bytes())
    }

    fn access(token: Option<&str>) -> Access {
        Access {
            token: token.map(str::to_owned),
            port: 8765,
            max_clients: 4,
            hand_over: Mutex::new(mpsc::channel().0),
        }
    }

    #[test]
    fn the_gathering_window_grows_with_the_clients_within_bounds() {
        assert_eq!(coalesce_window(1), COALESCE_MIN);
        assert_eq!(coalesce_window(25), COALESCE_MIN);
        assert_eq!(coalesce_window(100), Duration::from_millis(200));
        assert_eq!(coalesce_window(10_000), COALESCE_MAX);
    }

    #[test]
    fn tokens_come_from_the_query_percent_decoded() {
        assert_eq!(query_token(Some("x=1&token=abc")).as_deref(), Some("abc"));
        assert_eq!(
            query_token(Some("token=a%26b%23c%25d")).as_deref(),
            Some("a&b#c%d")
        );
        assert_eq!(query_token(None), None);
        let a = access(Some("a&b#c%d"));
        assert!(refusal(&request(&[], Some("token=a%26b%23c%25d")), &a).is_none());
        assert!(refusal(&request(&[], Some("token=a&b")), &a).is_some());
    }

    #[test]
    fn on_loopback_only_loopback_pages_at_this_port_may_connect() {
        let a = access(None);
        let ok = |h: &[(&str, &str)]| refusal(&request(h, None), &a).is_none();
        assert!(
            ok(&[("Host", "127.0.0.1:8765")]),
            "no Origin: not a browser"
        );
        assert!(ok(&[
            ("Host", "localhost:8765"),
            ("Origin", "http://localhost:8765")
        ]));
        assert!(ok(&[
            ("Host", "[::1]:8765"),
            ("Origin", "http://[::1]:8765")
        ]));
        // A page from elsewhere, and DNS rebinding (a foreign name that
        // resolves to 127.0.0.1: Host and Origin both name it).
        assert!(!ok(&[
            ("Host", "127.0.0.1:8765"),
            ("Origin", "http://evil.example")
        ]));
        assert!(!ok(&[
            ("Host", "evil.example:8765"),
            ("Origin", "http://evil.example:8765")
        ]));
        assert!(!ok(&[
            ("Host", "127.0.0.1:8765"),
            ("Origin", "http://127.0.0.1:9999")
        ]));
        assert!(!ok(&[]), "no Host");
    }

    #[test]
    fn clients_may_only_ping() {
        let ping = Message::Text(Utf8Bytes::from("{\"type\":\"ping\"}"));
        assert!(matches!(answer(&ping), Ok(Some(Message::Text(_)))));
        let bad = Message::Text(Utf8Bytes::from("{not json"));
        assert!(
            matches!(answer(&bad), Err(Message::Close(Some(f))) if f.code == CloseCode::Invalid)
        );
    }

    #[test]
    fn beyond_loopback_needs_a_token() {
        let err =
            LiveServer::start("0.0.0.0:0".parse().unwrap(), None, 4, LiveHub::new()).unwrap_err();
        assert!(err.to_string().contains("BENCHSCOPE_LIVE_TOKEN"), "{err}");
    }
}
