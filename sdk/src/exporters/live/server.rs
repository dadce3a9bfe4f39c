//! The live view's server: the page at `/` and the WebSocket at `/ws`, on a
//! Tokio runtime of its own thread. Loopback by default; another address
//! needs a token, checked at the upgrade. Cross-origin upgrades are refused.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures_util::SinkExt as _;

use super::{LiveHub, SEND_TIMEOUT, Subscription};
use crate::error::Error;
use crate::exporters::http::HttpServer;

/// How long a client's writer waits, at least, to gather messages into one
/// write: well under the 100 ms latency aim.
const COALESCE_MIN: Duration = Duration::from_millis(50);
/// ... and at most, however many clients there are.
const COALESCE_MAX: Duration = Duration::from_millis(250);
/// Socket writes a second the server aims to stay under, all clients
/// together: each write is a syscall, and with many clients they, not the
/// messages, are what the live view costs the machine.
const WRITES_PER_SECOND: u32 = 500;

/// A client's gathering window with `clients` connected: 50 ms up to 25
/// clients, then growing with them (200 ms at 100), at most 250 ms.
fn coalesce_window(clients: usize) -> Duration {
    let share =
        Duration::from_secs(1) * u32::try_from(clients).unwrap_or(u32::MAX) / WRITES_PER_SECOND;
    share.clamp(COALESCE_MIN, COALESCE_MAX)
}
/// Most messages written in one go.
const MAX_BATCH: usize = 64;

/// The read buffer of a client's connection (more is allocated for a
/// larger message, up to the limit).
const READ_BUFFER: usize = 4096;

/// Largest message a client may send.
pub const MAX_CLIENT_MESSAGE: usize = 4096;

const PAGE: &str = include_str!("index.html");

#[derive(Clone)]
struct ServerState {
    hub: LiveHub,
    token: Option<String>,
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct LiveServer {
    server: HttpServer,
}

impl LiveServer {
    /// Serves `hub` on `addr`. A non-loopback address needs `token`.
    pub fn start(
        addr: SocketAddr,
        token: Option<String>,
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
        let listener = std::net::TcpListener::bind(addr).map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => Error::Config {
                key: "live.addr".into(),
                value: addr.to_string(),
                reason: "the address is already in use; choose another with --live-addr or BENCHSCOPE_LIVE_ADDR (127.0.0.1:0 picks a free port)".into(),
            },
            _ => Error::Listen { addr, source },
        })?;
        let app = Router::new()
            .route("/", get(page))
            .route("/ws", get(upgrade))
            .with_state(ServerState { hub, token });
        let server = HttpServer::start(listener, addr, "benchscope-live", app)?;
        Ok(LiveServer { server })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-store")], Html(PAGE))
}

/// The token from `?token=...`, if any.
fn query_token(uri: &Uri) -> Option<&str> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// A same-origin check: browsers send `Origin`; it must name this host.
/// Clients that send no `Origin` (not browsers) are let through.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    origin == format!("http://{host}") || origin == format!("https://{host}")
}

async fn upgrade(
    State(state): State<ServerState>,
    headers: HeaderMap,
    uri: Uri,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "cross-origin WebSocket upgrades are refused\n",
        )
            .into_response();
    }
    if let Some(token) = &state.token
        && query_token(&uri) != Some(token.as_str())
    {
        return (StatusCode::UNAUTHORIZED, "a valid ?token= is required\n").into_response();
    }
    // Clients only ping. tungstenite zero-fills its read buffer up to this
    // size before every read attempt, one per batch written: at the default
    // 128 KiB that memset was most of the server's CPU with 100 clients.
    ws.read_buffer_size(READ_BUFFER)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve_client(socket, state.hub))
}

fn close(code: u16, reason: String) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

/// What a client's message asks for, or why it is refused.
fn answer(message: &Message) -> Result<Option<Message>, Message> {
    match message {
        Message::Text(text) if text.len() > MAX_CLIENT_MESSAGE => Err(close(
            close_code::SIZE,
            format!(
                "message too big: {} bytes, the limit is {MAX_CLIENT_MESSAGE}",
                text.len()
            ),
        )),
        Message::Text(text) => match serde_json::from_str::<serde_json::Value>(text.as_str()) {
            Ok(v) if v["type"] == "ping" => Ok(Some(Message::Text(Utf8Bytes::from(format!(
                "{{\"v\":{},\"type\":\"pong\"}}",
                super::SCHEMA_VERSION
            ))))),
            Ok(_) => Err(close(
                close_code::POLICY,
                "unknown message: the only message a client may send is {\"type\":\"ping\"}".into(),
            )),
            Err(e) => Err(close(
                close_code::INVALID,
                format!("malformed message: {e}"),
            )),
        },
        Message::Binary(_) => Err(close(
            close_code::UNSUPPORTED,
            "binary messages are not accepted; send JSON text".into(),
        )),
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) => Ok(None),
    }
}

async fn serve_client(mut socket: WebSocket, hub: LiveHub) {
    let Subscription {
        mut messages,
        lagged,
        id,
    } = hub.subscribe();
    loop {
        tokio::select! {
            outgoing = messages.recv() => {
                let Some(mut text) = outgoing else { break };
                if lagged.swap(false, Ordering::Relaxed) {
                    // Behind: what is queued is stale; the newest state wins.
                    while messages.try_recv().is_ok() {}
                    text = hub.snapshot();
                }
                // Gather what arrives within a short window and write it in
                // one go: one flush (one syscall) per batch instead of per
                // message, which is most of the server's cost with many clients.
                tokio::time::sleep(coalesce_window(hub.clients())).await;
                let mut batch = vec![text];
                while batch.len() < MAX_BATCH {
                    match messages.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let write = async {
                    for frame in batch {
                        socket.feed(Message::Text(frame)).await?;
                    }
                    socket.flush().await
                };
                match tokio::time::timeout(SEND_TIMEOUT, write).await {
                    Ok(Ok(())) => {}
                    _ => break,
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(message)) => match answer(&message) {
                        Ok(Some(reply)) => {
                            if socket.send(reply).await.is_err() {
                                break;
                            }
                        }
                        Ok(None) => {}
                        Err(closing) => {
                            let _ = socket.send(closing).await;
                            break;
                        }
                    },
                }
            }
        }
    }
    hub.unsubscribe(id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gathering_window_grows_with_the_clients_within_bounds() {
        assert_eq!(coalesce_window(1), COALESCE_MIN);
        assert_eq!(coalesce_window(25), COALESCE_MIN);
        assert_eq!(coalesce_window(100), Duration::from_millis(200));
        assert_eq!(coalesce_window(10_000), COALESCE_MAX);
    }

    #[test]
    fn tokens_come_from_the_query() {
        let uri: Uri = "/ws?x=1&token=abc".parse().unwrap();
        assert_eq!(query_token(&uri), Some("abc"));
        assert_eq!(query_token(&"/ws".parse().unwrap()), None);
    }

    #[test]
    fn only_same_origin_browsers_may_upgrade() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8765".parse().unwrap());
        assert!(same_origin(&h), "no Origin: not a browser");
        h.insert(header::ORIGIN, "http://127.0.0.1:8765".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
    }

    #[test]
    fn clients_may_only_ping() {
        let ping = Message::Text(Utf8Bytes::from("{\"type\":\"ping\"}"));
        assert!(matches!(answer(&ping), Ok(Some(Message::Text(_)))));
        let bad = Message::Text(Utf8Bytes::from("{not json"));
        assert!(
            matches!(answer(&bad), Err(Message::Close(Some(f))) if f.code == close_code::INVALID)
        );
        let big = Message::Text(Utf8Bytes::from("x".repeat(MAX_CLIENT_MESSAGE + 1)));
        assert!(matches!(answer(&big), Err(Message::Close(Some(f))) if f.code == close_code::SIZE));
    }

    #[test]
    fn beyond_loopback_needs_a_token() {
        let err =
            LiveServer::start("0.0.0.0:0".parse().unwrap(), None, LiveHub::new()).unwrap_err();
        assert!(err.to_string().contains("BENCHSCOPE_LIVE_TOKEN"), "{err}");
    }
}
