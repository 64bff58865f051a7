//! A server that closes a kept-alive connection just as a request arrives on it (the race
//! with its idle timeout: Node servers close idle connections after 5 s). Before, the call
//! failed ("error sending request", a 502 through the gateway) and the session was
//! replaced. Now the session stays; a request without side effects (a list) is sent again
//! on another connection; a `tools/call`, which the server may have run, is never sent
//! twice: it fails with a clear error.
//!
//! The race is made deterministic by a proxy on loopback in front of a real server: on a
//! connection that has already carried a request, a `tools/call` is met by closing the
//! connection without forwarding it.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use llamagate_mcp::{Transport, cache::ListKind, server::operations::ToolCall};
use support::*;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// What the proxy saw, and what it drops.
#[derive(Default)]
struct Seen {
    initializes: AtomicUsize,
    dropped: AtomicUsize,
    /// Requests of this method are dropped on a reused connection.
    method: std::sync::Mutex<&'static str>,
    /// Requests of that method to drop even on a fresh connection.
    refuse: AtomicUsize,
}

/// One request of a client connection: head and body (Content-Length framing only, which
/// is what reqwest sends for our POSTs). `None` at end of stream.
async fn read_request(client: &mut (impl AsyncReadExt + Unpin)) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                return Some(request);
            }
        }
        let read = client.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        request.extend_from_slice(&buffer[..read]);
    }
}

/// One client connection: answers flow back untouched; requests are read one at a time
/// and forwarded on the same upstream connection, except a `tools/call` on a connection
/// that already carried a request, which closes both.
async fn serve(client: TcpStream, upstream: String, seen: Arc<Seen>) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    });
    let mut served = 0;
    while let Some(request) = read_request(&mut from_client).await {
        let text = String::from_utf8_lossy(&request);
        if text.contains("\"method\":\"initialize\"") {
            seen.initializes.fetch_add(1, Ordering::SeqCst);
        }
        let method = *seen.method.lock().unwrap();
        let targeted = text.contains(&format!("\"method\":\"{method}\""));
        let refused = targeted
            && seen
                .refuse
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if targeted && (served > 0 || refused) {
            seen.dropped.fetch_add(1, Ordering::SeqCst);
            break;
        }
        served += 1;
        if to_server.write_all(&request).await.is_err() {
            break;
        }
    }
    // Dropping the halves closes both connections; the client sees no answer.
    answers.abort();
}

async fn proxy(upstream: String, seen: Arc<Seen>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve(client, upstream.clone(), seen.clone()));
        }
    });
    format!("http://{address}/mcp")
}

fn echo(message: &str) -> ToolCall {
    ToolCall {
        name: "echo".to_owned(),
        arguments: serde_json::json!({ "message": message })
            .as_object()
            .cloned()
            .unwrap(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_request_the_server_may_have_seen_is_not_sent_twice_and_the_session_stays() {
    let peer = everything("streamableHttp");
    let upstream = peer
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let seen = Arc::new(Seen {
        method: std::sync::Mutex::new("tools/list"),
        ..Seen::default()
    });
    let url = proxy(upstream, seen.clone()).await;
    let mut description = remote("racy", Transport::StreamableHttp, &url);
    description.pool.size = 1;
    let server = client(description);
    server.connect_vacant().await.unwrap();
    // A list, closed under it on every reused connection: sent again, it succeeds.
    for _ in 0..4 {
        server.cache_clear();
        server.list(ListKind::Tools, "").await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen.dropped.load(Ordering::SeqCst) > 0,
        "lists were closed under"
    );
    // A tool call, closed under it: it may have run, so it is not sent again.
    *seen.method.lock().unwrap() = "tools/call";
    seen.refuse.store(1, Ordering::SeqCst);
    let dropped = seen.dropped.load(Ordering::SeqCst);
    let error = server.call_tool(echo("maybe ran")).await.unwrap_err();
    assert!(
        error.to_string().contains("error sending request"),
        "{error}"
    );
    assert!(
        !error.to_string().contains("127.0.0.1"),
        "no URL in errors: {error}"
    );
    assert_eq!(
        seen.dropped.load(Ordering::SeqCst),
        dropped + 1,
        "sent once"
    );
    // The session lives on: later calls use it.
    *seen.method.lock().unwrap() = "none";
    server.call_tool(echo("after")).await.unwrap();
    assert_eq!(
        seen.initializes.load(Ordering::SeqCst),
        1,
        "one session from start to end"
    );
    server.stop(Duration::from_secs(1)).await;
}

/// A stateless (2026-07-28) server is one session whatever `connection_pool_size` says (its
/// requests are independent POSTs), with all of the pool's permits: four times the calls of
/// one session's `max_in_flight` run at once. A legacy server on the same endpoint still
/// gets its four sessions.
#[tokio::test]
async fn a_stateless_server_is_one_session_with_all_the_permits() {
    let peer = llamagate_test_peers::mcp2_http();
    let mut description = remote("stateless", Transport::StreamableHttp, &peer.url);
    description.pool.size = 4;
    description.pool.max_in_flight = 2;
    let server = client(description.clone());
    server.connect_vacant().await.unwrap();
    assert!(server.info().unwrap().stateless);
    let stats = server.pool_stats();
    assert_eq!((stats.sessions, stats.size), (1, 1), "{stats:?}");
    let calls = (0..8).map(|i| server.call_tool(echo(&format!("call {i}"))));
    for outcome in futures::future::join_all(calls).await {
        outcome.unwrap();
    }
    server.connect_vacant().await.unwrap();
    assert_eq!(server.pool_stats().sessions, 1, "no session added later");

    description.name = llamagate_mcp::ServerName::new("legacy").unwrap();
    description.protocol = llamagate_mcp::ProtocolMode::Legacy;
    let legacy = client(description);
    legacy.connect_vacant().await.unwrap();
    let stats = legacy.pool_stats();
    assert_eq!((stats.sessions, stats.size), (4, 4), "{stats:?}");
}
