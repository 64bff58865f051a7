//! `/mcp` in the 2026-07-28 stateless era, in front of the real mcp 2.3 peer: discovery,
//! the per-request `_meta` and routing headers, caching hints on merged lists, an upstream's
//! `input_required` relayed with a state sealed by the gateway, and list changes of the
//! upstream reaching `subscriptions/listen` streams and a 2025-era session's GET stream.

mod support;

use std::time::Duration;

use axum::{
    body::Body,
    http::{Request, Response},
};
use futures::StreamExt;
use llamagate::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use support::api::{ADMIN, CALLER};
use tower::ServiceExt;

const VERSION: &str = "2026-07-28";

async fn gateway(forms: &str) -> AppState {
    let yaml = format!(
        r#"
auth:
  keys:
    - {{ name: admin, key: {ADMIN}, scopes: [admin, "mcp:read", "mcp:call"] }}
    - {{ name: caller, key: {CALLER}, scopes: ["mcp:call", "mcp:read"], servers: [forms] }}
mcp:
  endpoint:
    virtual_servers:
      - name: confirmations
        servers: [forms]
        tools: {{ allow: ["forms__confirm", "forms__echo"], deny: ["forms__echo"] }}
        description: Ask before acting.
  servers:
    - {{ name: forms, transport: streamable-http, url: "{forms}" }}
"#
    );
    let config = load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    let state = AppState::new(config, Metrics::new());
    state.apply_file_servers();
    support::wait_healthy(&state, "forms").await;
    state
}

fn meta(capabilities: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"},
    })
}

/// A stateless request to `/mcp` with the headers a client sends; `name` is `Mcp-Name`.
fn request(key: &str, method: &str, name: Option<&str>, params: Value) -> Request<Body> {
    request_at("/mcp", key, method, name, params)
}

fn request_at(
    path: &str,
    key: &str,
    method: &str,
    name: Option<&str>,
    mut params: Value,
) -> Request<Body> {
    if params.get("_meta").is_none() {
        params["_meta"] = meta(json!({}));
    }
    let mut request = Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", VERSION)
        .header("mcp-method", method);
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    request.body(Body::from(body.to_string())).unwrap()
}

async fn send(state: &AppState, request: Request<Body>) -> (u16, Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let json = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text);
    (status, serde_json::from_str(json).unwrap_or(Value::Null))
}

async fn call(state: &AppState, key: &str, tool: &str, params: Value) -> (u16, Value) {
    let mut params = params;
    params["name"] = json!(tool);
    send(state, request(key, "tools/call", Some(tool), params)).await
}

#[tokio::test]
async fn a_stateless_client_discovers_lists_and_calls_through_the_gateway() {
    let forms = llamagate_test_peers::mcp2_http();
    let state = gateway(&forms.url).await;

    let (status, discovered) =
        send(&state, request(ADMIN, "server/discover", None, json!({}))).await;
    assert_eq!(status, 200, "{discovered}");
    let result = &discovered["result"];
    assert_eq!(result["supportedVersions"][0], VERSION);
    assert!(
        result["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2025-11-25"))
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "llamagate"
    );
    assert_eq!(result["resultType"], "complete");

    let (_, listed) = send(&state, request(ADMIN, "tools/list", None, json!({}))).await;
    let tools: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        tools.contains(&"forms__confirm") && tools.contains(&"forms__echo"),
        "{tools:?}"
    );
    // The peer says 60 s, public; the gateway's cache holds it at most that long.
    let ttl = listed["result"]["ttlMs"].as_u64().unwrap();
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    assert_eq!(listed["result"]["cacheScope"], "public");
    let (_, restricted) = send(&state, request(CALLER, "tools/list", None, json!({}))).await;
    assert_eq!(
        restricted["result"]["cacheScope"], "private",
        "a key limited to some servers"
    );

    let (status, echoed) = call(
        &state,
        ADMIN,
        "forms__echo",
        json!({"arguments": {"message": "hi"}}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        echoed["result"]["structuredContent"]["result"], "hi",
        "{echoed}"
    );
    assert_eq!(echoed["result"]["resultType"], "complete");

    // Routing headers must agree with the body; removed methods are 404.
    let mut params = json!({"name": "forms__echo", "arguments": {"message": "hi"}});
    params["_meta"] = meta(json!({}));
    let (status, mismatch) = send(
        &state,
        request(ADMIN, "tools/call", Some("forms__add"), params),
    )
    .await;
    assert_eq!(
        (status, mismatch["error"]["code"].clone()),
        (400, json!(-32020)),
        "{mismatch}"
    );
    assert_eq!(mismatch["id"], 7, "errors carry the request's id");
    // SEP-2243: an argument the schema marks `x-mcp-header` is sent as a header too.
    let regional = |region: Option<&str>| {
        let mut params = json!({"name": "forms__regional_echo", "arguments": {"region": "eu-west", "message": "hi"}});
        params["_meta"] = meta(json!({}));
        let mut request = request(ADMIN, "tools/call", Some("forms__regional_echo"), params);
        if let Some(region) = region {
            request
                .headers_mut()
                .insert("mcp-param-region", region.parse().unwrap());
        }
        request
    };
    let (status, routed) = send(&state, regional(Some("eu-west"))).await;
    assert_eq!(status, 200, "{routed}");
    assert_eq!(routed["result"]["content"][0]["text"], "eu-west: hi");
    for wrong in [Some("us-east"), None] {
        let (status, refused) = send(&state, regional(wrong)).await;
        assert_eq!(
            (status, refused["error"]["code"].clone()),
            (400, json!(-32020)),
            "{wrong:?}: {refused}"
        );
    }
    let (status, ping) = send(&state, request(ADMIN, "ping", None, json!({}))).await;
    assert_eq!(
        (status, ping["error"]["code"].clone()),
        (404, json!(-32601))
    );
    let (_, missing) = send(
        &state,
        request(
            ADMIN,
            "resources/read",
            Some("forms+nope://x"),
            json!({"uri": "forms+nope://x"}),
        ),
    )
    .await;
    assert_eq!(
        missing["error"]["data"]["uri"], "forms+nope://x",
        "{missing}"
    );
}

#[tokio::test]
async fn an_upstream_question_reaches_the_client_and_its_answer_goes_back() {
    let forms = llamagate_test_peers::mcp2_http();
    let state = gateway(&forms.url).await;
    let ask = |capabilities: Value| json!({"arguments": {"action": "deploy"}, "_meta": meta(capabilities)});

    let (status, refused) = call(&state, ADMIN, "forms__confirm", ask(json!({}))).await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (400, json!(-32021)),
        "{refused}"
    );
    assert_eq!(
        refused["error"]["data"]["requiredCapabilities"],
        json!({"elicitation": {}})
    );

    let (status, asked) = call(
        &state,
        ADMIN,
        "forms__confirm",
        ask(json!({"elicitation": {}})),
    )
    .await;
    assert_eq!(status, 200, "{asked}");
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required");
    assert_eq!(
        result["inputRequests"]["ok"]["method"],
        "elicitation/create"
    );
    let state_token = result["requestState"].as_str().unwrap().to_owned();

    let answer = |token: &str| {
        let mut params = ask(json!({"elicitation": {}}));
        params["inputResponses"] = json!({"ok": {"action": "accept", "content": {"sure": true}}});
        params["requestState"] = json!(token);
        params
    };
    let (status, done) = call(&state, ADMIN, "forms__confirm", answer(&state_token)).await;
    assert_eq!(status, 200, "{done}");
    let text = done["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("accept") && text.contains("pending:deploy"),
        "the upstream got its own state back: {done}"
    );

    let mut forged = state_token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let (_, tampered) = call(
        &state,
        ADMIN,
        "forms__confirm",
        answer(&String::from_utf8(forged).unwrap()),
    )
    .await;
    assert_eq!(tampered["error"]["code"], -32602, "{tampered}");
    let (_, other_key) = call(&state, CALLER, "forms__confirm", answer(&state_token)).await;
    assert_eq!(
        other_key["error"]["code"], -32602,
        "another key cannot replay it: {other_key}"
    );
}

/// The SSE events of a streaming response, as JSON, one at a time.
struct Events(axum::body::BodyDataStream, String);

impl Events {
    fn of(response: Response<Body>) -> Self {
        assert_eq!(response.status(), 200);
        Self(response.into_body().into_data_stream(), String::new())
    }

    async fn next(&mut self, within: Duration) -> Option<Value> {
        tokio::time::timeout(within, async {
            loop {
                if let Some(end) = self.1.find("\n\n") {
                    let event: String = self.1.drain(..end + 2).collect();
                    if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                        return serde_json::from_str(data).ok();
                    }
                    continue;
                }
                let chunk = self.0.next().await?.ok()?;
                self.1.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .ok()
        .flatten()
    }
}

async fn open(state: &AppState, request: Request<Body>) -> Events {
    Events::of(app(state.clone()).oneshot(request).await.unwrap())
}

#[tokio::test]
async fn upstream_list_changes_reach_listen_streams_and_session_streams() {
    let forms = llamagate_test_peers::mcp2_http();
    let state = gateway(&forms.url).await;
    let listen = |filter: Value| {
        request(
            ADMIN,
            "subscriptions/listen",
            None,
            json!({"notifications": filter}),
        )
    };
    let mut tools_stream = open(&state, listen(json!({"toolsListChanged": true}))).await;
    let ack = tools_stream
        .next(Duration::from_secs(5))
        .await
        .expect("an acknowledgement");
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    let mut prompts_stream = open(&state, listen(json!({"promptsListChanged": true}))).await;
    assert!(prompts_stream.next(Duration::from_secs(5)).await.is_some());

    // A 2025-era session of the same endpoint, and its GET stream.
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let response = app(state.clone())
        .oneshot(
            Request::post("/mcp")
                .header("authorization", format!("Bearer {ADMIN}"))
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(Body::from(initialize.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut session_stream = open(
        &state,
        Request::get("/mcp")
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-11-25")
            .body(Body::empty())
            .unwrap(),
    )
    .await;

    let (status, added) = call(
        &state,
        ADMIN,
        "forms__add_tool",
        json!({"arguments": {"name": "fresh"}}),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    let changed = tools_stream
        .next(Duration::from_secs(10))
        .await
        .expect("a tools change on the listen stream");
    assert_eq!(changed["method"], "notifications/tools/list_changed");
    assert_eq!(
        changed["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );
    let on_session = session_stream
        .next(Duration::from_secs(10))
        .await
        .expect("a change on the GET stream");
    assert_eq!(on_session["method"], "notifications/tools/list_changed");
    assert!(
        prompts_stream
            .next(Duration::from_millis(500))
            .await
            .is_none(),
        "a stream that asked for prompts only hears nothing of tools"
    );

    let (_, listed) = send(&state, request(ADMIN, "tools/list", None, json!({}))).await;
    assert!(
        listed.to_string().contains("forms__fresh"),
        "the cache was dropped: {listed}"
    );
}

#[tokio::test]
async fn a_virtual_server_shows_only_its_part() {
    let forms = llamagate_test_peers::mcp2_http();
    let state = gateway(&forms.url).await;
    let path = "/mcp/v/confirmations";
    let (_, listed) = send(
        &state,
        request_at(path, ADMIN, "tools/list", None, json!({})),
    )
    .await;
    let tools: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["forms__confirm"], "allow, then deny: {listed}");
    let (_, discovered) = send(
        &state,
        request_at(path, ADMIN, "server/discover", None, json!({})),
    )
    .await;
    assert_eq!(discovered["result"]["instructions"], "Ask before acting.");
    let params = json!({"name": "forms__echo", "arguments": {"message": "hi"}});
    let (_, hidden) = send(
        &state,
        request_at(
            path,
            ADMIN,
            "tools/call",
            Some("forms__echo"),
            params.clone(),
        ),
    )
    .await;
    assert_eq!(
        hidden["error"]["code"], -32602,
        "not listed, not callable: {hidden}"
    );
    let (_, whole) = send(
        &state,
        request_at("/mcp", ADMIN, "tools/call", Some("forms__echo"), params),
    )
    .await;
    assert_eq!(
        whole["result"]["structuredContent"]["result"], "hi",
        "the whole gateway still has it"
    );
    let (status, none) = send(
        &state,
        request_at("/mcp/v/nope", ADMIN, "tools/list", None, json!({})),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        none["error"]["message"]
            .as_str()
            .unwrap()
            .contains("virtual_servers"),
        "{none}"
    );
}

#[tokio::test]
async fn a_server_added_by_a_reload_is_announced_and_followed() {
    let forms = llamagate_test_peers::mcp2_http();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llamagate.yaml");
    let servers = |extra: &str| {
        format!(
            "mcp:\n  servers:\n    - {{ name: forms, transport: streamable-http, url: \"{}\" }}\n{extra}",
            forms.url
        )
    };
    std::fs::write(&path, servers("")).unwrap();
    let config = load_from_str(&servers(""), "llamagate.yaml", &|_| None).unwrap();
    let state = AppState::new(config, Metrics::new());
    state.set_config_path(Some(path.clone()));
    state.apply_file_servers();
    support::wait_healthy(&state, "forms").await;
    let listen = json!({"notifications": {"toolsListChanged": true}});
    let mut stream = open(&state, request(ADMIN, "subscriptions/listen", None, listen)).await;
    assert!(
        stream.next(Duration::from_secs(5)).await.is_some(),
        "the acknowledgement"
    );

    let twin = format!(
        "    - {{ name: twin, transport: streamable-http, url: \"{}\" }}\n",
        forms.url
    );
    std::fs::write(&path, servers(&twin)).unwrap();
    state.reload().await.unwrap();
    let announced = stream
        .next(Duration::from_secs(10))
        .await
        .expect("the reload announced");
    assert_eq!(announced["method"], "notifications/tools/list_changed");
    support::wait_healthy(&state, "twin").await;
    let (_, listed) = send(&state, request(ADMIN, "tools/list", None, json!({}))).await;
    assert!(listed.to_string().contains("twin__echo"), "{listed}");
    // The stream now follows the new server too.
    let (status, _) = call(
        &state,
        ADMIN,
        "twin__add_tool",
        json!({"arguments": {"name": "late"}}),
    )
    .await;
    assert_eq!(status, 200);
    let later = stream
        .next(Duration::from_secs(10))
        .await
        .expect("the new server's change");
    assert_eq!(later["method"], "notifications/tools/list_changed");
}
