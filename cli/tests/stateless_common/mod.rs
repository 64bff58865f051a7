//! What the stateless-era `/mcp` tests share: a gateway in front of the mcp 2.3 peer, requests
//! with the headers a 2026-07-28 client sends, and the events of a streaming answer.
#![allow(dead_code)]

use std::time::Duration;

use super::support::api::{ADMIN, CALLER};
use axum::{
    body::Body,
    http::{Request, Response},
};
use futures::StreamExt;
use llamagate_gateway::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const VERSION: &str = "2026-07-28";

pub async fn gateway(forms: &str) -> AppState {
    let yaml = format!(
        r#"
auth:
  keys:
    - {{ name: admin, key: {ADMIN}, scopes: [admin, "mcp:read", "mcp:call"] }}
    - {{ name: caller, key: {CALLER}, scopes: ["mcp:call", "mcp:read"], servers: [forms] }}
mcp:
  endpoint:
    virtual_servers:
      - name: confirmations
        servers: [forms]
        tools: {{ allow: ["forms__confirm", "forms__echo"], deny: ["forms__echo"] }}
        description: Ask before acting.
  servers:
    - {{ name: forms, transport: streamable-http, url: "{forms}" }}
"#
    );
    let config = load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    let state = AppState::new(config, Metrics::new());
    state.apply_file_servers();
    super::support::wait_healthy(&state, "forms").await;
    state
}

pub fn meta(capabilities: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    })
}

/// A stateless request to `/mcp` with the headers a client sends; `name` is `Mcp-Name`.
pub fn request(key: &str, method: &str, name: Option<&str>, params: Value) -> Request<Body> {
    request_at("/mcp", key, method, name, params)
}

pub fn request_at(
    path: &str,
    key: &str,
    method: &str,
    name: Option<&str>,
    mut params: Value,
) -> Request<Body> {
    if params.get("_meta").is_none() {
        params["_meta"] = meta(json!({}));
    }
    let mut request = Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", VERSION)
        .header("mcp-method", method);
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    request.body(Body::from(body.to_string())).unwrap()
}

pub async fn send(state: &AppState, request: Request<Body>) -> (u16, Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let json = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text);
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

pub async fn call(state: &AppState, key: &str, tool: &str, params: Value) -> (u16, Value) {
    let mut params = params;
    params["name"] = json!(tool);
    send(state, request(key, "tools/call", Some(tool), params)).await
}

pub struct Events(axum::body::BodyDataStream, String);

impl Events {
    pub fn of(response: Response<Body>) -> Self {
        assert_eq!(response.status(), 200);
        Self(response.into_body().into_data_stream(), String::new())
    }

    pub async fn next(&mut self, within: Duration) -> Option<Value> {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.1.find("\n\n") {
                    let event: String = self.1.drain(..end + 2).collect();
                    if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                        return serde_json::from_str(data).ok();
                    }
                    continue;
                }
                let chunk = self.0.next().await?.ok()?;
                self.1.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .ok()
        .flatten()
    }
}

pub async fn open(state: &AppState, request: Request<Body>) -> Events {
    Events::of(app(state.clone()).oneshot(request).await.unwrap())
}
