//! `/mcp` in the 2026-07-28 stateless era, in front of the real mcp 2.3 peer: discovery,
//! the per-request `_meta` and routing headers, caching hints on merged lists, an upstream's
//! `input_required` relayed with a state sealed by the gateway, and a virtual server's part.
//! Change streams: mcp_endpoint_streams.rs.

#[path = "stateless_common/mod.rs"]
mod common;
mod support;

use common::*;
use serde_json::{Value, json};
use support::api::{ADMIN, CALLER};

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

    // The same rounds for a prompt: its state is bound to the prompt, not a tool.
    let prompt = |extra: Value| {
        let mut params = json!({"name": "forms__approval", "arguments": {"change": "deploy"},
            "_meta": meta(json!({"elicitation": {}}))});
        if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
            params.extend(extra.clone());
        }
        request(ADMIN, "prompts/get", Some("forms__approval"), params)
    };
    let (status, asked) = send(&state, prompt(json!({}))).await;
    assert_eq!(status, 200, "{asked}");
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    assert_eq!(
        result["inputRequests"]["who"]["params"]["message"],
        "Who approves deploy?"
    );
    let sealed = result["requestState"].as_str().unwrap().to_owned();
    assert!(
        !sealed.contains("approval:"),
        "the upstream's state is sealed: {sealed}"
    );
    let answers = json!({"who": {"action": "accept", "content": {"approver": "Lin"}}});
    let (_, done) = send(
        &state,
        prompt(json!({"inputResponses": answers, "requestState": sealed})),
    )
    .await;
    let text = done["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        text, "Change deploy, approved by Lin (state approval:deploy).",
        "{done}"
    );
    let (_, misused) = call(&state, ADMIN, "forms__confirm", answer(&sealed)).await;
    assert_eq!(
        misused["error"]["code"], -32602,
        "a prompt's state on a tool: {misused}"
    );
}

/// The SSE events of a streaming response, as JSON, one at a time.
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
