//! Chat completions with the tool loop: a scripted upstream (deterministic tool calls,
//! streamed in small chunks) in front of a real MCP server (the mcp 1.30 WebSocket peer).

mod support;

use std::time::Duration;

use axum::{body::Body, http::Request};
use llamagate_gateway::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use support::{llm::*, *};
use tower::ServiceExt;

async fn gateway(upstream: &str, peer: &str, limits: &str) -> AppState {
    let yaml = format!(
        r#"
upstream: {{ url: "{upstream}" }}
mcp:
  limits: {{ {limits} }}
  tools: {{ deny: ["garbage"] }}
  servers:
    - {{ name: peer, transport: websocket, url: "{peer}" }}
"#
    );
    let config = load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    let state = AppState::new(config.clone(), Metrics::new());
    state.apply_file_servers();
    wait_healthy(&state, "peer").await;
    state
}

async fn post(state: &AppState, body: Value) -> (u16, axum::http::HeaderMap, String) {
    let request = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

fn ask(extra: Value) -> Value {
    let mut body = json!({"model": "scripted", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2, "x_unknown": {"kept": true}});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn tool_messages(request: &Value) -> Vec<String> {
    request["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn multi_round_loop_with_parallel_calls() {
    let peer = ws_peer();
    let script = Script::new(vec![
        calls(&[
            ("mcp__peer__add", r#"{"a": 2, "b": 3}"#),
            ("mcp.peer.echo", r#"{"message": "dotted name"}"#),
        ]),
        calls(&[("mcp__peer__add", r#"{"a": 5, "b": 10}"#)]),
        text("the answer is 15"),
    ]);
    let upstream = start(script.clone()).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let (status, headers, body) = post(&state, ask(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        headers.contains_key("x-request-id") && headers.contains_key("x-llamagate-overhead-ms")
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "the answer is 15");
    assert_eq!(
        body["usage"]["total_tokens"], 45,
        "usage summed over three rounds"
    );

    let requests = script.requests();
    assert_eq!(requests.len(), 3);
    let first = &requests[0];
    assert_eq!(first["temperature"], 0.2, "OpenAI fields pass through");
    assert_eq!(
        first["x_unknown"]["kept"], true,
        "unknown fields pass through"
    );
    let names: Vec<&str> = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"mcp__peer__add") && !names.contains(&"mcp__peer__garbage"),
        "{names:?}"
    );
    assert_eq!(tool_messages(&requests[1]), ["5", "dotted name"]);
    assert_eq!(tool_messages(&requests[2]), ["5", "dotted name", "15"]);
}

#[tokio::test]
async fn a_forced_tool_choice_is_relaxed_after_the_round_that_used_it() {
    let peer = ws_peer();
    let script = Script::new(vec![
        calls(&[("mcp__peer__add", r#"{"a": 1, "b": 2}"#)]),
        text("3"),
    ]);
    let upstream = start(script.clone()).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let forced = json!({"type": "function", "function": {"name": "mcp__peer__add"}});
    let (status, _, body) = post(&state, ask(json!({"tool_choice": forced}))).await;
    assert_eq!(status, 200, "{body}");
    let requests = script.requests();
    assert_eq!(requests[0]["tool_choice"], forced);
    assert_eq!(
        requests[1]["tool_choice"], "auto",
        "forcing again would loop until max_tool_rounds"
    );
}

#[tokio::test]
async fn tool_errors_and_timeouts_go_back_to_the_model() {
    let peer = ws_peer();
    let script = Script::new(vec![
        calls(&[
            ("mcp__peer__fail", r#"{"reason": "disk on fire"}"#),
            ("mcp__peer__slow", r#"{"seconds": 30}"#),
            ("mcp__peer__add", "not json"),
        ]),
        text("sorry"),
    ]);
    let upstream = start(script.clone()).await;
    let state = gateway(&upstream, &peer.url, "tool_timeout: 500ms").await;
    let (status, _, body) = post(&state, ask(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let results = tool_messages(&script.requests()[1]);
    assert!(
        results[0].starts_with("Error:") && results[0].contains("disk on fire"),
        "{results:?}"
    );
    assert!(
        results[1].contains("did not answer") && results[1].contains("500ms"),
        "{results:?}"
    );
    assert!(results[2].contains("not a JSON object"), "{results:?}");
}

#[tokio::test]
async fn limits_are_explicit_errors() {
    let peer = ws_peer();
    let add = ("mcp__peer__add", r#"{"a": 1, "b": 1}"#);
    let upstream = start(Script::new(vec![
        calls(&[add]),
        calls(&[add]),
        calls(&[add]),
    ]))
    .await;
    let state = gateway(&upstream, &peer.url, "max_tool_rounds: 2").await;
    let (status, _, body) = post(&state, ask(json!({}))).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("max_tool_rounds_exceeded"), "{body}");

    let upstream = start(Script::new(vec![calls(&[add, add, add])])).await;
    let state = gateway(&upstream, &peer.url, "max_tool_calls_per_round: 2").await;
    let (status, _, body) = post(&state, ask(json!({}))).await;
    assert_eq!(
        (status, body.contains("max_tool_calls_per_round_exceeded")),
        (422, true),
        "{body}"
    );

    let upstream = start(Script::new(vec![calls(&[add, add]), calls(&[add, add])])).await;
    let state = gateway(&upstream, &peer.url, "max_total_tool_calls: 3").await;
    let (status, _, body) = post(&state, ask(json!({}))).await;
    assert_eq!(
        (status, body.contains("max_total_tool_calls_exceeded")),
        (422, true),
        "{body}"
    );
}

#[tokio::test]
async fn mixed_rounds_defer_mcp_calls_until_the_client_answers() {
    let peer = ws_peer();
    let script = Script::new(vec![
        calls(&[
            ("get_weather", r#"{"city": "Oslo"}"#),
            ("mcp__peer__echo", r#"{"message": "from mcp"}"#),
        ]),
        text("done"),
    ]);
    let upstream = start(script.clone()).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let client_tool = json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]);
    let (status, _, body) = post(&state, ask(json!({"tools": client_tool}))).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    let message = body["choices"][0]["message"].clone();
    assert_eq!(body["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        message["tool_calls"].as_array().unwrap().len(),
        2,
        "no call is lost"
    );
    let weather_id = message["tool_calls"][0]["id"].as_str().unwrap();

    let follow_up = ask(json!({
        "tools": client_tool,
        "messages": [{"role": "user", "content": "hi"}, message, {"role": "tool", "tool_call_id": weather_id, "content": "sunny"}],
    }));
    let (status, _, body) = post(&state, follow_up).await;
    assert_eq!(status, 200, "{body}");
    let results = tool_messages(&script.requests()[1]);
    assert_eq!(
        results,
        ["from mcp", "sunny"],
        "the deferred MCP call ran before the model saw the conversation"
    );
}

#[tokio::test]
async fn mcp_references_narrow_and_unknown_ones_are_named() {
    let peer = ws_peer();
    let script = Script::new(vec![text("ok"), text("ok")]);
    let upstream = start(script.clone()).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let (status, _, body) = post(
        &state,
        ask(json!({"tools": [{"type": "mcp", "uri": "mcp://peer/echo"}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<String> = script.requests()[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["mcp__peer__echo"]);
    for (tools, needle) in [
        (
            json!([{"type": "mcp", "uri": "mcp://nope"}]),
            "no MCP server named `nope`",
        ),
        (
            json!([{"type": "mcp", "uri": "mcp://peer/nope"}]),
            "mcp://peer/nope",
        ),
        (
            json!([{"type": "mcp", "uri": "mcp://peer/garbage"}]),
            "mcp://peer/garbage",
        ),
    ] {
        let (status, _, body) = post(&state, ask(json!({"tools": tools}))).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.contains(needle), "{body}");
    }
}

#[tokio::test]
async fn mcp_resource_blocks_are_inlined() {
    let peer = ws_peer();
    let script = Script::new(vec![text("ok"), text("ok")]);
    let upstream = start(script.clone()).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let message = json!([{"role": "user", "content": [{"type": "text", "text": "read this:"}, {"type": "mcp_resource", "uri": "mcp://peer/test://text"}]}]);
    let (status, _, body) = post(&state, ask(json!({"messages": message}))).await;
    assert_eq!(status, 200, "{body}");
    let sent = &script.requests()[0]["messages"][0]["content"][1];
    assert_eq!(
        sent,
        &json!({"type": "text", "text": "hello from a text resource"})
    );
    let binary = json!([{"role": "user", "content": [{"type": "mcp_resource", "uri": "mcp://peer/test://binary"}]}]);
    let (status, _, body) = post(&state, ask(json!({"messages": binary}))).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("binary (application/octet-stream)"), "{body}");
}

#[tokio::test]
async fn upstream_failures_keep_status_or_name_the_url() {
    let peer = ws_peer();
    let upstream = start(Script::new(vec![Step::Fail(429, "slow down".into())])).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let (status, _, body) = post(&state, ask(json!({}))).await;
    assert_eq!(status, 429);
    assert!(body.contains("slow down"), "{body}");

    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    let state = gateway(&dead, &peer.url, "").await;
    let (status, _, body) = post(&state, ask(json!({}))).await;
    assert_eq!(status, 502);
    assert!(body.contains(&dead), "the failing URL is named: {body}");
}

#[tokio::test]
async fn streaming_assembles_split_tool_calls_and_ends_once() {
    let peer = ws_peer();
    let script = Script::new(vec![
        calls(&[("mcp__peer__add", r#"{"a": 20, "b": 22}"#)]),
        text("forty-two it is"),
    ]);
    let upstream = start(script.clone()).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let (status, headers, body) = post(
        &state,
        ask(json!({"stream": true, "stream_options": {"include_usage": true}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/event-stream");
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.iter().filter(|e| **e == "[DONE]").count(), 1);
    assert_eq!(events.last(), Some(&"[DONE]"));
    let chunks: Vec<Value> = events
        .iter()
        .filter(|e| **e != "[DONE]")
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "forty-two it is");
    assert!(
        chunks
            .iter()
            .all(|c| c["choices"][0]["delta"]["tool_calls"].is_null()),
        "MCP calls are not shown to the client"
    );
    assert_eq!(
        chunks.iter().rev().find(|c| !c["usage"].is_null()).unwrap()["usage"]["total_tokens"],
        30
    );
    assert_eq!(
        tool_messages(&script.requests()[1]),
        ["42"],
        "arguments split over many chunks were assembled"
    );
}

#[tokio::test]
async fn streaming_upstream_failure_is_an_error_event() {
    let peer = ws_peer();
    let script = Script::new(vec![
        calls(&[("mcp__peer__echo", r#"{"message": "x"}"#)]),
        Step::Fail(500, "model crashed".into()),
    ]);
    let upstream = start(script).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let (status, _, body) = post(&state, ask(json!({"stream": true}))).await;
    assert_eq!(status, 200);
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert!(
        events[events.len() - 2].contains("model crashed"),
        "{events:?}"
    );
    assert_eq!(events.last(), Some(&"[DONE]"));
}

#[tokio::test]
async fn models_are_proxied() {
    let peer = ws_peer();
    let upstream = start(Script::default()).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let request = Request::get("/v1/models").body(Body::empty()).unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(
        &axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(body["data"][0]["id"], "scripted");
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_tool_calls() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let log_path = log.path().display().to_string();
    let peer = ws_peer_with_env(&[("PEER_CANCEL_LOG", &log_path)]);
    let script = Script::new(vec![
        calls(&[("mcp__peer__slow", r#"{"seconds": 60}"#)]),
        text("never"),
    ]);
    let upstream = start(script).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let request = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(ask(json!({"stream": true})).to_string()))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let mut body = response.into_body().into_data_stream();
    use futures::StreamExt;
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("data: "));
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(body);
    for _ in 0..100 {
        if std::fs::read_to_string(log.path())
            .unwrap_or_default()
            .contains("cancelled")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the MCP server never saw notifications/cancelled after the client left");
}

#[tokio::test]
async fn streaming_accepts_ids_and_names_repeated_in_every_chunk() {
    let peer = ws_peer();
    let mut script = Script::new(vec![
        calls(&[("mcp__peer__add", r#"{"a": 40, "b": 2}"#)]),
        text("ok"),
    ]);
    script.repeat_names = true;
    let upstream = start(script.clone()).await;
    let state = gateway(&upstream, &peer.url, "").await;
    let (status, _, body) = post(&state, ask(json!({"stream": true}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(tool_messages(&script.requests()[1]), ["42"], "{body}");
}

#[tokio::test]
async fn upstream_credentials_in_the_url_never_reach_the_client() {
    let peer = ws_peer();
    let dead = format!("http://bob:hunter2@127.0.0.1:{}/v1", free_port());
    let state = gateway(&dead, &peer.url, "").await;
    let (status, _, body) = post(&state, ask(json!({}))).await;
    assert_eq!(status, 502);
    assert!(
        !body.contains("hunter2") && body.contains("[REDACTED]@127.0.0.1"),
        "{body}"
    );
}
