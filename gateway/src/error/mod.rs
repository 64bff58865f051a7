//! The one classification of every failure the gateway reports: what kind it is, the
//! stable `code` that names it, and its message (naming the field, server or limit, and the
//! fix). Each protocol renders it in one place: `rest.rs` as the REST body
//! `{"error": {"message", "type", "code"}}` with the status DESIGN section 5 gives each kind
//! (the same JSON is the chat stream's SSE error event), `jsonrpc.rs` as a JSON-RPC error of
//! `/mcp`. An MCP client failure (`McpError`) is classified here once for both.

pub mod jsonrpc;
mod rest;

use axum::http::StatusCode;

pub use jsonrpc::RpcError;

/// What a client is told of an internal error (the detail goes to the log).
const INTERNAL_MESSAGE: &str = "internal error; see the gateway log for the request id";

/// Every failure the gateway reports, whatever the protocol.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed; `code` names the problem (e.g. `invalid_json`).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no credentials, or unknown ones.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the key lacks the scope.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown route, server, tool, resource or prompt.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 405: the route exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 413: the body is larger than `server.max_body_bytes`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: a body that is not sent as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: a tool-loop limit was reached.
    #[error("{message}")]
    LimitReached { code: &'static str, message: String },
    /// 429: a rate limit; the client may retry after the given seconds.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// 502: the upstream LLM or an MCP server failed.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// The upstream LLM answered with an error: its status and message, passed on.
    #[error("upstream: {message}")]
    Upstream { status: u16, message: String },
    /// 503: the MCP server is unhealthy or stopped, or the gateway is shutting down.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// 504: the upstream or an MCP server did not answer in time.
    #[error("{message}")]
    Timeout { code: &'static str, message: String },
    /// 500: a bug; the message is logged, the client gets a generic one.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// Shorthand for a 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// Shorthand for a 404 with a code.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::LimitReached { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Upstream { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `type` field: the OpenAI-style error class.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. }
            | ApiError::PayloadTooLarge(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::MethodNotAllowed(_) => "invalid_request_error",
            ApiError::Unauthorized(_) => "authentication_error",
            ApiError::Forbidden(_) => "permission_error",
            ApiError::NotFound { .. } => "not_found_error",
            ApiError::LimitReached { .. } => "tool_limit_error",
            ApiError::RateLimited { .. } => "rate_limit_error",
            ApiError::BadGateway { .. } | ApiError::Upstream { .. } => "upstream_error",
            ApiError::Unavailable { .. } => "unavailable_error",
            ApiError::Timeout { .. } => "timeout_error",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The `code` field: a stable machine-readable name of the problem.
    pub fn code(&self) -> &str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::NotFound { code, .. }
            | ApiError::LimitReached { code, .. }
            | ApiError::BadGateway { code, .. }
            | ApiError::Unavailable { code, .. }
            | ApiError::Timeout { code, .. } => code,
            ApiError::Unauthorized(_) => "invalid_api_key",
            ApiError::Upstream { .. } => "upstream_status",
            ApiError::Forbidden(_) => "insufficient_scope",
            ApiError::PayloadTooLarge(_) => "body_too_large",
            ApiError::UnsupportedMediaType(_) => "invalid_content_type",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal_error",
        }
    }
}

impl From<llamagate_mcp::McpError> for ApiError {
    fn from(error: llamagate_mcp::McpError) -> Self {
        use llamagate_mcp::McpError as E;
        let code = error.code();
        let message = error.to_string();
        match error {
            E::UnknownServer(_) => ApiError::NotFound { code, message },
            E::Unavailable { .. } | E::PoolExhausted { .. } => {
                ApiError::Unavailable { code, message }
            }
            E::Timeout { .. } => ApiError::Timeout { code, message },
            // The server judged the request itself wrong (bad params, unknown method).
            E::Server {
                code: -32602 | -32601,
                ..
            } => ApiError::BadRequest {
                code: "mcp_invalid_request",
                message,
            },
            E::Connect { .. }
            | E::Incompatible { .. }
            | E::Transport { .. }
            | E::Server { .. }
            | E::TooLarge { .. }
            | E::Protocol { .. } => ApiError::BadGateway { code, message },
        }
    }
}
