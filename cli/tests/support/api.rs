//! A gateway with API keys of every scope in front of one real MCP server, and a helper
//! to send requests through the whole router.
#![allow(dead_code)]

use axum::{
    body::Body,
    http::{Method, Request},
};
use llamagate_gateway::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::Value;
use tower::ServiceExt;

pub const ADMIN: &str = "admin-key-0123456789";
pub const READER: &str = "reader-key-0123456789";
pub const CALLER: &str = "caller-key-0123456789";
pub const CHAT_ONLY: &str = "chat-key-0123456789ab";

pub async fn gateway(peer_url: &str, extra: &str) -> AppState {
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
    state.apply_file_servers();
    crate::support::wait_healthy(&state, "peer").await;
    state
}

pub async fn send_text(
    state: &AppState,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
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
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// [`send_text`], the answer parsed as JSON (`null` when it is not).
pub async fn send(
    state: &AppState,
    method: Method,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let (status, text) = send_text(state, method, path, key, body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
