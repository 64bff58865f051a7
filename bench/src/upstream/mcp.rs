//! A fast MCP server over Streamable HTTP, in both protocol eras on one endpoint (`/mcp`):
//! 2026-07-28 stateless requests (`server/discover`, `subscriptions/listen`) and 2025-11-25
//! sessions (`initialize`, `Mcp-Session-Id`). It has one tool, `echo(message)`. With
//! `legacy_only` it answers `server/discover` as a 2025-era server does (method not found),
//! so that clients fall back to the handshake.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};

use super::{Body, json, status};

const STATELESS: &str = "2026-07-28";
const LEGACY: &str = "2025-11-25";

/// Serve the MCP upstream on 127.0.0.1:`port` until the process ends.
pub async fn run(port: u16, legacy_only: bool) -> anyhow::Result<()> {
    let sessions = Arc::new(AtomicU64::new(0));
    super::serve(port, move |request| {
        let sessions = sessions.clone();
        async move { answer(request, legacy_only, &sessions) }
    })
    .await
}

fn answer(request: Request<Bytes>, legacy_only: bool, sessions: &AtomicU64) -> Response<Body> {
    if request.uri().path() != "/mcp" {
        return status(StatusCode::NOT_FOUND);
    }
    match *request.method() {
        Method::POST => {}
        Method::DELETE => return status(StatusCode::OK),
        _ => return status(StatusCode::METHOD_NOT_ALLOWED),
    }
    let Ok(message) = serde_json::from_slice::<Value>(request.body()) else {
        return json(&error(Value::Null, -32700, "parse error"));
    };
    let Some(id) = message.get("id").cloned() else {
        return status(StatusCode::ACCEPTED); // a notification
    };
    let method = message["method"].as_str().unwrap_or_default();
    let params = &message["params"];
    let stateless = !request.headers().contains_key("mcp-session-id")
        && request
            .headers()
            .get("mcp-protocol-version")
            .is_some_and(|v| v == STATELESS);
    let result = match method {
        "initialize" => return initialize(id, params, sessions),
        "server/discover" if legacy_only => {
            return json(&error(id, -32601, "method not found"));
        }
        "server/discover" => json!({
            "supportedVersions": [STATELESS],
            "capabilities": { "tools": { "listChanged": true } },
            "resultType": "complete", "ttlMs": 0, "cacheScope": "public",
            "_meta": { "io.modelcontextprotocol/serverInfo": server_info() },
        }),
        "subscriptions/listen" => return listen(id, params),
        "ping" => json!({}),
        "tools/list" => json!({ "tools": [echo_tool()] }),
        "tools/call" if params["name"] == "echo" => {
            let text = params["arguments"]["message"].as_str().unwrap_or_default();
            json!({ "content": [{ "type": "text", "text": text }], "isError": false })
        }
        "tools/call" => return json(&error(id, -32602, "unknown tool")),
        _ => return json(&error(id, -32601, "method not found")),
    };
    let mut result = result;
    if stateless {
        result["resultType"] = json!("complete");
    }
    json(&json!({ "jsonrpc": "2.0", "id": id, "result": result }))
}

fn initialize(id: Value, params: &Value, sessions: &AtomicU64) -> Response<Body> {
    // A 2025-era server answers a version it does not know with its own.
    let version = match params["protocolVersion"].as_str() {
        Some(v @ ("2025-06-18" | "2025-03-26" | "2024-11-05")) => v,
        _ => LEGACY,
    };
    let mut response = json(&json!({ "jsonrpc": "2.0", "id": id, "result": {
        "protocolVersion": version,
        "capabilities": { "tools": { "listChanged": true } },
        "serverInfo": server_info(),
    }}));
    let session = format!("bench-{}", sessions.fetch_add(1, Ordering::Relaxed));
    if let Ok(value) = header::HeaderValue::from_str(&session) {
        response.headers_mut().insert("mcp-session-id", value);
    }
    response
}

/// `subscriptions/listen`: the acknowledgement, then a stream held open until the client goes.
fn listen(id: Value, params: &Value) -> Response<Body> {
    let ack = json!({ "jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
        "params": { "_meta": { "io.modelcontextprotocol/subscriptionId": id },
                    "notifications": params["notifications"].clone() } });
    let event = Bytes::from(format!("event: message\ndata: {ack}\n\n"));
    let stream = futures::stream::once(async move { Ok::<_, Infallible>(Frame::data(event)) })
        .chain(futures::stream::pending());
    let mut response = Response::new(BodyExt::boxed(StreamBody::new(stream)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    response
}

fn echo_tool() -> Value {
    json!({
        "name": "echo",
        "description": "Echo the message back.",
        "inputSchema": { "type": "object", "properties": { "message": { "type": "string" } }, "required": ["message"] },
    })
}

fn server_info() -> Value {
    json!({ "name": "llamagate-bench-upstream", "version": env!("CARGO_PKG_VERSION") })
}

fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}
