//! JSON-RPC framing of `/mcp` results. Errors are the gateway's one classification rendered
//! as JSON-RPC (`crate::error::jsonrpc`): protocol errors are JSON-RPC errors (HTTP 200);
//! transport-level problems (no session, a refused origin) are HTTP errors with a JSON-RPC
//! body.

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

pub use crate::error::jsonrpc::{
    INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR, RpcError,
};

/// A successful result for the request `id`: one SSE event when the client accepts
/// `text/event-stream` (as the SDKs' servers answer, and the suite's multiple-streams check
/// expects), JSON otherwise.
pub fn result(id: &Value, result: Value, request: &HeaderMap, extra: HeaderMap) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": id, "result": result});
    let accept = request
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut response = if accept.contains("text/event-stream") {
        let event = format!("event: message\ndata: {body}\n\n");
        let mut response = event.into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    } else {
        axum::Json(body).into_response()
    };
    response.headers_mut().extend(extra);
    response
}
