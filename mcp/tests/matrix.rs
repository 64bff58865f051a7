//! The transport × protocol matrix against real MCP servers: each cell connects, lists
//! tools/resources/templates/prompts (following every page), calls a tool, reads a text and
//! a binary resource, and gets a prompt with arguments.

mod support;

use llamagate_mcp::{
    ProtocolMode, ServerClient, ServerDescription, Transport,
    cache::ListKind,
    server::operations::{ToolCall, ToolOutcome},
};
use serde_json::{Value, json};
use support::*;

fn names(list: &[Value], key: &str) -> Vec<String> {
    list.iter()
        .filter_map(|item| item[key].as_str().map(str::to_owned))
        .collect()
}

fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("")
}

async fn call(server: &ServerClient, tool: &str, arguments: Value) -> Value {
    let arguments = arguments.as_object().cloned().unwrap_or_default();
    match server
        .call_tool(ToolCall {
            name: tool.to_owned(),
            arguments,
            ..Default::default()
        })
        .await
        .unwrap()
    {
        ToolOutcome::Complete { result } => result,
        other => panic!("{other:?}"),
    }
}

/// The full set of operations against one of our Python peers (same tools on every transport).
async fn exercise_python_peer(config: ServerDescription, expect_stateless: bool) {
    let server = client(config);
    server.connect_vacant().await.unwrap();
    let info = server.info().unwrap();
    assert_eq!(info.stateless, expect_stateless, "{info:?}");

    let (tools, _) = server.list(ListKind::Tools, "k").await.unwrap();
    // The mcp 2.3 peer lists in pages of two: finding all six tools means every page was followed.
    let tool_names = names(&tools, "name");
    for expected in ["echo", "add", "fail", "slow", "big", "tiny_png"] {
        assert!(tool_names.contains(&expected.to_owned()), "{tool_names:?}");
    }
    let (resources, _) = server.list(ListKind::Resources, "k").await.unwrap();
    assert!(
        names(&resources, "uri").contains(&"test://text".to_owned()),
        "{resources:?}"
    );
    let (templates, _) = server.list(ListKind::ResourceTemplates, "k").await.unwrap();
    assert!(
        names(&templates, "uriTemplate").contains(&"test://items/{item_id}".to_owned()),
        "{templates:?}"
    );
    let (prompts, _) = server.list(ListKind::Prompts, "k").await.unwrap();
    assert!(names(&prompts, "name").contains(&"greet".to_owned()));

    let result = call(&server, "add", json!({"a": 2, "b": 40})).await;
    assert_eq!(text_of(&result), "42");
    assert_eq!(result["structuredContent"]["result"], 42);
    let result = call(&server, "fail", json!({"reason": "nope"})).await;
    assert_eq!(result["isError"], true);
    assert!(text_of(&result).contains("nope"));
    let result = call(&server, "tiny_png", json!({})).await;
    assert_eq!(result["content"][0]["type"], "image");
    assert_eq!(result["content"][0]["mimeType"], "image/png");

    let text = server
        .read_resource("test://text", Default::default())
        .await
        .unwrap();
    assert_eq!(text["contents"][0]["text"], "hello from a text resource");
    let binary = server
        .read_resource("test://binary", Default::default())
        .await
        .unwrap();
    assert_eq!(binary["contents"][0]["blob"], "AAECAwQFBgcICQoLDA0ODw==");
    let item = server
        .read_resource("test://items/7", Default::default())
        .await
        .unwrap();
    assert_eq!(item["contents"][0]["text"], "item 7");

    let args = json!({"name": "Ada"}).as_object().cloned().unwrap();
    let prompt = server.get_prompt("greet", args).await.unwrap();
    assert!(
        prompt["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("Ada"),
        "{prompt}"
    );

    let latency = server.probe().await.unwrap();
    assert!(latency.as_secs() < 5);
    server.stop(std::time::Duration::from_secs(1)).await;
}

/// The reference server: paginated resources, completions, and its own tool names.
async fn exercise_everything(config: ServerDescription) {
    let server = client(config);
    server.connect_vacant().await.unwrap();
    let info = server.info().unwrap();
    assert!(!info.stateless, "server-everything speaks 2025-11-25");
    let (tools, _) = server.list(ListKind::Tools, "k").await.unwrap();
    assert!(
        names(&tools, "name").contains(&"echo".to_owned()),
        "{tools:?}"
    );
    let (resources, _) = server.list(ListKind::Resources, "k").await.unwrap();
    assert!(resources.len() >= 2, "{resources:?}");
    let (templates, _) = server.list(ListKind::ResourceTemplates, "k").await.unwrap();
    assert!(!templates.is_empty());
    let (prompts, _) = server.list(ListKind::Prompts, "k").await.unwrap();
    assert!(!prompts.is_empty());

    let result = call(&server, "echo", json!({"message": "hi"})).await;
    assert!(text_of(&result).contains("hi"), "{result}");
    let text_uri = resources[0]["uri"].as_str().unwrap().to_owned();
    let text = server
        .read_resource(&text_uri, Default::default())
        .await
        .unwrap();
    assert!(text["contents"][0]["text"].is_string(), "{text}");
    let text = server
        .read_resource("demo://resource/dynamic/text/1", Default::default())
        .await
        .unwrap();
    assert!(text["contents"][0]["text"].is_string(), "{text}");
    let blob = server
        .read_resource("demo://resource/dynamic/blob/1", Default::default())
        .await
        .unwrap();
    assert!(blob["contents"][0]["blob"].is_string(), "{blob}");
    let with_args = prompts
        .iter()
        .find(|p| p["arguments"].as_array().is_some_and(|a| !a.is_empty()))
        .unwrap();
    let mut args = serde_json::Map::new();
    for arg in with_args["arguments"].as_array().unwrap() {
        args.insert(arg["name"].as_str().unwrap().to_owned(), json!("value"));
    }
    let prompt = server
        .get_prompt(with_args["name"].as_str().unwrap(), args)
        .await
        .unwrap();
    assert!(
        prompt["messages"].as_array().is_some_and(|m| !m.is_empty()),
        "{prompt}"
    );
    let completion = server
        .complete(json!({
            "ref": {"type": "ref/prompt", "name": "completable-prompt"},
            "argument": {"name": "department", "value": "Eng"},
        }))
        .await
        .unwrap();
    assert_eq!(
        completion["completion"]["values"],
        json!(["Engineering"]),
        "{completion}"
    );
    let completion = server
        .complete(json!({
            "ref": {"type": "ref/prompt", "name": "completable-prompt"},
            "argument": {"name": "name", "value": ""},
            "context": {"arguments": {"department": "Sales"}},
        }))
        .await
        .unwrap();
    assert_eq!(
        completion["completion"]["values"],
        json!(["David", "Eve", "Frank"]),
        "{completion}"
    );
    server.probe().await.unwrap();
    server.stop(std::time::Duration::from_secs(1)).await;
}

#[tokio::test]
async fn everything_over_stdio() {
    exercise_everything(everything_stdio("everything")).await;
}

#[tokio::test]
async fn everything_over_legacy_sse() {
    let peer = everything("sse");
    exercise_everything(remote("everything-sse", Transport::Sse, &peer.url)).await;
}

#[tokio::test]
async fn everything_over_streamable_http() {
    let peer = everything("streamableHttp");
    exercise_everything(remote(
        "everything-http",
        Transport::StreamableHttp,
        &peer.url,
    ))
    .await;
}

#[tokio::test]
async fn python_mcp1_over_websocket() {
    let peer = ws_peer();
    exercise_python_peer(remote("ws", Transport::Websocket, &peer.url), false).await;
}

#[tokio::test]
async fn python_mcp2_stateless_over_streamable_http() {
    let peer = mcp2_http();
    exercise_python_peer(remote("modern", Transport::StreamableHttp, &peer.url), true).await;
}

#[tokio::test]
async fn python_mcp2_forced_legacy_over_streamable_http() {
    let peer = mcp2_http();
    let config = ServerDescription {
        protocol: ProtocolMode::Legacy,
        ..remote("legacy", Transport::StreamableHttp, &peer.url)
    };
    exercise_python_peer(config, false).await;
}

#[tokio::test]
async fn python_mcp2_over_stdio() {
    exercise_python_peer(mcp2_stdio("modern-stdio"), true).await;
}

#[tokio::test]
async fn mcp_server_time_over_stdio() {
    let server = client(time_stdio("time"));
    server.connect_vacant().await.unwrap();
    let (tools, _) = server.list(ListKind::Tools, "k").await.unwrap();
    assert!(
        names(&tools, "name").contains(&"get_current_time".to_owned()),
        "{tools:?}"
    );
    let result = call(&server, "get_current_time", json!({"timezone": "UTC"})).await;
    assert!(text_of(&result).contains("UTC"), "{result}");
    server.stop(std::time::Duration::from_secs(1)).await;
}

/// A server that answers `server/discover` with an empty result (as the conformance suite's
/// client scenarios do) is a legacy server: `protocol: auto` falls back to the handshake
/// instead of failing with "expect initialized result, but received EmptyResult".
#[tokio::test]
async fn an_empty_discover_answer_falls_back_to_the_handshake() {
    let shim = peers_dir()
        .join("discover_empty_shim.py")
        .display()
        .to_string();
    let server = client(stdio("empty-discover", &python("mcp1"), &[&shim]));
    server.connect_vacant().await.unwrap();
    let info = server.info().unwrap();
    assert!(!info.stateless, "{info:?}");
    let result = call(&server, "echo", json!({"message": "after the fallback"})).await;
    assert!(text_of(&result).contains("after the fallback"));
    server.stop(std::time::Duration::from_secs(1)).await;
}
