//! Transport faults, each against real peers on loopback and bounded in time: a WebSocket
//! the server closes (the process killed mid-call), a Streamable HTTP answer's SSE stream
//! and a legacy SSE stream cut the same way, a
//! server that answers every request with HTTP 5xx, and a server flooding notifications.
//! Each time the affected call fails with a clear error well within its timeout, a healthy
//! server beside it keeps answering, the server recovers once it is back, and the runtime's
//! task count returns to where it was.

mod support;

use std::{sync::Arc, time::Duration};

use llamagate_mcp::{
    ServerClient, description::Transport, health::HealthState, server::operations::ToolOutcome,
};
use llamagate_test_peers::*;
use serde_json::json;
use support::*;

/// What a call's failure must arrive within: far less than the calls' 30 s timeout.
const FAILS_WITHIN: Duration = Duration::from_secs(10);

async fn echo(server: &ServerClient, message: &str) -> Result<String, String> {
    match server
        .call_tool(tool("echo", json!({"message": message})))
        .await
    {
        Ok(ToolOutcome::Complete { result }) => Ok(result.to_string()),
        Ok(other) => Err(format!("{other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A client that probes every second and calls the server unhealthy after two failures.
fn watched(name: &str, transport: Transport, url: &str) -> Arc<ServerClient> {
    let server = client_with(remote(name, transport, url), |config| {
        config.health.failure_threshold = 2;
        config.health.interval = Duration::from_secs(1);
        config.health.timeout = Duration::from_millis(900);
    });
    server.start();
    server
}

async fn healthy(server: &ServerClient) {
    wait_for("healthy", async || {
        server.health().state == HealthState::Healthy
    })
    .await;
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// The task count comes back to `before` (give closing sessions a moment to finish).
async fn tasks_back_to(before: usize) {
    for _ in 0..100 {
        if alive_tasks() <= before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tasks leaked: {} alive, {before} before", alive_tasks());
}

/// A running peer beside the server under test, and its client, warmed up.
async fn bystander() -> (Peer, Arc<ServerClient>) {
    let peer = mcp2_http();
    let server = client(remote("bystander", Transport::StreamableHttp, &peer.url));
    echo(&server, "warm").await.unwrap();
    (peer, server)
}

/// Kill the peer (started on a port by `start`) of a `transport` server while a call is in
/// flight: the call fails fast and clearly, a bystander answers meanwhile, the server
/// answers again once its peer is back at the same address, and no task is left behind.
async fn killed_mid_call_then_back(transport: Transport, start: fn(u16) -> Peer) {
    let (_bystander_peer, bystander) = bystander().await;
    let before = alive_tasks();
    let port = free_port();
    let mut peer = start(port);
    let server = watched("flaky", transport, &peer.url);
    healthy(&server).await;
    let in_flight = {
        let server = server.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let outcome = server.call_tool(tool("slow", json!({"seconds": 20}))).await;
            (outcome, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    peer.kill();
    let (outcome, took) = in_flight.await.unwrap();
    let error = outcome
        .expect_err("the server died under the call")
        .to_string();
    assert!(
        took < FAILS_WITHIN,
        "{transport:?}: failed after {took:?}: {error}"
    );
    assert!(
        error.contains("flaky"),
        "the error names the server: {error}"
    );
    assert!(
        echo(&bystander, "still here")
            .await
            .unwrap()
            .contains("still here")
    );
    wait_for("unhealthy", async || {
        server.health().state == HealthState::Unhealthy
    })
    .await;
    let back = tokio::task::spawn_blocking(move || start(port))
        .await
        .unwrap();
    healthy(&server).await;
    let answer = echo(&server, "back").await.unwrap();
    assert!(answer.contains("back"), "{answer}");
    server.stop(Duration::from_secs(1)).await;
    drop(back);
    tasks_back_to(before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_closed_by_its_server_mid_call() {
    killed_mid_call_then_back(Transport::Websocket, ws_peer_on_port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamable_http_answer_stream_cut_mid_call() {
    killed_mid_call_then_back(Transport::StreamableHttp, |port| {
        mcp1_peer_on_port("streamable-http", port)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_sse_stream_cut_mid_call() {
    killed_mid_call_then_back(Transport::Sse, |port| mcp1_peer_on_port("sse", port)).await;
}

/// A loopback HTTP server that answers every request with `503`, counting them; closed when
/// dropped.
struct Failing {
    url: String,
    answered: Arc<std::sync::atomic::AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl Drop for Failing {
    fn drop(&mut self) {
        self._task.abort();
    }
}

async fn failing_server() -> Failing {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = answered.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0; 64 * 1024];
                let _ = socket.read(&mut buffer).await;
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let body = "upstream is down";
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    Failing {
        url,
        answered,
        _task: task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_answering_5xx_fails_clearly_and_alone() {
    let (_bystander_peer, bystander) = bystander().await;
    let failing = failing_server().await;
    let server = watched("down", Transport::StreamableHttp, &failing.url);
    let started = std::time::Instant::now();
    let error = echo(&server, "hello")
        .await
        .expect_err("503 for everything");
    assert!(started.elapsed() < FAILS_WITHIN, "{:?}", started.elapsed());
    assert!(
        error.contains("down") && error.contains("503"),
        "the error names the server and the status: {error}"
    );
    wait_for("unhealthy", async || {
        server.health().state == HealthState::Unhealthy
    })
    .await;
    assert!(
        echo(&bystander, "unaffected")
            .await
            .unwrap()
            .contains("unaffected")
    );
    // Unhealthy, calls fail at once without reaching the server.
    let asked = failing.answered.load(std::sync::atomic::Ordering::SeqCst);
    let error = echo(&server, "again").await.expect_err("still down");
    assert!(error.contains("down"), "{error}");
    let retried = failing.answered.load(std::sync::atomic::Ordering::SeqCst) - asked;
    assert!(
        retried <= 1,
        "{retried} requests for a call to an unhealthy server"
    );
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_flood_neither_stalls_the_call_nor_its_neighbours() {
    let (_bystander_peer, bystander) = bystander().await;
    for (transport, peer) in [
        (Transport::Websocket, ws_peer()),
        (Transport::StreamableHttp, mcp1_peer("streamable-http")),
    ] {
        let server = client(remote("flooding", transport, &peer.url));
        let flood = {
            let server = server.clone();
            tokio::spawn(async move {
                server
                    .call_tool(tool("flood", json!({"count": 5000})))
                    .await
            })
        };
        // Calls to the neighbour go on while the flood runs.
        for n in 0..20 {
            let message = format!("during the flood {n}");
            assert!(echo(&bystander, &message).await.unwrap().contains(&message));
        }
        let outcome = tokio::time::timeout(Duration::from_secs(60), flood)
            .await
            .expect("the flooded call ends")
            .unwrap()
            .unwrap();
        assert!(
            format!("{outcome:?}").contains("flooded 5000"),
            "{transport:?}: {outcome:?}"
        );
        // And the flooding server still answers.
        assert!(echo(&server, "after").await.unwrap().contains("after"));
        server.stop(Duration::from_secs(1)).await;
    }
}
