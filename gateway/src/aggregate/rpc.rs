//! JSON-RPC framing of `/mcp`: the one error type of the endpoint and how it, and results,
//! become HTTP responses. Protocol errors are JSON-RPC errors (HTTP 200); transport-level
//! problems (no session, a refused origin) are HTTP errors with a JSON-RPC body.

use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use llamagate_mcp::McpError;
use serde_json::{Value, json};

/// JSON-RPC error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// An error of one `/mcp` request.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// HTTP status: 200 for protocol errors.
    pub status: StatusCode,
    /// JSON-RPC code.
    pub code: i64,
    /// What went wrong and what to do, naming the field or server.
    pub message: String,
    /// Extra detail (`server`, a stable `reason`).
    pub data: Option<Value>,
}

impl RpcError {
    /// A protocol error (HTTP 200).
    pub fn protocol(code: i64, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::OK,
            code,
            message: message.into(),
            data: None,
        }
    }

    /// An error at the HTTP level.
    pub fn http(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            data: None,
        }
    }

    /// `params` is wrong: names the field.
    pub fn params(message: impl Into<String>) -> Self {
        Self::protocol(INVALID_PARAMS, message)
    }

    /// With `error.data`.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The response for the request `id`.
    pub fn into_response_for(self, id: Option<&Value>) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(data) = self.data {
            error["data"] = data;
        }
        let body =
            json!({"jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": error});
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<McpError> for RpcError {
    fn from(error: McpError) -> Self {
        let server = match &error {
            McpError::UnknownServer(server) => server.clone(),
            McpError::Unavailable { server, .. }
            | McpError::PoolExhausted { server, .. }
            | McpError::Incompatible { server, .. }
            | McpError::Connect { server, .. }
            | McpError::Timeout { server, .. }
            | McpError::Transport { server, .. }
            | McpError::Server { server, .. }
            | McpError::TooLarge { server, .. }
            | McpError::Protocol { server, .. } => server.clone(),
        };
        let code = match &error {
            // The server's own answer keeps its code (unknown tool, bad arguments, ...).
            McpError::Server { code, .. } => i64::from(*code),
            _ => INTERNAL_ERROR,
        };
        Self::protocol(code, error.to_string())
            .with_data(json!({"server": server, "reason": error.code()}))
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_rejection_keeps_its_code_and_names_the_server() {
        let error = RpcError::from(McpError::Server {
            server: "fs".into(),
            method: "tools/call".into(),
            code: -32602,
            message: "Unknown tool: nope".into(),
        });
        assert_eq!(error.code, -32602);
        assert!(error.message.contains("`fs`") && error.message.contains("Unknown tool"));
        assert_eq!(error.data.unwrap()["server"], "fs");
        let timeout = RpcError::from(McpError::UnknownServer("x".into()));
        assert_eq!(timeout.code, INTERNAL_ERROR);
    }
}
