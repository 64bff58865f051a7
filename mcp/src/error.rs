//! Failures of the MCP client, each saying which server, what was attempted, and what to do.

use std::time::Duration;

use crate::health::HealthState;

/// Every way an MCP operation can fail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum McpError {
    /// No server of that name (or the caller may not see it).
    #[error("no MCP server named `{0}`")]
    UnknownServer(String),
    /// The server is stopped, unhealthy or (re)starting: calls fail fast instead of waiting.
    #[error("MCP server `{server}` is {state}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Unavailable {
        server: String,
        state: HealthState,
        detail: Option<String>,
    },
    /// Every session is busy and none freed up within the acquire timeout.
    #[error(
        "MCP server `{server}`: all {capacity} call slots stayed busy for {waited:?}; retry later or raise connection_pool_size"
    )]
    PoolExhausted {
        server: String,
        capacity: usize,
        waited: Duration,
    },
    /// The server answered, but speaks none of the protocol versions this client does.
    #[error(
        "MCP server `{server}` speaks none of the protocol versions this client does (it supports: {}); set `protocol` to match it or upgrade the server",
        if supported.is_empty() { "none named".to_owned() } else { supported.join(", ") }
    )]
    Incompatible {
        server: String,
        supported: Vec<String>,
    },
    /// Connecting or the handshake failed.
    #[error("cannot connect to MCP server `{server}`: {detail}")]
    Connect { server: String, detail: String },
    /// The server did not answer in time (a `notifications/cancelled` was sent).
    #[error("MCP server `{server}` did not answer `{method}` within {timeout:?}")]
    Timeout {
        server: String,
        method: String,
        timeout: Duration,
    },
    /// The session broke while the request was in flight.
    #[error("MCP server `{server}` closed the session during `{method}`: {detail}")]
    Transport {
        server: String,
        method: String,
        detail: String,
    },
    /// The server answered with a JSON-RPC error.
    #[error("MCP server `{server}` rejected `{method}` ({code}): {message}")]
    Server {
        server: String,
        method: String,
        code: i32,
        message: String,
    },
    /// The result was larger than `max_tool_result_bytes`.
    #[error(
        "the result of `{method}` from MCP server `{server}` is larger than the limit of {limit} bytes"
    )]
    TooLarge {
        server: String,
        method: String,
        limit: u64,
    },
    /// The server answered something the protocol does not allow here.
    #[error("MCP server `{server}` answered `{method}` unexpectedly: {detail}")]
    Protocol {
        server: String,
        method: String,
        detail: String,
    },
}

impl McpError {
    /// A stable label for metrics and API error codes.
    pub fn code(&self) -> &'static str {
        match self {
            McpError::UnknownServer(_) => "unknown_server",
            McpError::Unavailable { .. } => "server_unavailable",
            McpError::PoolExhausted { .. } => "pool_exhausted",
            McpError::Incompatible { .. } => "incompatible_protocol",
            McpError::Connect { .. } => "connect_failed",
            McpError::Timeout { .. } => "timeout",
            McpError::Transport { .. } => "transport_error",
            McpError::Server { .. } => "server_error",
            McpError::TooLarge { .. } => "result_too_large",
            McpError::Protocol { .. } => "protocol_error",
        }
    }

    /// The server the failure concerns.
    pub fn server(&self) -> &str {
        match self {
            McpError::UnknownServer(server)
            | McpError::Unavailable { server, .. }
            | McpError::PoolExhausted { server, .. }
            | McpError::Incompatible { server, .. }
            | McpError::Connect { server, .. }
            | McpError::Timeout { server, .. }
            | McpError::Transport { server, .. }
            | McpError::Server { server, .. }
            | McpError::TooLarge { server, .. }
            | McpError::Protocol { server, .. } => server,
        }
    }

    /// True when the session that produced this error should be replaced.
    pub fn breaks_session(&self) -> bool {
        matches!(self, McpError::Transport { .. } | McpError::Protocol { .. })
    }

    /// True when the request was refused because the server no longer knows its session
    /// (HTTP 404 to a Streamable HTTP session): it never ran.
    pub(crate) fn is_expired_session(&self) -> bool {
        // rmcp's `StreamableHttpError::SessionExpired`, as its error chain words it.
        matches!(self, McpError::Transport { detail, .. } if detail.contains("Session expired"))
    }

    pub(crate) fn from_service(
        server: &str,
        method: &str,
        error: rmcp::ServiceError,
        limit: u64,
    ) -> Self {
        use rmcp::ServiceError as E;
        let (server, method) = (server.to_owned(), method.to_owned());
        match error {
            E::McpError(data) => McpError::Server {
                server,
                method,
                code: data.code.0,
                message: data.message.to_string(),
            },
            E::Timeout { timeout } => McpError::Timeout {
                server,
                method,
                timeout,
            },
            E::TransportClosed => McpError::Transport {
                server,
                method,
                detail: "the connection is closed".to_owned(),
            },
            E::TransportSend(e) => {
                let detail = error_chain(&e);
                if ["too large", "exceeds", "exceeded the maximum size"]
                    .iter()
                    .any(|needle| detail.contains(needle))
                {
                    McpError::TooLarge {
                        server,
                        method,
                        limit,
                    }
                } else {
                    McpError::Transport {
                        server,
                        method,
                        detail,
                    }
                }
            }
            E::UnexpectedResponse => McpError::Protocol {
                server,
                method,
                detail: "a result of the wrong type".to_owned(),
            },
            other => McpError::Protocol {
                server,
                method,
                detail: other.to_string(),
            },
        }
    }
}

/// An error and its sources on one line, without the type names rmcp puts in its errors.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    without_type_names(&text)
}

/// rmcp names its transport by Rust type in errors (`Transport [rmcp::…<…>] error: …`):
/// noise to a user, so the bracketed type is left out.
fn without_type_names(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("Transport [") {
        let after = &rest[start + "Transport [".len()..];
        let Some(end) = after.find("] error: ") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str("transport error: ");
        rest = &after[end + "] error: ".len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod chain_tests {
    #[test]
    fn rmcp_type_names_are_left_out() {
        let text = "Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::X<llamagate::Y>>] error: unexpected server response: HTTP 401, when send initialize request";
        assert_eq!(
            super::without_type_names(text),
            "Send message error transport error: unexpected server response: HTTP 401, when send initialize request"
        );
        assert_eq!(super::without_type_names("plain"), "plain");
    }
}
