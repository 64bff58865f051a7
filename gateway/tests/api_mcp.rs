//! The management API as a client uses it, against a real MCP server (the mcp 1.30 peer over
//! WebSocket): every route with allowed and denied scopes, and a table of bad inputs.

mod support;

use std::time::Duration;

use axum::{
    body::Body,
    http::{Method, Request},
};
use llamagate::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

const ADMIN: &str = "admin-key-0123456789";
const READER: &str = "reader-key-0123456789";
const CALLER: &str = "caller-key-0123456789";
const CHAT_ONLY: &str = "chat-key-0123456789ab";

async fn gateway(peer_url: &str, extra: &str) -> AppState {
    let yaml = format!(
        r#"
server: {{ max_body_bytes: 64KiB }}
auth:
  keys:
    - {{ name: admin, key: {ADMIN}, scopes: [admin, "mcp:read", "mcp:call"] }}
    - {{ name: reader, key: {READER}, scopes: ["mcp:read"] }}
    - {{ name: caller, key: {CALLER}, scopes: ["mcp:call", "mcp:read"], servers: [peer] }}
    - {{ name: chat, key: {CHAT_ONLY}, scopes: [chat] }}
mcp:
  tools: {{ deny: ["fail"] }}
  servers:
    - {{ name: peer, transport: websocket, url: "{peer_url}" }}
    - {{ name: hidden, transport: websocket, url: "{peer_url}" }}
{extra}
"#
    );
    let config = load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    let state = AppState::new(config.clone(), Metrics::new());
    state
        .registry()
        .apply(&config.mcp, Duration::from_secs(1))
        .await;
    let peer = state.registry().get("peer").unwrap();
    for _ in 0..100 {
        if peer.health().state == llamagate::mcp::health::HealthState::Healthy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    state
}

async fn send(
    state: &AppState,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request
        .body(
            body.map(|b| Body::from(b.to_owned()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn routes_work_for_the_right_scopes() {
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;

    let (status, body) = send(&state, Method::GET, "/v1/mcp/servers", Some(READER), None).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hidden", "peer"]);
    let (_, body) = send(&state, Method::GET, "/v1/mcp/servers", Some(CALLER), None).await;
    assert_eq!(
        body["data"].as_array().unwrap().len(),
        1,
        "a key limited to `peer` sees only it"
    );

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["state"], "healthy");
    assert_eq!(body["session"]["protocol_version"], "2025-11-25");

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/health?probe=true",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["probe"]["ok"]),
        (200, &json!(true)),
        "{body}"
    );

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/tools",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let fail = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "fail")
        .unwrap();
    assert_eq!(fail["allowed"], false, "the global deny list marks it");

    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/servers/peer/tools/add",
        Some(CALLER),
        Some(r#"{"a": 1, "b": 2}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["result"], 3);
    assert_eq!(body["is_error"], false);
    assert!(body["duration_ms"].is_u64());

    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/execute",
        Some(CALLER),
        Some(r#"{"server": "peer", "tool": "echo", "arguments": {"message": "hi"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["server"].as_str(), body["tool"].as_str()),
        (Some("peer"), Some("echo"))
    );
    assert_eq!(body["result"]["content"][0]["text"], "hi");

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/resources",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["uri"] == "test://text")
    );
    assert!(
        body["templates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["uriTemplate"] == "test://items/{item_id}")
    );
    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/resources/test%3A%2F%2Ftext",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["contents"][0]["text"]),
        (200, &json!("hello from a text resource")),
        "{body}"
    );
    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/resources?uri=test%3A%2F%2Fbinary",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["contents"][0]["blob"]),
        (200, &json!("AAECAwQFBgcICQoLDA0ODw==")),
        "{body}"
    );

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/prompts",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "greet")
    );
    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/servers/peer/prompts/greet",
        Some(READER),
        Some(r#"{"name": "Ada"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("Ada")
    );

    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/servers/peer/restart",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!((status, &body["state"]), (200, &json!("healthy")), "{body}");
    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/servers/hidden/stop",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!((status, &body["state"]), (200, &json!("stopped")), "{body}");
    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/execute",
        Some(ADMIN),
        Some(r#"{"server": "hidden", "tool": "echo", "arguments": {"message": "x"}}"#),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("server_unavailable")),
        "{body}"
    );
}

/// method, path, key, body, expected status, expected error code
type Case<'a> = (
    Method,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    u16,
    &'a str,
);

#[tokio::test]
async fn wrong_scopes_and_keys_are_refused() {
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;
    let cases: &[Case] = &[
        (
            Method::GET,
            "/v1/mcp/servers",
            None,
            None,
            401,
            "invalid_api_key",
        ),
        (
            Method::GET,
            "/v1/mcp/servers",
            Some("wrong-key-0123456789"),
            None,
            401,
            "invalid_api_key",
        ),
        (
            Method::GET,
            "/v1/mcp/servers",
            Some(CHAT_ONLY),
            None,
            403,
            "insufficient_scope",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/tools/echo",
            Some(READER),
            Some("{}"),
            403,
            "insufficient_scope",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/restart",
            Some(CALLER),
            None,
            403,
            "insufficient_scope",
        ),
        (
            Method::POST,
            "/v1/admin/reload",
            Some(READER),
            None,
            403,
            "insufficient_scope",
        ),
        (
            Method::GET,
            "/v1/mcp/servers/hidden",
            Some(CALLER),
            None,
            404,
            "unknown_server",
        ),
    ];
    for (method, path, key, body, status, code) in cases {
        let (got, answer) = send(&state, method.clone(), path, *key, *body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (*status, Some(*code)),
            "{method} {path}: {answer}"
        );
    }
    // The key in the wrong header is not a key.
    let request = Request::get("/v1/mcp/servers")
        .header("x-auth", READER)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        401
    );
    let request = Request::get("/v1/mcp/servers")
        .header("x-api-key", READER)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        200,
        "X-API-Key works"
    );
    // Open endpoints stay open.
    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn bad_inputs_get_clear_errors() {
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;
    let big = format!("{{\"a\": \"{}\"}}", "x".repeat(100 * 1024));
    let cases: Vec<(Method, &str, Option<&str>, u16, &str)> = vec![
        (
            Method::POST,
            "/v1/mcp/execute",
            Some("{not json"),
            400,
            "invalid_json",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": 1, "tool": "echo"}"#),
            400,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": "peer"}"#),
            400,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": "nope", "tool": "echo"}"#),
            404,
            "unknown_server",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": "peer", "tool": "nope"}"#),
            404,
            "unknown_tool",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": "peer", "tool": "fail"}"#),
            403,
            "insufficient_scope",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/tools/echo",
            Some("[1, 2]"),
            400,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/tools/echo",
            Some(&big),
            413,
            "body_too_large",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/prompts/nope",
            Some("{}"),
            404,
            "unknown_prompt",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/prompts/greet",
            Some(r#"{"name": 5}"#),
            400,
            "invalid_arguments",
        ),
        (
            Method::GET,
            "/v1/mcp/servers/peer/resources/%FF%FE",
            None,
            400,
            "invalid_path",
        ),
        (
            Method::GET,
            "/v1/mcp/servers/peer/health?probe=maybe",
            None,
            400,
            "invalid_query",
        ),
        (
            Method::DELETE,
            "/v1/mcp/servers/peer",
            None,
            405,
            "method_not_allowed",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = send(&state, method.clone(), path, Some(ADMIN), body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn reload_with_a_broken_file_changes_nothing() {
    let peer = ws_peer();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llamagate.yaml");
    let good = format!(
        "auth: {{ keys: [ {{ key: {ADMIN}, scopes: [admin, \"mcp:read\"] }} ] }}\nmcp:\n  servers:\n    - {{ name: peer, transport: websocket, url: \"{}\" }}\n",
        peer.url
    );
    std::fs::write(&path, &good).unwrap();
    let config = llamagate::config::load(&path).unwrap();
    let state = AppState::new(config.clone(), Metrics::new());
    state.set_config_path(Some(path.clone()));
    state
        .registry()
        .apply(&config.mcp, Duration::from_secs(1))
        .await;
    let before = state.registry().get("peer").unwrap();

    std::fs::write(
        &path,
        "mcp:\n  servers:\n    - { name: peer, transport: stdio }\n",
    )
    .unwrap();
    let (status, body) = send(&state, Method::POST, "/v1/admin/reload", Some(ADMIN), None).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mcp.servers[0].command"),
        "{body}"
    );
    assert!(
        std::sync::Arc::ptr_eq(&before, &state.registry().get("peer").unwrap()),
        "nothing changed"
    );

    let added = format!(
        "{good}    - {{ name: second, transport: websocket, url: \"{}\" }}\n",
        peer.url
    );
    std::fs::write(&path, added).unwrap();
    let (status, body) = send(&state, Method::POST, "/v1/admin/reload", Some(ADMIN), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["servers"]["added"], json!(["second"]));
    assert_eq!(body["servers"]["unchanged"], json!(["peer"]));
    assert!(
        std::sync::Arc::ptr_eq(&before, &state.registry().get("peer").unwrap()),
        "unchanged servers keep their sessions"
    );
}
