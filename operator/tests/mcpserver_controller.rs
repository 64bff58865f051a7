//! The `McpServer` reconciler against a scripted Kubernetes API and real MCP peers on
//! loopback: every request it makes is checked and answered in order, so a wrong patch, a
//! missing status write or an extra write fails the scenario.

mod support;

use std::{sync::Arc, time::Duration};

use http::Method;
use llamagate_crds::{
    McpServer,
    client::{SecretValues, describe},
};
use llamagate_mcp::{ServerClient, cache::ListKind};
use llamagate_operator::controllers::mcpserver::reconcile;
use llamagate_test_peers as peers;
use serde_json::{Value, json};
use support::*;

const STATUS_QUERY: &str = "fieldManager=llamagate-operator";
const QUIET: Duration = Duration::from_millis(300);

fn status_path(name: &str) -> String {
    format!("/apis/llamagate.io/v1alpha1/namespaces/default/mcpservers/{name}/status")
}

/// Reconcile `server` in the background; the scenario answers its requests.
fn start(
    h: &Harness,
    server: &McpServer,
) -> tokio::task::JoinHandle<kube::runtime::controller::Action> {
    let ctx = Arc::clone(&h.ctx);
    let server = Arc::new(server.clone());
    tokio::spawn(async move { reconcile(server, ctx).await.expect("reconcile") })
}

/// The status write of a reconcile of `server`: its body, answered with the object as the
/// API then has it.
async fn status_write(h: &mut Harness, server: &McpServer) -> Value {
    let name = server.metadata.name.as_deref().unwrap();
    let call = h
        .api
        .next()
        .await
        .expect(Method::PATCH, &status_path(name), STATUS_QUERY);
    assert!(
        call.query.contains("force=true"),
        "status is applied with force: {}",
        call.query
    );
    assert_eq!(call.body["apiVersion"], "llamagate.io/v1alpha1");
    assert_eq!(call.body["kind"], "McpServer");
    let body = call.body.clone();
    call.respond(
        200,
        serde_json::to_value(with_status(server, &body)).unwrap(),
    );
    body
}

/// How many tools the client itself lists at `url`.
async fn listed_tools(server: &McpServer, url: &str) -> usize {
    let description = describe(server, url, &SecretValues::new()).unwrap();
    let context = llamagate_mcp::Context::new(llamagate_mcp::McpMetrics::unregistered());
    let client = ServerClient::new(description, &context);
    let tools = client.list(ListKind::Tools, "").await.unwrap().0.len();
    client.stop(Duration::from_secs(1)).await;
    tools
}

async fn verified_over(transport: &str, url: &str) {
    let mut h = harness();
    let server = server("peer", json!({"transport": transport, "url": url}));
    let task = start(&h, &server);
    let body = status_write(&mut h, &server).await;
    for type_ in ["Reachable", "Verified", "Ready"] {
        assert_eq!(
            condition(&body, type_).0,
            "True",
            "{type_} over {transport}: {body}"
        );
    }
    let status = &body["status"];
    assert_eq!(status["url"], url);
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(status["consecutiveFailures"], 0);
    assert!(status["latencyMs"].as_i64().unwrap() >= 1);
    assert!(status["protocolVersion"].is_string());
    let events = h.api.events(1).await;
    assert!(
        events.iter().all(|(kind, _, _)| kind == "Normal"),
        "{events:?}"
    );
    h.api.finish(task).await;
    let tools = listed_tools(&server, url).await;
    assert_eq!(status["toolCount"], tools, "over {transport}");
    // The same server again, with the status it now has: nothing to write.
    let steady = with_status(&server, &body);
    let task = start(&h, &steady);
    h.api.finish(task).await;
    h.api.expect_silence(QUIET).await;
}

#[tokio::test]
async fn an_external_server_becomes_ready_with_its_counts_over_streamable_http() {
    let peer = peers::everything("streamableHttp");
    verified_over("streamable-http", &peer.url).await;
}

#[tokio::test]
async fn an_external_server_becomes_ready_over_legacy_sse() {
    let peer = peers::everything("sse");
    verified_over("sse", &peer.url).await;
}

#[tokio::test]
async fn an_external_server_becomes_ready_over_websocket() {
    let peer = peers::ws_peer();
    verified_over("websocket", &peer.url).await;
}

#[tokio::test]
async fn a_stateless_server_becomes_ready() {
    let peer = peers::mcp2_http();
    verified_over("streamable-http", &peer.url).await;
}

#[tokio::test]
async fn a_stopped_server_turns_not_ready_after_the_threshold_and_back_when_it_returns() {
    let mut h = harness();
    let mut peer = peers::mcp1_peer("streamable-http");
    let url = peer.url.clone();
    let spec = json!({"transport": "streamable-http", "url": url, "healthCheck": {"interval": "10s", "timeout": "2s", "failureThreshold": 2}});
    let mut server = server("flaky", spec);
    let task = start(&h, &server);
    server = with_status(&server, &status_write(&mut h, &server).await);
    h.api.events(1).await;
    h.api.finish(task).await;

    peer.kill();
    // First failure: Ready holds (hysteresis), Reachable turns False, no stale tool count.
    let task = start(&h, &server);
    let body = status_write(&mut h, &server).await;
    assert_eq!(condition(&body, "Ready").0, "True");
    assert_eq!(
        condition(&body, "Reachable"),
        ("False".to_owned(), "Unreachable".to_owned())
    );
    assert!(body["status"]["toolCount"].is_null(), "{body}");
    assert_eq!(body["status"]["consecutiveFailures"], 1);
    let events = h.api.events(1).await;
    assert_eq!(
        (events[0].0.as_str(), events[0].1.as_str()),
        ("Warning", "Unreachable")
    );
    assert!(events[0].2.contains("Reachable is False"), "{events:?}");
    assert!(events[0].2.contains("Verified is False"), "{events:?}");
    h.api.finish(task).await;
    server = with_status(&server, &body);

    // Second failure: the threshold; Ready turns False with a Warning Event.
    let task = start(&h, &server);
    let body = status_write(&mut h, &server).await;
    assert_eq!(
        condition(&body, "Ready"),
        ("False".to_owned(), "Unreachable".to_owned())
    );
    let events = h.api.events(1).await;
    assert_eq!(events[0].0, "Warning");
    assert!(events[0].2.starts_with("Ready is False"), "{events:?}");
    h.api.finish(task).await;
    server = with_status(&server, &body);

    // Still down: nothing changes, nothing is written.
    let task = start(&h, &server);
    h.api.finish(task).await;
    h.api.expect_silence(QUIET).await;

    // Back on the same port: Ready again, with its tools.
    let port: u16 = url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();
    let _back = peers::mcp1_peer_on_port("streamable-http", port);
    let task = start(&h, &server);
    let body = status_write(&mut h, &server).await;
    assert_eq!(
        condition(&body, "Ready"),
        ("True".to_owned(), "Verified".to_owned())
    );
    assert!(body["status"]["toolCount"].as_i64().unwrap() > 0);
    h.api.events(1).await;
    h.api.finish(task).await;
}

#[tokio::test]
async fn a_tool_added_at_run_time_shows_at_the_next_probe() {
    let mut h = harness();
    let peer = peers::mcp1_peer("streamable-http");
    let mut server = server(
        "growing",
        json!({"transport": "streamable-http", "url": peer.url}),
    );
    let task = start(&h, &server);
    let body = status_write(&mut h, &server).await;
    h.api.events(1).await;
    h.api.finish(task).await;
    let before = body["status"]["toolCount"].as_i64().unwrap();
    server = with_status(&server, &body);

    let description = describe(&server, &peer.url, &SecretValues::new()).unwrap();
    let context = llamagate_mcp::Context::new(llamagate_mcp::McpMetrics::unregistered());
    let client = ServerClient::new(description, &context);
    let mut call = llamagate_mcp::server::operations::ToolCall {
        name: "add_tool".to_owned(),
        ..Default::default()
    };
    call.arguments
        .insert("name".to_owned(), json!("added_later"));
    client.call_tool(call).await.unwrap();
    client.stop(Duration::from_secs(1)).await;

    let task = start(&h, &server);
    let body = status_write(&mut h, &server).await;
    assert_eq!(body["status"]["toolCount"].as_i64().unwrap(), before + 1);
    h.api.finish(task).await;
    h.api.expect_silence(QUIET).await;
}

#[tokio::test]
async fn a_missing_secret_is_a_condition_that_clears_when_the_secret_appears() {
    let mut h = harness();
    let headers = r#"{"authorization": "Bearer s3cr3t-token"}"#;
    let peer = peers::mcp1_peer_with_env("streamable-http", &[("PEER_REQUIRE_HEADERS", headers)]);
    let spec = json!({"transport": "streamable-http", "url": peer.url,
        "auth": {"bearerToken": {"secretKeyRef": {"name": "creds", "key": "token"}}}});
    let mut server = server("guarded", spec);
    let secret_path = "/api/v1/namespaces/default/secrets/creds";

    let task = start(&h, &server);
    h.api
        .next()
        .await
        .expect(Method::GET, secret_path, "")
        .not_found();
    let body = status_write(&mut h, &server).await;
    assert_eq!(
        condition(&body, "Ready"),
        ("False".to_owned(), "SecretNotFound".to_owned())
    );
    let events = h.api.events(1).await;
    assert!(
        events
            .iter()
            .any(|e| e.1 == "SecretNotFound" && e.0 == "Warning"),
        "{events:?}"
    );
    h.api.finish(task).await;
    server = with_status(&server, &body);

    // The Secret is created: the next reconcile reads it and the probe passes.
    let task = start(&h, &server);
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"},
        "data": {"token": "czNjcjN0LXRva2Vu"}});
    h.api
        .next()
        .await
        .expect(Method::GET, secret_path, "")
        .respond(200, secret);
    let body = status_write(&mut h, &server).await;
    assert_eq!(
        condition(&body, "Ready"),
        ("True".to_owned(), "Verified".to_owned())
    );
    h.api.events(1).await;
    h.api.finish(task).await;
    assert!(
        !body.to_string().contains("s3cr3t"),
        "no secret in status: {body}"
    );
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized_and_never_shown() {
    let mut h = harness();
    let headers = r#"{"authorization": "Bearer right"}"#;
    let peer = peers::mcp1_peer_with_env("streamable-http", &[("PEER_REQUIRE_HEADERS", headers)]);
    let spec = json!({"transport": "streamable-http", "url": peer.url,
        "auth": {"bearerToken": {"value": "wrong-token-value"}}});
    let server = server("refused", spec);
    let task = start(&h, &server);
    let body = status_write(&mut h, &server).await;
    assert_eq!(
        condition(&body, "Ready"),
        ("False".to_owned(), "Unauthorized".to_owned())
    );
    let events = h.api.events(1).await;
    h.api.finish(task).await;
    let everything = format!("{body}{events:?}");
    assert!(!everything.contains("wrong-token-value"), "{everything}");
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_not_probed() {
    let mut h = harness();
    let spec = json!({"transport": "streamable-http", "url": "http://127.0.0.1:1/mcp",
        "healthCheck": {"interval": "5s", "timeout": "10s"}});
    let server = server("bad", spec);
    let task = start(&h, &server);
    let body = status_write(&mut h, &server).await;
    let (status, reason) = condition(&body, "Ready");
    assert_eq!((status.as_str(), reason.as_str()), ("False", "InvalidSpec"));
    assert!(
        body.to_string().contains("spec.healthCheck.timeout"),
        "{body}"
    );
    h.api.events(1).await;
    h.api.finish(task).await;
}
