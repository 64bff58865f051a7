//! Faults against real servers: a server killed mid-call, a server that never answers, a
//! broken stdout, an oversized result, a changed tool list, an exhausted pool.

mod support;

use std::time::Duration;

use llamagate_mcp::{
    McpError, Secret, ServerDescription, Transport,
    cache::{ListKind, Lookup},
    health::HealthState,
    server::operations::ToolOutcome,
};
use serde_json::json;
use support::*;

#[tokio::test]
async fn stdio_server_killed_mid_call_fails_fast_and_is_respawned() {
    let server = client_with(mcp2_stdio("victim"), |_| {});
    server.start();
    wait_for("healthy", async || {
        server.health().state == HealthState::Healthy
    })
    .await;
    let pid = server.pool_stats().sessions;
    assert_eq!(pid, 1);
    let first_pid = process_id(&server);

    let call = tokio::spawn({
        let server = server.clone();
        async move { server.call_tool(tool("slow", json!({"seconds": 30}))).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::process::Command::new("kill")
        .args(["-9", &first_pid.to_string()])
        .status()
        .unwrap();
    let started = std::time::Instant::now();
    let error = call.await.unwrap().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failed only after {:?}",
        started.elapsed()
    );
    assert!(matches!(error, McpError::Transport { .. }), "{error}");

    wait_for("a new process", async || {
        server
            .call_tool(tool("echo", json!({"message": "back"})))
            .await
            .is_ok()
    })
    .await;
    assert_ne!(
        process_id(&server),
        first_pid,
        "a new process serves the calls"
    );
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn silent_server_times_out_and_the_call_is_cancelled() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut config = mcp2_stdio("silent");
    config.command_mut().unwrap().env.insert(
        "PEER_CANCEL_LOG".into(),
        Secret::new(log.path().display().to_string()),
    );
    let server = client_with(config, |_| {});
    server.connect_vacant().await.unwrap();
    let mut call = tool("slow", json!({"seconds": 60}));
    call.timeout = Some(Duration::from_millis(500));
    let error = server.call_tool(call).await.unwrap_err();
    assert!(matches!(error, McpError::Timeout { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("did not answer `tools/call` within 500ms"),
        "{error}"
    );
    wait_for("the server to see notifications/cancelled", async || {
        std::fs::read_to_string(log.path())
            .unwrap_or_default()
            .contains("cancelled")
    })
    .await;
    // The session survives a timeout.
    server
        .call_tool(tool("echo", json!({"message": "still here"})))
        .await
        .unwrap();
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn garbage_on_stdout_drops_the_session_and_reconnects() {
    let script = peers_dir().join("broken_stdio.py").display().to_string();
    let server = client_with(stdio("garbled", "python3", &[&script]), |_| {});
    server.connect_vacant().await.unwrap();
    let before = process_id(&server);
    let error = server
        .call_tool(tool("garbage", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Transport { .. }), "{error}");
    let outcome = server
        .call_tool(tool("echo", json!({"message": "fresh"})))
        .await
        .unwrap();
    assert!(!outcome.is_error());
    assert_ne!(
        process_id(&server),
        before,
        "the broken session was replaced"
    );
    server.stop(Duration::from_secs(1)).await;
}

async fn assert_too_large(config: ServerDescription) {
    let server = client_with(config, |config| config.max_result_bytes = 64 * 1024);
    server.connect_vacant().await.unwrap();
    let error = server
        .call_tool(tool("big", json!({"size": 2_000_000})))
        .await
        .unwrap_err();
    assert!(
        matches!(error, McpError::TooLarge { limit: 65536, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("larger than the limit of 65536 bytes"),
        "{error}"
    );
    let fine = server
        .call_tool(tool("big", json!({"size": 1000})))
        .await
        .unwrap();
    assert!(
        !fine.is_error(),
        "smaller results still pass and the session survives"
    );
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn oversized_result_is_refused_over_stdio() {
    assert_too_large(mcp2_stdio("big-stdio")).await;
}

#[tokio::test]
async fn oversized_result_is_refused_over_http() {
    let peer = mcp2_http();
    assert_too_large(remote("big-http", Transport::StreamableHttp, &peer.url)).await;
}

#[tokio::test]
async fn oversized_result_is_refused_over_http_with_sse_answers() {
    let peer = mcp1_peer("streamable-http");
    assert_too_large(remote("big-http-sse", Transport::StreamableHttp, &peer.url)).await;
}

#[tokio::test]
async fn list_changed_invalidates_the_tool_cache() {
    let peer = ws_peer();
    assert_list_changed_invalidates(remote("changing", Transport::Websocket, &peer.url)).await;
}

#[tokio::test]
async fn list_changed_over_subscriptions_listen_invalidates_the_cache() {
    let peer = mcp2_http();
    assert_list_changed_invalidates(remote("listening", Transport::StreamableHttp, &peer.url))
        .await;
}

async fn assert_list_changed_invalidates(config: ServerDescription) {
    let server = client_with(config, |_| {});
    server.connect_vacant().await.unwrap();
    let (tools, lookup) = server.list(ListKind::Tools, "k").await.unwrap();
    assert_eq!(lookup, Lookup::Miss);
    let (_, lookup) = server.list(ListKind::Tools, "k").await.unwrap();
    assert_eq!(lookup, Lookup::Hit, "the second list comes from the cache");
    let outcome = server
        .call_tool(tool("add_tool", json!({"name": "fresh_tool"})))
        .await
        .unwrap();
    assert!(!outcome.is_error(), "{outcome:?}");
    wait_for("the new tool to be listed", async || {
        let (now, _) = server.list(ListKind::Tools, "k").await.unwrap();
        now.len() == tools.len() + 1 && now.iter().any(|t| t["name"] == "fresh_tool")
    })
    .await;
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn exhausted_pool_fails_clearly_instead_of_queueing() {
    let peer = ws_peer();
    let mut config = remote("busy", Transport::Websocket, &peer.url);
    config.pool.size = 1;
    let server = client_with(config, |config| {
        config.pool.max_in_flight = 1;
        config.timeouts.connect = Duration::from_millis(300);
    });
    server.connect_vacant().await.unwrap();
    let busy = tokio::spawn({
        let server = server.clone();
        async move {
            server
                .call_tool(tool("slow", json!({"seconds": 1.5})))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let error = server
        .call_tool(tool("echo", json!({"message": "x"})))
        .await
        .unwrap_err();
    assert!(
        matches!(error, McpError::PoolExhausted { capacity: 1, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("retry later or raise connection_pool_size"),
        "{error}"
    );
    assert!(matches!(
        busy.await.unwrap().unwrap(),
        ToolOutcome::Complete { .. }
    ));
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn down_server_turns_unhealthy_and_fails_fast() {
    let port = free_port();
    let server = client_with(
        remote(
            "down",
            Transport::StreamableHttp,
            &format!("http://127.0.0.1:{port}/mcp"),
        ),
        |config| config.health.failure_threshold = 2,
    );
    server.start();
    wait_for("unhealthy", async || {
        server.health().state == HealthState::Unhealthy
    })
    .await;
    let started = std::time::Instant::now();
    let error = server
        .call_tool(tool("echo", json!({"message": "x"})))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "fail fast, not wait for the 30 s call timeout"
    );
    assert!(
        matches!(
            error,
            McpError::Unavailable {
                state: HealthState::Unhealthy,
                ..
            }
        ),
        "{error}"
    );
    let health = server.health();
    assert!(
        health.last_error.unwrap().contains("cannot connect"),
        "the last error says why"
    );
    server.stop(Duration::from_secs(1)).await;
}

/// A healthy stateless server is watched by the shared prober: when the server dies the
/// prober gives it back to its monitor, it turns unhealthy, and it heals when the server is
/// back on the same address.
#[tokio::test]
async fn stateless_http_server_killed_turns_unhealthy_and_recovers() {
    let port = free_port();
    let mut peer = mcp2_http_on(port);
    let server = client_with(
        remote("stateless", Transport::StreamableHttp, &peer.url),
        |config| {
            config.health.failure_threshold = 2;
            config.health.interval = Duration::from_secs(1);
            config.health.timeout = Duration::from_millis(900);
        },
    );
    server.start();
    wait_for("healthy", async || {
        server.health().state == HealthState::Healthy
    })
    .await;
    assert!(server.info().unwrap().stateless, "the 2026-07-28 path");
    // Several probe rounds, so that the prober (not the first round) is in charge.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.health().state, HealthState::Healthy);

    peer.kill();
    wait_for("unhealthy", async || {
        server.health().state == HealthState::Unhealthy
    })
    .await;
    let health = server.health();
    assert!(
        health
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("stateless")),
        "the error names the server: {health:?}"
    );

    let _back = tokio::task::spawn_blocking(move || mcp2_http_on(port))
        .await
        .unwrap();
    wait_for("healthy again", async || {
        server.health().state == HealthState::Healthy
    })
    .await;
    let outcome = server
        .call_tool(tool("echo", json!({"message": "back"})))
        .await
        .unwrap();
    assert!(format!("{outcome:?}").contains("back"), "{outcome:?}");
    server.stop(Duration::from_secs(1)).await;
    assert_eq!(server.health().state, HealthState::Stopped);
}

/// A stateless server that stops answering but keeps its connections open (frozen with
/// SIGSTOP): the prober's probes time out, it turns unhealthy, and heals once thawed.
#[tokio::test]
async fn stateless_http_server_that_stops_answering_turns_unhealthy_and_recovers() {
    let peer = mcp2_http();
    let server = client_with(
        remote("frozen", Transport::StreamableHttp, &peer.url),
        |config| {
            config.health.failure_threshold = 2;
            config.health.interval = Duration::from_secs(1);
            config.health.timeout = Duration::from_millis(400);
        },
    );
    server.start();
    wait_for("healthy", async || {
        server.health().state == HealthState::Healthy
    })
    .await;
    // Several probe rounds, so that the prober is in charge.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(server.health().state, HealthState::Healthy);

    peer.signal("STOP");
    wait_for("unhealthy", async || {
        server.health().state == HealthState::Unhealthy
    })
    .await;
    let health = server.health();
    peer.signal("CONT");
    assert!(
        health
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("frozen")),
        "the error names the server: {health:?}"
    );
    wait_for("healthy again", async || {
        server.health().state == HealthState::Healthy
    })
    .await;
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn input_required_is_surfaced_and_a_retry_with_answers_completes() {
    let peer = mcp2_http();
    let server = client_with(
        remote("asking", Transport::StreamableHttp, &peer.url),
        |_| {},
    );
    server.connect_vacant().await.unwrap();
    let outcome = server
        .call_tool(tool("confirm", json!({"action": "deploy"})))
        .await
        .unwrap();
    let ToolOutcome::InputRequired { result } = outcome else {
        panic!("{outcome:?}")
    };
    // The SDK seals the state: the client must echo it verbatim.
    let state = result["requestState"]
        .as_str()
        .expect("an opaque requestState")
        .to_owned();
    assert_eq!(
        result["inputRequests"]["ok"]["method"], "elicitation/create",
        "{result}"
    );
    let mut retry = tool("confirm", json!({"action": "deploy"}));
    retry.input_responses = Some(json!({"ok": {"action": "accept", "content": {"sure": true}}}));
    retry.request_state = Some(state);
    let ToolOutcome::Complete { result } = server.call_tool(retry).await.unwrap() else {
        panic!("still input_required")
    };
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("deploy: accept") && text.contains("pending:deploy"),
        "{text}"
    );
    server.stop(Duration::from_secs(1)).await;
}
