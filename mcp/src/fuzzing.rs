//! Each parser of outside input the MCP client owns, as a function of bytes, for the fuzz
//! targets (`fuzz/`, `scripts/fuzz`) and the property tests (`tests/parsers.rs`). Every
//! function must return, never panic, whatever it is given; none is an API.

use serde_json::Value;

use crate::transport::{self, http::EventLimiter, param_headers, recorded::RawResults};

/// A message as a server sends it over any transport (a stdio line, a WebSocket text frame,
/// an SSE event's data, a POST's JSON body): decoded as rmcp decodes it, recorded raw as our
/// transports record it, and its id found from its ends as for a message over the limit.
pub fn server_message(bytes: &[u8]) {
    let _ = serde_json::from_slice::<rmcp::model::ServerJsonRpcMessage>(bytes);
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        RawResults::new(1 << 16).record(&value, bytes.len());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        RawResults::new(1 << 16).record_text(text);
    }
    let half = bytes.len() / 2;
    let _ = transport::id_of_truncated(&bytes[..half], &bytes[half..]);
}

/// An SSE byte stream cut into chunks at `cuts`, through the event limiter of Streamable HTTP
/// answers (events of at most `limit` bytes), then parsed into events.
pub fn sse_stream(bytes: &[u8], cuts: &[usize], limit: usize) {
    let mut limiter = EventLimiter::default();
    let mut start = 0;
    let mut passed = Vec::new();
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let end = cut.clamp(start, bytes.len());
        match limiter.feed(&bytes[start..end], limit.max(1)) {
            Ok(complete) => passed.extend_from_slice(&complete),
            Err(complete) => {
                passed.extend_from_slice(&complete);
                break;
            }
        }
        start = end;
    }
    passed.extend_from_slice(&limiter.rest());
    let events =
        sse_stream::SseStream::from_bytes_stream(futures::stream::iter([Ok::<_, std::io::Error>(
            bytes::Bytes::from(passed),
        )]));
    futures::executor::block_on(futures::StreamExt::for_each(events, |_| async {}));
}

/// An HTTP/1.1 answer head as the shared prober reads it.
pub fn prober_answer(bytes: &[u8]) {
    let _ = crate::health::prober::wire::parse_head(bytes);
}

/// A tool's input schema and a call's arguments (two JSON texts): the SEP-2243 rules and
/// the `Mcp-Param-*` headers.
pub fn tool_schema(schema: &[u8], arguments: &[u8]) {
    let Ok(schema) = serde_json::from_slice::<Value>(schema) else {
        return;
    };
    let _ = param_headers::validate(&schema);
    let schemas = param_headers::ToolSchemas::default();
    schemas.replace(&[serde_json::json!({"name": "t", "inputSchema": schema})]);
    let arguments = serde_json::from_slice::<Value>(arguments).unwrap_or(Value::Null);
    let _ = schemas.headers_for_call(&serde_json::json!({"name": "t", "arguments": arguments}));
}

/// A stdio server's stdout, as its pump reads it: any bytes, cut into lines of at most
/// `max_line` bytes (longer ones answered as too large by their id), whatever is not JSON
/// ending the session; what the pump forwards to rmcp is read to the end.
pub fn stdio_stdout(bytes: &[u8], max_line: usize) {
    use tokio::io::AsyncReadExt;
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    runtime.block_on(async {
        let (to_rmcp, mut forwarded) = tokio::io::duplex(64 * 1024);
        let pump = crate::stdio_process::check_stdout(
            std::sync::Arc::from("fuzz"),
            bytes,
            to_rmcp,
            max_line.max(1),
            |_| {},
        );
        let mut sink = Vec::new();
        let read = forwarded.read_to_end(&mut sink);
        let _ = tokio::join!(pump, read);
    });
}
