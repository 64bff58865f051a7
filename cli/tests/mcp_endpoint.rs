//! The aggregated MCP endpoint as an MCP client uses it, in front of real servers
//! (server-everything over Streamable HTTP, the mcp 1.30 peer over WebSocket): the handshake,
//! merged and namespaced lists, calls routed back, one policy for listing and calling,
//! sealed sessions that another replica continues, and a down server that is named rather
//! than waited for.

mod support;

use std::time::{Duration, Instant};

use axum::{body::Body, http::Request};
use llamagate_gateway::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use support::api::{ADMIN, CALLER, READER};
use tower::ServiceExt;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn gateway(everything: &str, ws: &str, keys: &str) -> AppState {
    let dead = format!("http://127.0.0.1:{}/mcp", llamagate_test_peers::free_port());
    let yaml = format!(
        r#"
auth:
  keys:
    - {{ name: admin, key: {ADMIN}, scopes: [admin, "mcp:read", "mcp:call"] }}
    - {{ name: reader, key: {READER}, scopes: ["mcp:read"] }}
    - {{ name: caller, key: {CALLER}, scopes: ["mcp:call", "mcp:read"], servers: [peer] }}
mcp:
  tools: {{ deny: ["fail"] }}
  endpoint: {{ session_keys: [{keys}], list_timeout: 1s }}
  servers:
    - {{ name: everything, transport: streamable-http, url: "{everything}" }}
    - {{ name: peer, transport: websocket, url: "{ws}" }}
    - {{ name: down, transport: streamable-http, url: "{dead}", timeout: 1s }}
"#
    );
    let config = load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    let state = AppState::new(config, Metrics::new());
    state.apply_file_servers();
    support::wait_healthy(&state, "everything").await;
    support::wait_healthy(&state, "peer").await;
    state
}

struct Answer {
    status: u16,
    session: Option<String>,
    body: Value,
}

async fn rpc(
    state: &AppState,
    method: &str,
    path: &str,
    key: &str,
    session: Option<&str>,
    body: Value,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes);
    // One SSE event (the client accepts both, as SDK clients do), or JSON for errors.
    let json = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text);
    Answer {
        status,
        session,
        body: serde_json::from_str(json).unwrap_or(Value::Null),
    }
}

async fn initialize(state: &AppState, path: &str, key: &str) -> String {
    let answer = rpc(state, "POST", path, key, None, json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["result"]["protocolVersion"], "2025-11-25");
    answer.session.expect("an Mcp-Session-Id")
}

async fn call(
    state: &AppState,
    path: &str,
    key: &str,
    session: &str,
    method: &str,
    params: Value,
) -> Value {
    let answer = rpc(
        state,
        "POST",
        path,
        key,
        Some(session),
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}),
    )
    .await;
    assert_eq!(answer.status, 200, "{method}: {}", answer.body);
    answer.body
}

fn names(list: &Value, field: &str, key: &str) -> Vec<String> {
    list["result"][field]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[key].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_server_behind_one_endpoint_with_names_that_lead_back() {
    let everything = llamagate_test_peers::everything("streamableHttp");
    let ws = llamagate_test_peers::ws_peer();
    let state = gateway(&everything.url, &ws.url, KEY).await;
    let session = initialize(&state, "/mcp", ADMIN).await;

    let started = Instant::now();
    let tools = call(&state, "/mcp", ADMIN, &session, "tools/list", json!({})).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the down server is not waited for"
    );
    let tools_names = names(&tools, "tools", "name");
    assert!(
        tools_names.contains(&"everything__echo".to_owned()),
        "{tools_names:?}"
    );
    assert!(
        tools_names.contains(&"peer__add".to_owned()),
        "{tools_names:?}"
    );
    assert!(
        !tools_names.iter().any(|n| n.ends_with("__fail")),
        "the deny filter applies to listings"
    );
    let unavailable = &tools["result"]["_meta"]["io.llamagate/unavailable"];
    assert_eq!(unavailable[0]["server"], "down", "{tools}");

    let echoed = call(
        &state,
        "/mcp",
        ADMIN,
        &session,
        "tools/call",
        json!({"name": "everything__echo", "arguments": {"message": "hi"}}),
    )
    .await;
    assert!(
        echoed["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("hi"),
        "{echoed}"
    );
    let added = call(
        &state,
        "/mcp",
        ADMIN,
        &session,
        "tools/call",
        json!({"name": "peer__add", "arguments": {"a": 2, "b": 3}}),
    )
    .await;
    assert_eq!(added["result"]["content"][0]["text"], "5", "{added}");
    let refused = call(
        &state,
        "/mcp",
        ADMIN,
        &session,
        "tools/call",
        json!({"name": "peer__fail", "arguments": {}}),
    )
    .await;
    assert_eq!(
        refused["error"]["code"], -32602,
        "a denied tool is not callable: {refused}"
    );

    let resources = call(&state, "/mcp", ADMIN, &session, "resources/list", json!({})).await;
    let uris = names(&resources, "resources", "uri");
    let text = uris
        .iter()
        .find(|u| u.as_str() == "peer+test://text")
        .expect("the peer's resource, prefixed");
    let read = call(
        &state,
        "/mcp",
        ADMIN,
        &session,
        "resources/read",
        json!({"uri": text}),
    )
    .await;
    assert_eq!(
        read["result"]["contents"][0]["uri"], "peer+test://text",
        "{read}"
    );
    let prompts = call(&state, "/mcp", ADMIN, &session, "prompts/list", json!({})).await;
    let prompt = names(&prompts, "prompts", "name")
        .into_iter()
        .find(|p| p.starts_with("everything__"))
        .expect("a prompt of everything");
    let got = call(
        &state,
        "/mcp",
        ADMIN,
        &session,
        "prompts/get",
        json!({"name": prompt, "arguments": {}}),
    )
    .await;
    assert!(
        got["result"]["messages"].is_array() || got["error"]["code"] == -32602,
        "{got}"
    );

    // One server alone, nothing renamed.
    let single = initialize(&state, "/mcp/peer", ADMIN).await;
    let tools = call(&state, "/mcp/peer", ADMIN, &single, "tools/list", json!({})).await;
    assert!(names(&tools, "tools", "name").contains(&"add".to_owned()));
    let added = call(
        &state,
        "/mcp/peer",
        ADMIN,
        &single,
        "tools/call",
        json!({"name": "add", "arguments": {"a": 1, "b": 1}}),
    )
    .await;
    assert_eq!(added["result"]["content"][0]["text"], "2", "{added}");
    let unknown = call(
        &state,
        "/mcp",
        ADMIN,
        &session,
        "tools/call",
        json!({"name": "nope__x"}),
    )
    .await;
    assert!(
        unknown["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nope__x"),
        "{unknown}"
    );
}

#[tokio::test]
async fn a_key_sees_and_calls_exactly_what_it_may() {
    let everything = llamagate_test_peers::everything("streamableHttp");
    let ws = llamagate_test_peers::ws_peer();
    let state = gateway(&everything.url, &ws.url, KEY).await;
    let caller = initialize(&state, "/mcp", CALLER).await;
    let tools = call(&state, "/mcp", CALLER, &caller, "tools/list", json!({})).await;
    let listed = names(&tools, "tools", "name");
    assert!(
        !listed.is_empty() && listed.iter().all(|n| n.starts_with("peer__")),
        "{listed:?}"
    );
    let hidden = call(
        &state,
        "/mcp",
        CALLER,
        &caller,
        "tools/call",
        json!({"name": "everything__echo", "arguments": {"message": "x"}}),
    )
    .await;
    assert_eq!(hidden["error"]["code"], -32602, "{hidden}");
    assert_eq!(
        hidden["error"]["data"]["reason"], "unknown_tool",
        "{hidden}"
    );
    let other = rpc(&state, "POST", "/mcp/everything", CALLER, None, json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-11-25"}})).await;
    assert_eq!(
        other.status, 404,
        "a server the key may not use does not exist for it"
    );

    let reader = initialize(&state, "/mcp", READER).await;
    assert!(
        call(&state, "/mcp", READER, &reader, "tools/list", json!({})).await["result"]["tools"]
            .is_array()
    );
    let denied = call(
        &state,
        "/mcp",
        READER,
        &reader,
        "tools/call",
        json!({"name": "peer__add", "arguments": {"a": 1, "b": 2}}),
    )
    .await;
    assert!(
        denied["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mcp:call"),
        "{denied}"
    );
    // A denial is its own error, never "not found" nor a server failure (docs/mcp-endpoint.md).
    assert_eq!(denied["error"]["code"], -32003, "{denied}");
    assert_eq!(denied["error"]["data"]["reason"], "insufficient_scope");
    // A session is bound to the key that opened it.
    let stolen = rpc(
        &state,
        "POST",
        "/mcp",
        ADMIN,
        Some(&reader),
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(stolen.status, 404);
}

#[tokio::test]
async fn another_replica_continues_a_session_and_bad_sessions_get_the_statuses_of_the_spec() {
    let everything = llamagate_test_peers::everything("streamableHttp");
    let ws = llamagate_test_peers::ws_peer();
    let first = gateway(&everything.url, &ws.url, KEY).await;
    let session = initialize(&first, "/mcp", ADMIN).await;
    drop(first);
    // A restarted replica, or another one, with the same key (and the next key first).
    let second = gateway(
        &everything.url,
        &ws.url,
        &format!("\"{}\", \"{KEY}\"", "11".repeat(32)),
    )
    .await;
    let tools = call(&second, "/mcp", ADMIN, &session, "tools/list", json!({})).await;
    assert!(
        tools["result"]["tools"].as_array().unwrap().len() > 2,
        "{tools}"
    );

    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    assert_eq!(
        rpc(&second, "POST", "/mcp", ADMIN, None, request.clone())
            .await
            .status,
        400,
        "no session id"
    );
    for bad in ["v1.0.AAAA", "garbage", &session.replace('.', "")] {
        assert_eq!(
            rpc(&second, "POST", "/mcp", ADMIN, Some(bad), request.clone())
                .await
                .status,
            404,
            "{bad}"
        );
    }
    let elsewhere = rpc(
        &second,
        "POST",
        "/mcp/peer",
        ADMIN,
        Some(&session),
        request.clone(),
    )
    .await;
    assert_eq!(
        elsewhere.status, 404,
        "a session of /mcp is not one of /mcp/peer"
    );
    let other_keys = gateway(
        &everything.url,
        &ws.url,
        &format!("\"{}\"", "11".repeat(32)),
    )
    .await;
    assert_eq!(
        rpc(
            &other_keys,
            "POST",
            "/mcp",
            ADMIN,
            Some(&session),
            request.clone()
        )
        .await
        .status,
        404
    );

    assert_eq!(
        rpc(
            &second,
            "DELETE",
            "/mcp",
            ADMIN,
            Some(&session),
            Value::Null
        )
        .await
        .status,
        200
    );
    assert_eq!(
        rpc(
            &second,
            "POST",
            "/mcp",
            ADMIN,
            Some(&session),
            request.clone()
        )
        .await
        .status,
        404,
        "ended"
    );
    assert_eq!(
        rpc(&second, "GET", "/mcp", ADMIN, None, Value::Null)
            .await
            .status,
        400,
        "a GET stream belongs to a session"
    );

    // Hostile and malformed messages: named errors, and the endpoint keeps serving.
    let fresh = initialize(&second, "/mcp", ADMIN).await;
    for (body, code) in [
        (
            json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}]),
            -32600,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": 7}}),
            -32602,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "peer__add", "arguments": []}}),
            -32602,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"cursor": "forged"}}),
            -32602,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 1, "method": "no/such"}),
            -32601,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": "nowhere+x://y"}}),
            -32602,
        ),
        (
            json!({"jsonrpc": "2.0", "id": 1, "method": "logging/setLevel", "params": {"level": "loud"}}),
            -32602,
        ),
    ] {
        let answer = rpc(&second, "POST", "/mcp", ADMIN, Some(&fresh), body.clone()).await;
        assert_eq!(
            answer.body["error"]["code"], code,
            "{body}: {}",
            answer.body
        );
    }
    let notification = rpc(
        &second,
        "POST",
        "/mcp",
        ADMIN,
        Some(&fresh),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(notification.status, 202);
    assert_eq!(
        call(&second, "/mcp", ADMIN, &fresh, "ping", json!({})).await["result"],
        json!({})
    );
}
