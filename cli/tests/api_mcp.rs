//! The management API as a client uses it, against a real MCP server (the mcp 1.30 peer over
//! WebSocket): every route with the scopes that allow it, and reload.

mod support;

use axum::{
    body::Body,
    http::{Method, Request},
};
use llamagate_gateway::{app::app, metrics::Metrics, state::AppState};
use serde_json::json;
use support::{api::*, *};
use tower::ServiceExt;

#[tokio::test]
async fn routes_work_for_the_right_scopes() {
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;

    let (status, body) = send(&state, Method::GET, "/v1/mcp/servers", Some(READER), None).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hidden", "peer"]);
    let (_, body) = send(&state, Method::GET, "/v1/mcp/servers", Some(CALLER), None).await;
    assert_eq!(
        body["data"].as_array().unwrap().len(),
        1,
        "a key limited to `peer` sees only it"
    );

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["state"], "healthy");
    assert_eq!(body["session"]["protocol_version"], "2025-11-25");

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/health?probe=true",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["probe"]["ok"]),
        (200, &json!(true)),
        "{body}"
    );

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/tools",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let fail = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "fail")
        .unwrap();
    assert_eq!(fail["allowed"], false, "the global deny list marks it");

    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/servers/peer/tools/add",
        Some(CALLER),
        Some(r#"{"a": 1, "b": 2}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["structuredContent"]["result"], 3);
    assert_eq!(body["is_error"], false);
    assert!(body["duration_ms"].is_u64());

    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let request = Request::post("/v1/mcp/servers/peer/tools/meta_echo")
        .header("authorization", format!("Bearer {CALLER}"))
        .header("traceparent", traceparent)
        .body(Body::empty())
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let echoed = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let echoed: serde_json::Value = serde_json::from_slice(&echoed).unwrap();
    let seen = echoed["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        seen.contains(traceparent),
        "the W3C trace context reached the server in _meta: {seen}"
    );

    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/execute",
        Some(CALLER),
        Some(r#"{"server": "peer", "tool": "echo", "arguments": {"message": "hi"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["server"].as_str(), body["tool"].as_str()),
        (Some("peer"), Some("echo"))
    );
    assert_eq!(body["result"]["content"][0]["text"], "hi");

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/resources",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["uri"] == "test://text")
    );
    assert!(
        body["templates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["uriTemplate"] == "test://items/{item_id}")
    );
    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/resources/test%3A%2F%2Ftext",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["contents"][0]["text"]),
        (200, &json!("hello from a text resource")),
        "{body}"
    );
    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/resources?uri=test%3A%2F%2Fbinary",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(
        (status, &body["contents"][0]["blob"]),
        (200, &json!("AAECAwQFBgcICQoLDA0ODw==")),
        "{body}"
    );

    let (status, body) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/peer/prompts",
        Some(READER),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "greet")
    );
    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/servers/peer/prompts/greet",
        Some(READER),
        Some(r#"{"name": "Ada"}"#),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("Ada")
    );

    let request = Request::get("/metrics").body(Body::empty()).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let metrics = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    for needle in [
        r#"llamagate_mcp_requests_total{method="tools/call",outcome="ok",server="peer"}"#,
        r#"llamagate_mcp_cache_lookups_total{kind="tools",result="hit"}"#,
        r#"llamagate_mcp_server_health{server="peer",state="healthy"} 1"#,
        r#"llamagate_mcp_pool_sessions{server="peer",state="idle"}"#,
    ] {
        assert!(metrics.contains(needle), "metrics lack {needle}");
    }
    assert!(
        !metrics.contains("Ada") && !metrics.contains("hello"),
        "no arguments or results in labels"
    );

    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/servers/peer/restart",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!((status, &body["state"]), (200, &json!("healthy")), "{body}");
    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/servers/hidden/stop",
        Some(ADMIN),
        None,
    )
    .await;
    assert_eq!((status, &body["state"]), (200, &json!("stopped")), "{body}");
    let (status, body) = send(
        &state,
        Method::POST,
        "/v1/mcp/execute",
        Some(ADMIN),
        Some(r#"{"server": "hidden", "tool": "echo", "arguments": {"message": "x"}}"#),
    )
    .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("server_unavailable")),
        "{body}"
    );
}

#[tokio::test]
async fn reload_with_a_broken_file_changes_nothing() {
    let peer = ws_peer();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llamagate.yaml");
    let good = format!(
        "auth: {{ keys: [ {{ key: {ADMIN}, scopes: [admin, \"mcp:read\"] }} ] }}\nmcp:\n  servers:\n    - {{ name: peer, transport: websocket, url: \"{}\" }}\n",
        peer.url
    );
    std::fs::write(&path, &good).unwrap();
    let config = llamagate_gateway::config::load(&path).unwrap();
    let state = AppState::new(config.clone(), Metrics::new());
    state.set_config_path(Some(path.clone()));
    state.apply_file_servers();
    let before = state.registry().get("peer").unwrap();

    std::fs::write(
        &path,
        "mcp:\n  servers:\n    - { name: peer, transport: stdio }\n",
    )
    .unwrap();
    let (status, body) = send(&state, Method::POST, "/v1/admin/reload", Some(ADMIN), None).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("mcp.servers[0].command"),
        "{body}"
    );
    assert!(
        std::sync::Arc::ptr_eq(&before, &state.registry().get("peer").unwrap()),
        "nothing changed"
    );

    let added = format!(
        "{good}    - {{ name: second, transport: websocket, url: \"{}\" }}\n",
        peer.url
    );
    std::fs::write(&path, added).unwrap();
    let (status, body) = send(&state, Method::POST, "/v1/admin/reload", Some(ADMIN), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["servers"]["added"], json!(["second"]));
    assert_eq!(body["servers"]["unchanged"], json!(["peer"]));
    assert!(
        std::sync::Arc::ptr_eq(&before, &state.registry().get("peer").unwrap()),
        "unchanged servers keep their sessions"
    );
}

#[tokio::test]
async fn cursors_pass_through_for_clients_that_page() {
    let peer = mcp2_http();
    let yaml = format!(
        "mcp:\n  servers:\n    - {{ name: paged, transport: streamable-http, url: \"{}\" }}\n",
        peer.url
    );
    let config = llamagate_gateway::config::load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    let state = AppState::new(config.clone(), Metrics::new());
    state.apply_file_servers();
    wait_healthy(&state, "paged").await;
    let (status, first) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/paged/tools?cursor=",
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first["data"].as_array().unwrap().len(),
        2,
        "the server's own page size"
    );
    let next = first["nextCursor"].as_str().expect("more pages").to_owned();
    let (_, second) = send(
        &state,
        Method::GET,
        &format!("/v1/mcp/servers/paged/tools?cursor={next}"),
        None,
        None,
    )
    .await;
    assert_ne!(second["data"][0]["name"], first["data"][0]["name"]);
    let (_, all) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/paged/tools",
        None,
        None,
    )
    .await;
    assert!(
        all["data"].as_array().unwrap().len() > 2,
        "without a cursor every page is merged"
    );
    let (_, prompts) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/paged/prompts?cursor=",
        None,
        None,
    )
    .await;
    assert!(prompts["data"].is_array(), "{prompts}");
    let (_, resources) = send(
        &state,
        Method::GET,
        "/v1/mcp/servers/paged/resources?cursor=",
        None,
        None,
    )
    .await;
    assert_eq!(
        resources["data"].as_array().unwrap().len(),
        2,
        "{resources}"
    );
}
