//! The live view's WebSocket protocol against the real server on loopback:
//! snapshot then stream; malformed, binary and oversize messages are closed
//! with a reason while the server keeps serving; cross-origin upgrades are
//! refused; 100 clients all get every benchmark's final figures; a client
//! that never reads does not make the server's memory grow past a bound.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use benchscope::Progress;
use benchscope::internals::LiveHub;
use benchscope::internals::LiveServer;
use benchscope::{BenchResult, SuiteRun};
use benchscope::{Endpoints, Reporter};
use serde_json::Value;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, WebSocket};

type Client = WebSocket<TcpStream>;

fn server() -> (LiveHub, LiveServer) {
    server_with(256)
}

fn server_with(max_clients: usize) -> (LiveHub, LiveServer) {
    let hub = LiveHub::new();
    let server = LiveServer::start(
        "127.0.0.1:0".parse().unwrap(),
        None,
        max_clients,
        hub.clone(),
    )
    .unwrap();
    (hub, server)
}

fn connect(addr: SocketAddr) -> Client {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (ws, _) = tungstenite::client(format!("ws://{addr}/ws"), stream).expect("handshake");
    ws
}

fn next_json(ws: &mut Client) -> Value {
    loop {
        match ws.read().expect("a message") {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Reads until the server closes; returns the close code and reason.
fn close_of(ws: &mut Client) -> (CloseCode, String) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        match ws.read() {
            Ok(Message::Close(Some(frame))) => return (frame.code, frame.reason.to_string()),
            Ok(Message::Close(None)) => panic!("closed without a reason"),
            Ok(_) => continue,
            Err(e) => panic!("no close frame: {e}"),
        }
    }
    panic!("the server did not close");
}

fn result(name: &str) -> BenchResult {
    BenchResult::from_samples(name, (0..20).map(|i| 100.0 + f64::from(i)).collect()).unwrap()
}

#[test]
fn a_client_gets_a_snapshot_then_the_stream() {
    let (mut hub, server) = server();
    hub.suite_started(&["a".into(), "b".into()], &Endpoints::default());
    hub.bench_started("a");
    let mut ws = connect(server.local_addr());
    let snapshot = next_json(&mut ws);
    assert_eq!(snapshot["v"], 1);
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["benchmarks"][0]["status"], "running");
    assert_eq!(snapshot["benchmarks"][1]["status"], "pending");
    hub.progress(
        "a",
        Progress::Sample {
            done: 1,
            of: 20,
            ns: 123.0,
        },
    );
    let sample = next_json(&mut ws);
    assert_eq!(sample["type"], "sample");
    assert_eq!(
        (sample["done"].as_u64(), sample["ns"].as_f64()),
        (Some(1), Some(123.0))
    );
    // A benchmark the machine disturbed says so, for the page's badge.
    let mut disturbed = result("a");
    disturbed.disturbance = Some(benchscope::Disturbance {
        disturbed: true,
        retaken: 20,
        kept: 7,
        ..Default::default()
    });
    hub.bench_finished(&disturbed);
    let finished = next_json(&mut ws);
    assert_eq!(finished["type"], "benchmark_finished");
    assert_eq!(finished["stats"]["samples"], 20);
    assert_eq!(finished["disturbance"]["disturbed"], true);
    assert_eq!(finished["disturbance"]["retaken"], 20);
    assert!(
        finished["disturbance"]["describe"]
            .as_str()
            .is_some_and(|d| d.contains("20 sample(s) retaken, 7 disturbed kept")),
        "{finished}"
    );
    ws.send(Message::Text(r#"{"type":"ping"}"#.into())).unwrap();
    assert_eq!(next_json(&mut ws)["type"], "pong");
}

#[test]
fn bad_messages_are_closed_with_a_reason_and_the_server_goes_on() {
    let (_hub, server) = server();
    let addr = server.local_addr();
    let cases: [(Message, CloseCode, &str); 4] = [
        (
            Message::Text("{not json".into()),
            CloseCode::Invalid,
            "malformed message",
        ),
        (
            Message::Text(r#"{"type":"subscribe"}"#.into()),
            CloseCode::Policy,
            "unknown message",
        ),
        (
            Message::Binary(vec![1, 2, 3].into()),
            CloseCode::Unsupported,
            "binary messages",
        ),
        (
            Message::Text("x".repeat(8192).into()),
            CloseCode::Size,
            "message too big",
        ),
    ];
    for (message, code, reason) in cases {
        let mut ws = connect(addr);
        let _snapshot = next_json(&mut ws);
        ws.send(message).unwrap();
        let (got_code, got_reason) = close_of(&mut ws);
        assert_eq!(got_code, code, "{got_reason}");
        assert!(got_reason.contains(reason), "{got_reason}");
    }
    // Still serving.
    let mut ws = connect(addr);
    assert_eq!(next_json(&mut ws)["type"], "snapshot");
}

#[test]
fn a_taken_port_names_the_live_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = LiveServer::start(addr, None, 4, LiveHub::new()).unwrap_err();
    assert!(
        matches!(err, benchscope::Error::AddrInUse { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&addr.port().to_string())
            && text.contains("--live-addr")
            && text.contains("live view"),
        "{text}"
    );
}

#[test]
fn cross_origin_upgrades_are_refused() {
    let (_hub, server) = server();
    let addr = server.local_addr();
    let stream = TcpStream::connect(addr).unwrap();
    let request =
        tungstenite::client::IntoClientRequest::into_client_request(format!("ws://{addr}/ws"))
            .map(|mut r| {
                r.headers_mut()
                    .insert("Origin", "http://evil.example".parse().unwrap());
                r
            })
            .unwrap();
    match tungstenite::client(request, stream) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!(
            "a cross-origin upgrade was accepted: {:?}",
            other.map(|_| ())
        ),
    }
}

#[test]
fn a_hundred_clients_get_every_final_message() {
    let (mut hub, server) = server();
    let names: Vec<String> = (0..10).map(|i| format!("bench_{i}")).collect();
    let clients: Vec<Client> = (0..100).map(|_| connect(server.local_addr())).collect();
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            let names = names.clone();
            std::thread::spawn(move || {
                let mut done = std::collections::BTreeSet::new();
                let start = Instant::now();
                while done.len() < names.len() && start.elapsed() < Duration::from_secs(30) {
                    let msg = next_json(&mut ws);
                    match msg["type"].as_str() {
                        Some("benchmark_finished") => {
                            done.insert(msg["name"].as_str().unwrap().to_owned());
                        }
                        // A lagging client is sent the newest state instead.
                        Some("snapshot") => {
                            for b in msg["benchmarks"].as_array().unwrap() {
                                if b["status"] == "done" {
                                    done.insert(b["name"].as_str().unwrap().to_owned());
                                }
                            }
                        }
                        _ => {}
                    }
                }
                done.len()
            })
        })
        .collect();
    hub.suite_started(&names, &Endpoints::default());
    for name in &names {
        hub.bench_started(name);
        for done in 1..=50 {
            hub.progress(
                name,
                Progress::Sample {
                    done,
                    of: 50,
                    ns: 10.0,
                },
            );
        }
        hub.bench_finished(&result(name));
    }
    let mut run = SuiteRun::new("c", "b", Vec::new());
    run.duration_s = 1.0;
    hub.suite_finished(&run);
    for reader in readers {
        assert_eq!(
            reader.join().unwrap(),
            names.len(),
            "a client missed a final message"
        );
    }
}

fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: f64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096.0 / (1024.0 * 1024.0)
}

#[test]
fn a_client_that_never_reads_does_not_grow_memory_or_slow_publishing() {
    let (mut hub, server) = server();
    // Connects, shakes hands, then never reads a byte.
    let _stalled = connect(server.local_addr());
    let mut reader = connect(server.local_addr());
    let _ = next_json(&mut reader);
    hub.suite_started(&["big".into()], &Endpoints::default());
    let before = rss_mib();
    let start = Instant::now();
    // 20 000 samples: about 2 MB of messages, far more than the socket and
    // the client's queue hold.
    for done in 1..=20_000 {
        hub.progress(
            "big",
            Progress::Sample {
                done,
                of: 20_000,
                ns: 1234.5,
            },
        );
    }
    let publishing = start.elapsed();
    // The reading client still keeps up.
    let start = Instant::now();
    let mut last = 0;
    while last < 20_000 && start.elapsed() < Duration::from_secs(20) {
        let msg = next_json(&mut reader);
        if msg["type"] == "sample" {
            last = msg["done"].as_u64().unwrap();
        } else if msg["type"] == "snapshot" {
            last = msg["benchmarks"][0]["done"].as_u64().unwrap_or(0);
        }
    }
    let growth = rss_mib() - before;
    assert_eq!(last, 20_000, "the reading client got the latest state");
    assert!(
        hub.dropped() > 0,
        "the stalled client's queue overflowed and was trimmed"
    );
    // Bound: the stalled client's queue (64 messages) and socket buffers.
    assert!(growth < 32.0, "memory grew by {growth:.1} MiB");
    assert!(
        publishing < Duration::from_secs(2),
        "publishing took {publishing:?}"
    );
    println!(
        "20 000 messages published in {publishing:?}; memory growth {growth:.1} MiB; {} dropped for the stalled client",
        hub.dropped()
    );
}

#[test]
fn oversized_frames_are_refused_before_they_are_read() {
    let (_hub, server) = server_with(64);
    let addr = server.local_addr();
    let before = rss_mib();
    let mut clients = Vec::new();
    for _ in 0..40 {
        let mut ws = connect(addr);
        // A text frame that announces 15 MiB, then 1 MiB of it: the server
        // must refuse it at the header, not buffer it.
        let stream = ws.get_mut();
        let len: u64 = 15 << 20;
        let mut header = vec![0x81, 0x80 | 127];
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&[1, 2, 3, 4]);
        stream.write_all(&header).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..16 {
            if stream.write_all(&chunk).is_err() {
                break;
            }
        }
        clients.push(ws);
    }
    for ws in &mut clients {
        let (code, reason) = close_of(ws);
        assert_eq!(code, CloseCode::Size, "{reason}");
        assert!(reason.contains("4096"), "{reason}");
    }
    let grown = rss_mib() - before;
    assert!(
        grown < 64.0,
        "40 oversized frames grew the process by {grown:.0} MiB"
    );
    // The server still serves.
    let mut ws = connect(addr);
    assert!(matches!(ws.read().unwrap(), Message::Text(_)));
}

#[test]
fn clients_past_the_cap_are_closed_with_the_reason() {
    let (hub, server) = server_with(3);
    let addr = server.local_addr();
    let kept: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    let start = Instant::now();
    while hub.clients() < 3 {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut extra = connect(addr);
    let (code, reason) = close_of(&mut extra);
    assert_eq!(code, CloseCode::Again);
    assert!(reason.contains("live.max_clients"), "{reason}");
    drop(kept);
}

#[test]
fn a_rebinding_page_gets_no_stream_and_tokens_may_hold_any_character() {
    let (_hub, server) = server_with(8);
    let addr = server.local_addr();
    let upgrade = |host: &str, origin: &str| {
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = [0u8; 64];
        let n = stream.read(&mut head).unwrap();
        String::from_utf8_lossy(&head[..n]).into_owned()
    };
    let port = addr.port();
    assert!(
        upgrade(
            &format!("127.0.0.1:{port}"),
            &format!("http://127.0.0.1:{port}")
        )
        .starts_with("HTTP/1.1 101")
    );
    // A page on a name that resolves to 127.0.0.1: Host and Origin agree.
    let rebinding = upgrade(
        &format!("evil.example:{port}"),
        &format!("http://evil.example:{port}"),
    );
    assert!(rebinding.starts_with("HTTP/1.1 403"), "{rebinding}");

    // A token with `&`, `#` and `%`, percent-encoded in the page's address.
    let hub = LiveHub::new();
    let guarded = LiveServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Some("a&b#c%d e".into()),
        8,
        hub,
    )
    .unwrap();
    let addr = guarded.local_addr();
    let stream = TcpStream::connect(addr).unwrap();
    let ok = tungstenite::client(format!("ws://{addr}/ws?token=a%26b%23c%25d%20e"), stream);
    assert!(ok.is_ok(), "the right token, percent-encoded, is accepted");
    let stream = TcpStream::connect(addr).unwrap();
    let wrong = tungstenite::client(format!("ws://{addr}/ws?token=a&b"), stream);
    assert!(wrong.is_err(), "a wrong token is refused");
}
