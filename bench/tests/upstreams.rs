//! The harness's own parts against real clients: the fast MCP upstream is a server our MCP
//! client (and so the gateway) uses in both protocol eras, the scripted LLM asks for tools
//! and then answers, and the load generator counts answers and errors as they are.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use llamagate_bench::{
    load::{self, Load},
    procs, scenarios,
    upstream::{llm, mcp},
};
use llamagate_mcp::{
    Context, Endpoint, McpMetrics, RemoteEndpoint, RemoteTransport, ServerClient,
    ServerDescription, ServerName, cache::ListKind, server::operations::ToolCall,
    server::operations::ToolOutcome,
};
use serde_json::json;

async fn fast_mcp(legacy_only: bool) -> SocketAddr {
    let port = procs::free_port().unwrap();
    tokio::spawn(mcp::run(port, legacy_only));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    addr
}

fn client(addr: SocketAddr) -> Arc<ServerClient> {
    let url = format!("http://{addr}/mcp");
    let endpoint =
        Endpoint::Remote(RemoteEndpoint::new(RemoteTransport::StreamableHttp, &url).unwrap());
    let description = ServerDescription::new(ServerName::new("fast").unwrap(), endpoint);
    ServerClient::new(description, &Context::new(McpMetrics::unregistered()))
}

async fn echo(client: &ServerClient) -> serde_json::Value {
    let call = ToolCall {
        name: "echo".into(),
        arguments: json!({"message": "hi"}).as_object().cloned().unwrap(),
        ..Default::default()
    };
    match client.call_tool(call).await.unwrap() {
        ToolOutcome::Complete { result } => result,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_fast_upstream_speaks_both_eras_to_our_client() {
    for (legacy_only, stateless) in [(false, true), (true, false)] {
        let client = client(fast_mcp(legacy_only).await);
        client.connect_vacant().await.unwrap();
        let info = client.info().unwrap();
        assert_eq!(info.stateless, stateless, "{info:?}");
        let (tools, _) = client.list(ListKind::Tools, "test").await.unwrap();
        assert_eq!(tools[0]["name"], "echo");
        assert_eq!(echo(&client).await["content"][0]["text"], "hi");
    }
}

#[tokio::test]
async fn the_scripted_llm_asks_for_three_calls_then_answers() {
    let port = procs::free_port().unwrap();
    tokio::spawn(llm::run(port));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let http = reqwest::Client::new();
    let tools =
        json!([{"type": "function", "function": {"name": "mcp__up__echo", "parameters": {}}}]);
    let first: serde_json::Value = http
        .post(&url)
        .json(&json!({"model": "m", "tools": tools, "messages": [{"role": "user", "content": "tools"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = first["choices"][0]["message"]["tool_calls"]
        .as_array()
        .unwrap();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0]["function"]["name"], "mcp__up__echo");
    let messages = json!([{"role": "user", "content": "tools"}, first["choices"][0]["message"],
        {"role": "tool", "tool_call_id": "call0", "content": "hi"}]);
    let second: serde_json::Value = http
        .post(&url)
        .json(&json!({"model": "m", "tools": tools, "messages": messages}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["choices"][0]["message"]["content"], "ok");
}

#[tokio::test]
async fn the_load_generator_counts_answers_and_errors() {
    let addr = fast_mcp(false).await;
    let good = scenarios::stateless_call(addr, "\"hi\"");
    let rate = Load::Rate {
        per_second: 200,
        connections: 4,
    };
    let outcome = load::run(&good, rate, Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(outcome.errors, 0, "{:?}", outcome.first_error);
    assert_eq!(outcome.latencies_us.len(), 100, "200/s for half a second");
    assert!(outcome.quantile_ms(0.5) <= outcome.quantile_ms(0.99));
    // Sessions of the 2025 era, shared by the connections.
    let legacy = scenarios::session_call(fast_mcp(true).await, "\"hi\"");
    let max = Load::Max { connections: 8 };
    let outcome = load::run(&legacy, max, Duration::from_millis(200))
        .await
        .unwrap();
    assert!(
        outcome.errors == 0 && !outcome.latencies_us.is_empty(),
        "{:?}",
        outcome.first_error
    );
    // An answer without the expected text is an error, and says why.
    let wrong = scenarios::stateless_call(addr, "not in the answer");
    let outcome = load::run(&wrong, max, Duration::from_millis(100))
        .await
        .unwrap();
    assert!(outcome.latencies_us.is_empty() && outcome.errors > 0);
    assert!(outcome.first_error.unwrap().contains("lacks"));
}
