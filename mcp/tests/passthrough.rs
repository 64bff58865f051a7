//! Results pass through as the server sent them: a field no SDK knows and `_meta` reach the
//! caller over every transport, in tool results and in tool lists (rmcp's typed results would drop the unknown field), against
//! the real mcp 1.30 peer, which sends such fields.

mod support;

use llamagate_mcp::{
    ServerDescription, Transport,
    cache::ListKind,
    server::operations::{ToolCall, ToolOutcome},
};
use support::*;

async fn assert_passes_through(config: ServerDescription) {
    let name = config.name.to_string();
    let server = client(config);
    let call = || ToolCall {
        name: "vendor_fields".to_owned(),
        ..Default::default()
    };
    // Twice: the second call runs on a session that already answered one.
    for _ in 0..2 {
        let ToolOutcome::Complete { result } = server.call_tool(call()).await.unwrap() else {
            panic!("{name}: not a complete result");
        };
        assert_eq!(result["vendorExtension"]["kept"], true, "{name}: {result}");
        assert_eq!(
            result["_meta"]["io.example/trace"], "abc",
            "{name}: {result}"
        );
        assert_eq!(
            result["content"][0]["text"], "with extras",
            "{name}: {result}"
        );
    }
    // Tool definitions too, from the cached list and from one page.
    let (tools, _) = server.list(ListKind::Tools, "").await.unwrap();
    let vendor = tools
        .iter()
        .find(|tool| tool["name"] == "vendor_fields")
        .expect("listed");
    assert_eq!(vendor["vendorHint"], "kept", "{name}: {vendor}");
    let page = server.list_page(ListKind::Tools, "").await.unwrap();
    assert!(
        page["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|tool| tool["vendorHint"] == "kept"),
        "{name}: {page}"
    );
    // Ordinary results are unchanged by the recording.
    let ToolOutcome::Complete { result } = server
        .call_tool(ToolCall {
            name: "echo".to_owned(),
            arguments: serde_json::json!({"message": "plain"})
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        })
        .await
        .unwrap()
    else {
        panic!("{name}: echo");
    };
    assert_eq!(result["content"][0]["text"], "plain", "{name}: {result}");
    server.stop(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn unknown_fields_pass_through_over_stdio() {
    assert_passes_through(mcp1_stdio("stdio")).await;
}

#[tokio::test]
async fn unknown_fields_pass_through_over_streamable_http_sse_answers() {
    let peer = mcp1_peer("streamable-http");
    assert_passes_through(remote("http-sse", Transport::StreamableHttp, &peer.url)).await;
}

#[tokio::test]
async fn unknown_fields_pass_through_over_streamable_http_json_answers() {
    let peer = mcp1_peer("streamable-http-json");
    assert_passes_through(remote("http-json", Transport::StreamableHttp, &peer.url)).await;
}

#[tokio::test]
async fn unknown_fields_pass_through_over_legacy_sse() {
    let peer = mcp1_peer("sse");
    assert_passes_through(remote("sse", Transport::Sse, &peer.url)).await;
}

#[tokio::test]
async fn unknown_fields_pass_through_over_websocket() {
    let peer = ws_peer();
    assert_passes_through(remote("ws", Transport::Websocket, &peer.url)).await;
}
