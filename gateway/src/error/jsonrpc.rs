//! The JSON-RPC rendering of the one classification (`/mcp`): each [`ApiError`] becomes a
//! JSON-RPC error object with a code and `data.reason` (the REST body's `code`), and an HTTP
//! status. Failures of a method are protocol errors (HTTP 200); failures before any method
//! runs (credentials, body size, media type, rate) keep their HTTP status. An MCP server's
//! own refusal keeps its code and names the server. docs/mcp-endpoint.md lists the codes.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use llamagate_mcp::McpError;
use serde_json::{Value, json};

use super::ApiError;

/// JSON-RPC's own codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// The request timed out (the code the official MCP SDKs use for it).
pub const REQUEST_TIMEOUT: i64 = -32001;
/// The caller may not do this (`data.reason`: `insufficient_scope`): the gateway's own
/// code, so a denial is never mistaken for a missing tool or a failed server.
pub const FORBIDDEN: i64 = -32003;

/// A JSON-RPC error of one `/mcp` request, with the HTTP status it travels with.
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

/// The JSON-RPC code and HTTP status of each kind of failure.
fn rendering(error: &ApiError) -> (StatusCode, i64) {
    match error {
        ApiError::BadRequest { .. } | ApiError::NotFound { .. } => (StatusCode::OK, INVALID_PARAMS),
        ApiError::Forbidden(_) => (StatusCode::OK, FORBIDDEN),
        ApiError::Timeout { .. } => (StatusCode::OK, REQUEST_TIMEOUT),
        ApiError::LimitReached { .. } => (StatusCode::OK, INVALID_REQUEST),
        ApiError::BadGateway { .. }
        | ApiError::Upstream { .. }
        | ApiError::Unavailable { .. }
        | ApiError::Internal(_) => (StatusCode::OK, INTERNAL_ERROR),
        // Refused before any method ran: the HTTP status says why.
        ApiError::Unauthorized(_)
        | ApiError::MethodNotAllowed(_)
        | ApiError::PayloadTooLarge(_)
        | ApiError::UnsupportedMediaType(_)
        | ApiError::RateLimited { .. } => (error.status(), INVALID_REQUEST),
    }
}

impl From<ApiError> for RpcError {
    fn from(error: ApiError) -> Self {
        let (status, code) = rendering(&error);
        let message = match &error {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                super::INTERNAL_MESSAGE.to_owned()
            }
            other => other.to_string(),
        };
        Self::http(status, code, message).with_data(json!({"reason": error.code()}))
    }
}

impl From<McpError> for RpcError {
    fn from(error: McpError) -> Self {
        let server = error.server().to_owned();
        let reason = error.code();
        // The server's own answer keeps its code (unknown tool, bad arguments, ...).
        let own_code = match &error {
            McpError::Server { code, .. } => Some(i64::from(*code)),
            _ => None,
        };
        let mut rendered = Self::from(ApiError::from(error));
        if let Some(code) = own_code {
            rendered.code = code;
        }
        rendered.with_data(json!({"server": server, "reason": reason}))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        let data = error.data.unwrap();
        assert_eq!(data["server"], "fs");
        assert_eq!(data["reason"], "server_error");
    }

    #[test]
    fn each_kind_has_one_code_in_every_protocol() {
        let timeout = McpError::Timeout {
            server: "slow".into(),
            method: "tools/call".into(),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            ApiError::from(timeout.clone()).status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        let rendered = RpcError::from(timeout);
        assert_eq!(
            (rendered.status, rendered.code),
            (StatusCode::OK, REQUEST_TIMEOUT)
        );
        assert_eq!(rendered.data.unwrap()["reason"], "timeout");

        let denied = RpcError::from(ApiError::Forbidden(
            "this API key lacks the `mcp:call` scope".into(),
        ));
        assert_eq!((denied.status, denied.code), (StatusCode::OK, FORBIDDEN));
        assert_eq!(denied.data.unwrap()["reason"], "insufficient_scope");

        let unknown = RpcError::from(McpError::UnknownServer("x".into()));
        assert_eq!(unknown.code, INVALID_PARAMS);
        assert_eq!(unknown.data.unwrap()["reason"], "unknown_server");

        let unavailable = RpcError::from(ApiError::Unavailable {
            code: "server_unavailable",
            message: "down".into(),
        });
        assert_eq!(unavailable.code, INTERNAL_ERROR);

        let limited = RpcError::from(ApiError::RateLimited {
            message: "slow down".into(),
            retry_after_secs: 1,
        });
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn internal_details_stay_in_the_log() {
        let rendered = RpcError::from(ApiError::Internal("db password is hunter2".into()));
        assert!(!rendered.message.contains("hunter2"));
        assert_eq!(rendered.code, INTERNAL_ERROR);
    }
}
