//! The comparisons of the harness, each measured against its baseline in the same run.

pub mod chat;
pub mod many;
pub mod profile;
pub mod proxy;

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde_json::json;

use crate::load::Target;

/// `tools/call echo` as a 2026-07-28 stateless client sends it.
pub fn stateless_call(addr: SocketAddr, expect: &'static str) -> Target {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "echo", "arguments": { "message": "hi" },
        "_meta": { "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                   "io.modelcontextprotocol/clientInfo": { "name": "llamagate-bench", "version": "1" },
                   "io.modelcontextprotocol/clientCapabilities": {} } } });
    Target {
        addr,
        path: "/mcp".to_owned(),
        headers: vec![
            header("mcp-protocol-version", "2026-07-28"),
            header("mcp-method", "tools/call"),
            header("mcp-name", "echo"),
        ],
        body: Bytes::from(body.to_string()),
        expect,
        mcp_sessions: 0,
    }
}

/// Sessions of the direct baseline: as many as the gateway pools per server by default.
pub const SESSIONS: usize = 4;

/// `tools/call echo` in 2025-11-25 sessions ([`SESSIONS`], shared by the connections).
pub fn session_call(addr: SocketAddr, expect: &'static str) -> Target {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "message": "hi" } } });
    Target {
        addr,
        path: "/mcp".to_owned(),
        headers: Vec::new(),
        body: Bytes::from(body.to_string()),
        expect,
        mcp_sessions: SESSIONS,
    }
}

/// `POST /v1/mcp/execute` of `echo` on `server`.
pub fn execute(addr: SocketAddr, server: &str, expect: &'static str) -> Target {
    let body = json!({ "server": server, "tool": "echo", "arguments": { "message": "hi" } });
    Target {
        addr,
        path: "/v1/mcp/execute".to_owned(),
        headers: Vec::new(),
        body: Bytes::from(body.to_string()),
        expect,
        mcp_sessions: 0,
    }
}

/// A chat completion with this user message.
pub fn chat(addr: SocketAddr, content: &str) -> Target {
    let body = json!({ "model": "bench", "messages": [{ "role": "user", "content": content }] });
    Target {
        addr,
        path: "/v1/chat/completions".to_owned(),
        headers: Vec::new(),
        body: Bytes::from(body.to_string()),
        expect: "\"ok\"",
        mcp_sessions: 0,
    }
}

fn header(name: &'static str, value: &'static str) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

/// A gateway config with these MCP server entries (YAML list items, indented by 4).
pub fn gateway_config(llm: Option<SocketAddr>, servers: &str) -> String {
    let upstream = llm.map_or("http://127.0.0.1:9/v1".to_owned(), |a| {
        format!("http://{a}/v1")
    });
    format!(
        "listen: \"{{listen}}\"\nlog: {{ level: warn }}\nupstream: {{ url: \"{upstream}\" }}\n\
         mcp:\n  servers:\n{servers}"
    )
}
