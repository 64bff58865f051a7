//! Health monitoring seen from outside, against a real server: probes counted by outcome,
//! passive health (calls answered within the interval stand in for probes), redirects.

mod support;

use std::time::Duration;

use llamagate_mcp::{
    ProtocolMode, Secret, ServerClient, ServerDescription, Transport, health::HealthState,
    server::operations::ToolCall,
};
use serde_json::json;
use support::*;

/// `llamagate_mcp_probes_total{outcome="…",server="…"}` as rendered on `/metrics`.
fn probes(metrics: &TestMetrics, server: &str, outcome: &str) -> u64 {
    let needle =
        format!("llamagate_mcp_probes_total{{outcome=\"{outcome}\",server=\"{server}\"}} ");
    metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(needle.as_str()))
        .map_or(0, |value| value.trim().parse().unwrap())
}

async fn wait_healthy(server: &ServerClient) {
    wait_state(server, HealthState::Healthy).await;
}

async fn wait_state(server: &ServerClient, state: HealthState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while server.health().state != state {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {state}: {:?}",
            server.health()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// While calls are answered the server is not probed on top of them; when the calls stop,
/// probing resumes. Both over the shared prober (stateless HTTP) and the per-server
/// monitor (a stdio session).
#[tokio::test]
async fn answered_calls_stand_in_for_probes_until_traffic_stops() {
    let peer = mcp2_http();
    for config in [
        remote("busy-http", Transport::StreamableHttp, &peer.url),
        mcp2_stdio("busy-stdio"),
    ] {
        let name = config.name.to_string();
        let (server, metrics) = monitored(config);
        server.start();
        wait_healthy(&server).await;

        // Busy: a call about every 20 ms for 3 s, about six probe rounds.
        let (ok_before, skipped_before) = (
            probes(&metrics, &name, "ok"),
            probes(&metrics, &name, "skipped"),
        );
        let busy_until = tokio::time::Instant::now() + Duration::from_secs(3);
        while tokio::time::Instant::now() < busy_until {
            let call = ToolCall {
                name: "echo".to_owned(),
                arguments: json!({"message": "busy"}).as_object().cloned().unwrap(),
                ..Default::default()
            };
            server.call_tool(call).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let skipped = probes(&metrics, &name, "skipped") - skipped_before;
        let sent = probes(&metrics, &name, "ok") - ok_before;
        assert!(
            skipped >= 3 && skipped > sent,
            "{name}: while busy, {skipped} probes skipped and {sent} sent"
        );
        assert_eq!(server.health().state, HealthState::Healthy);

        // Idle: probes are sent again.
        let ok_idle = probes(&metrics, &name, "ok");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            probes(&metrics, &name, "ok") >= ok_idle + 2,
            "{name}: probing resumes when the calls stop"
        );
        server.stop(Duration::from_secs(1)).await;
    }
}

/// A server reached through a redirect (Starlette answers `/mcp/` with a 307 to `/mcp`) is
/// probed the way its sessions reach it: no failed probe, no flapping.
#[tokio::test]
async fn a_redirected_url_is_probed_the_way_sessions_reach_it() {
    let peer = mcp2_http();
    let url = format!("{}/", peer.url);
    let (server, metrics) = monitored(remote("redirected", Transport::StreamableHttp, &url));
    server.start();
    wait_healthy(&server).await;
    assert!(
        server.info().unwrap().stateless,
        "watched by the shared prober"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(probes(&metrics, "redirected", "failed"), 0);
    assert!(probes(&metrics, "redirected", "ok") >= 3);
    assert_eq!(server.health().state, HealthState::Healthy);
    server.stop(Duration::from_secs(1)).await;
}

/// A legacy (2025-era) server is pinged on one of its sessions, by the shared prober once
/// healthy: no probe fails, over SSE answers (mcp 1.30) and over the mcp 2.3 peer's legacy
/// sessions; when the server dies it turns unhealthy, and heals when it is back.
#[tokio::test]
async fn legacy_servers_are_pinged_on_their_sessions() {
    let mcp2 = mcp2_http();
    let mcp1 = mcp1_peer("streamable-http");
    for (name, url) in [("legacy-mcp2", &mcp2.url), ("legacy-mcp1", &mcp1.url)] {
        let mut config = remote(name, Transport::StreamableHttp, url);
        config.protocol = ProtocolMode::Legacy;
        config.pool.size = 2;
        let (server, metrics) = monitored(config);
        server.start();
        wait_healthy(&server).await;
        assert!(
            !server.info().unwrap().stateless,
            "{name}: a legacy session"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(probes(&metrics, name, "failed"), 0, "{name}");
        assert!(probes(&metrics, name, "ok") >= 4, "{name}");
        assert_eq!(server.health().state, HealthState::Healthy, "{name}");
        server.stop(Duration::from_secs(1)).await;
    }

    let port = free_port();
    let mut peer = mcp2_http_on(port);
    let mut config = remote("legacy-killed", Transport::StreamableHttp, &peer.url);
    config.protocol = ProtocolMode::Legacy;
    let (server, _) = monitored(config);
    server.start();
    wait_healthy(&server).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    peer.kill();
    wait_state(&server, HealthState::Unhealthy).await;
    let _back = tokio::task::spawn_blocking(move || mcp2_http_on(port))
        .await
        .unwrap();
    wait_healthy(&server).await;
    server.stop(Duration::from_secs(1)).await;
}

/// A client probed every 500 ms, with its own metrics.
fn monitored(mut config: ServerDescription) -> (std::sync::Arc<ServerClient>, TestMetrics) {
    config.health.interval = Duration::from_millis(500);
    config.health.timeout = Duration::from_millis(450);
    let metrics = TestMetrics::new();
    let server = ServerClient::new(config, &context_with(&metrics));
    (server, metrics)
}

/// A server that needs credentials and a tenant header gets them on every request — the
/// handshake, calls and the shared prober's pings — whether the token comes from `api_key`
/// or from a configured `Authorization` header; without them it refuses, and the error
/// names the status, never the secret.
#[tokio::test]
async fn credentials_and_headers_reach_the_server_on_every_request() {
    let required = r#"{"authorization": "Bearer s3cret-token", "x-tenant": "team-a"}"#;
    let peer = mcp1_peer_with_env("streamable-http", &[("PEER_REQUIRE_HEADERS", required)]);
    let tenant = || ("x-tenant".to_owned(), Secret::new("team-a"));
    let mut with_key = remote("with-key", Transport::StreamableHttp, &peer.url);
    let endpoint = with_key.remote_mut().unwrap();
    endpoint.bearer_token = Some(Secret::new("s3cret-token"));
    endpoint.headers.insert(tenant().0, tenant().1);
    let mut with_header = remote("with-header", Transport::StreamableHttp, &peer.url);
    with_header.remote_mut().unwrap().headers = [
        tenant(),
        (
            "Authorization".to_owned(),
            Secret::new("Bearer s3cret-token"),
        ),
    ]
    .into();
    for mut config in [with_key, with_header] {
        config.protocol = ProtocolMode::Legacy;
        let name = config.name.to_string();
        let (server, metrics) = monitored(config);
        server.start();
        wait_healthy(&server).await;
        let outcome = server
            .call_tool(ToolCall {
                name: "echo".to_owned(),
                arguments: json!({"message": "authorized"})
                    .as_object()
                    .cloned()
                    .unwrap(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(format!("{outcome:?}").contains("authorized"), "{name}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(probes(&metrics, &name, "failed"), 0, "{name}");
        assert!(probes(&metrics, &name, "ok") >= 2, "{name}");
        server.stop(Duration::from_secs(1)).await;
    }

    let mut wrong = remote("wrong-key", Transport::StreamableHttp, &peer.url);
    wrong.remote_mut().unwrap().bearer_token = Some(Secret::new("not-the-token"));
    let (server, _) = monitored(wrong);
    let error = server.connect_vacant().await.unwrap_err().to_string();
    assert!(error.contains("401"), "{error}");
    assert!(
        !error.contains("not-the-token"),
        "no secret in errors: {error}"
    );
}
