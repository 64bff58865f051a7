//! The transports we own. Streamable HTTP is rmcp's client; stdio is rmcp's line codec over
//! a child we spawn ourselves (process group, stderr to logs, stdout checked line by line);
//! WebSocket and legacy HTTP+SSE are pumps between the wire and a pair of channels that
//! rmcp uses as its transport.

pub(crate) mod http;
pub mod owned;
pub mod param_headers;
pub(crate) mod recorded;
pub(crate) mod sse;
mod sse_events;
pub(crate) mod stdio;
pub(crate) mod ws;

use futures::channel::mpsc;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use rmcp::service::{RoleClient, RxJsonRpcMessage, TxJsonRpcMessage};

use crate::{description::RemoteEndpoint, error::McpError};

/// JSON-RPC error code a transport uses when it refuses a message larger than the limit.
pub const RESULT_TOO_LARGE: i32 = -32_090;

/// The channel ends rmcp reads and writes; the other ends belong to a transport's pump.
pub type ChannelTransport = (
    mpsc::Sender<TxJsonRpcMessage<RoleClient>>,
    mpsc::Receiver<RxJsonRpcMessage<RoleClient>>,
);

/// The pump's ends: messages from rmcp to send, and a sender for messages received.
pub struct PumpEnds {
    /// Messages rmcp wants sent to the server.
    pub outgoing: mpsc::Receiver<TxJsonRpcMessage<RoleClient>>,
    /// Where the pump delivers messages from the server.
    pub incoming: mpsc::Sender<RxJsonRpcMessage<RoleClient>>,
}

/// A connected pair: rmcp's transport and the pump's ends.
pub fn channel_pair() -> (ChannelTransport, PumpEnds) {
    let (out_tx, out_rx) = mpsc::channel(64);
    let (in_tx, in_rx) = mpsc::channel(64);
    (
        (out_tx, in_rx),
        PumpEnds {
            outgoing: out_rx,
            incoming: in_tx,
        },
    )
}

/// Headers of every request to the server `server` at `remote`: its bearer token, then its
/// configured headers (a configured `Authorization` wins over the token). Values are marked
/// sensitive, so no HTTP library prints them.
pub(crate) fn auth_headers(server: &str, remote: &RemoteEndpoint) -> Result<HeaderMap, McpError> {
    let failed = |detail: String| McpError::Connect {
        server: server.to_owned(),
        detail,
    };
    let mut headers = HeaderMap::new();
    if let Some(key) = &remote.bearer_token {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                failed("the bearer token has characters a header cannot carry".to_owned())
            })?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    for (name, value) in &remote.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| failed(format!("bad header name `{name}`")))?;
        let mut value = HeaderValue::from_str(value.expose())
            .map_err(|_| failed(format!("bad value of header `{name}`")))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(headers)
}

pub(crate) use crate::bounded_body::{BodyError, read_bounded};

/// Build an error response to request `id` without the (oversized) original message.
pub(crate) fn too_large_response(id: serde_json::Value, limit: usize) -> String {
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": RESULT_TOO_LARGE,
            "message": format!("the server's answer is larger than the limit of {limit} bytes"),
        }
    })
    .to_string()
}

/// Find the JSON-RPC `id` of a message from its first and last bytes only (the message itself
/// is too large to keep). Servers put `id` either right after `jsonrpc` or at the very end.
pub(crate) fn id_of_truncated(prefix: &[u8], suffix: &[u8]) -> Option<serde_json::Value> {
    let prefix = std::str::from_utf8(prefix.get(..prefix.len().min(64))?)
        .ok()
        .or_else(|| std::str::from_utf8(&prefix[..prefix.len().min(32)]).ok())?;
    let compact: String = prefix.chars().filter(|c| !c.is_whitespace()).collect();
    for start in [r#"{"jsonrpc":"2.0","id":"#, r#"{"id":"#] {
        if let Some(rest) = compact.strip_prefix(start)
            && let Some(value) = leading_json_scalar(rest)
        {
            return Some(value);
        }
    }
    let suffix = String::from_utf8_lossy(suffix);
    let trimmed = suffix.trim_end();
    let body = trimmed.strip_suffix('}')?;
    let at = body.rfind(r#""id":"#)?;
    serde_json::from_str(body[at + 5..].trim()).ok()
}

fn leading_json_scalar(text: &str) -> Option<serde_json::Value> {
    let end = match text.strip_prefix('"') {
        Some(quoted) => quoted.find('"')? + 2,
        None => text.find([',', '}'])?,
    };
    serde_json::from_str(&text[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_at_either_end() {
        assert_eq!(
            id_of_truncated(br#"{"jsonrpc":"2.0","id":7,"result":{"x":"#, b"xxx\"}}"),
            Some(7.into())
        );
        assert_eq!(
            id_of_truncated(br#"{"jsonrpc": "2.0", "id": "a-1", "result""#, b""),
            Some("a-1".into())
        );
        assert_eq!(
            id_of_truncated(
                br#"{"result":{"content":[{"text":"xx"#,
                br#"xx"}]},"jsonrpc":"2.0","id":12}"#
            ),
            Some(12.into())
        );
        assert_eq!(id_of_truncated(br#"{"result":{"x":"#, br#"xx"}}"#), None);
    }

    proptest::proptest! {
        /// Any bytes from a misbehaving server: finding the id never panics, and the id of
        /// a well-formed answer is found from its ends alone.
        #[test]
        fn ids_of_truncated_messages_are_found_or_not_without_panicking(
            prefix in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            suffix in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            id in 0u64..1_000_000,
            filler in "[a-z ]{0,300}",
        ) {
            let _ = id_of_truncated(&prefix, &suffix);
            let message = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"text":"{filler}"}}}}"#);
            let bytes = message.as_bytes();
            let head = &bytes[..bytes.len().min(64)];
            let tail = &bytes[bytes.len().saturating_sub(64)..];
            proptest::prop_assert_eq!(id_of_truncated(head, tail), Some(id.into()));
        }
    }
}
