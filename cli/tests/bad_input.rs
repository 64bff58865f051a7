//! Every HTTP route against hostile input: oversized bodies, deep JSON nesting, invalid
//! UTF-8, wrong content types, bad percent-encoding, huge headers and query strings. Each
//! gets the right status and our error shape (`{"error": {"message", "type", "code"}}`), and
//! the gateway keeps serving: the table walks the route list of the OpenAPI document, so a
//! new route is covered the day it is added.

mod support;

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::Duration,
};

use axum::{
    body::Body,
    http::{Method, Request},
};
use llamagate_gateway::{
    api::openapi::{self, ROUTES, Route},
    app::app,
    config::Scope,
    state::AppState,
};
use serde_json::Value;
use support::{api::*, *};
use tower::ServiceExt;

/// The key that may use `route`, so that what is judged is the input, not the key.
fn key_for(route: &Route) -> Option<&'static str> {
    route.scope.map(|scope| match scope {
        Scope::Chat => CHAT_ONLY,
        Scope::McpRead => READER,
        Scope::McpCall => CALLER,
        Scope::Admin => ADMIN,
    })
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "peer")
        .replace("{tool}", "echo")
        .replace("{uri}", "test%3A%2F%2Ftext")
        .replace("{name}", "greet")
}

async fn send_raw(
    state: &AppState,
    method: &str,
    path: &str,
    key: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Our error shape, with a message that says something.
fn assert_error_shape(what: &str, answer: &Value) {
    let error = &answer["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| m.len() > 10)
            && error["type"].is_string()
            && error["code"].is_string(),
        "{what}: not our error shape: {answer}"
    );
}

fn deep_nesting(levels: usize) -> Vec<u8> {
    let mut body = "{\"a\":".repeat(levels);
    body.push('1');
    body.push_str(&"}".repeat(levels));
    body.into_bytes()
}

/// A JSON object over the gateway's 64 KiB body limit (`support::api::gateway`).
fn oversized() -> Vec<u8> {
    format!("{{\"a\": \"{}\"}}", "x".repeat(65 * 1024)).into_bytes()
}

#[tokio::test]
async fn every_body_route_refuses_bad_bodies_with_our_error_shape() {
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;
    let json = Some("application/json");
    let cases: [(&str, Option<&str>, Vec<u8>, u16); 6] = [
        ("an oversized body", json, oversized(), 413),
        ("nesting 5,000 deep", json, deep_nesting(5000), 400),
        (
            "invalid UTF-8",
            json,
            b"{\"a\": \"\xff\xfe\"}".to_vec(),
            400,
        ),
        ("not JSON", json, b"{\"a\": ".to_vec(), 400),
        ("text/plain", Some("text/plain"), b"{}".to_vec(), 415),
        ("no content type", None, b"{}".to_vec(), 415),
    ];
    let body_routes = ROUTES
        .iter()
        .filter(|r| !matches!(r.body, openapi::Body::None));
    for route in body_routes {
        let path = concrete(route.path);
        for (what, content_type, body, expected) in &cases {
            let (status, answer) = send_raw(
                &state,
                route.method,
                &path,
                key_for(route),
                *content_type,
                body.clone(),
            )
            .await;
            let what = format!("{} {path} with {what}", route.method);
            assert_eq!(status, *expected, "{what}: {answer}");
            if path.starts_with("/mcp") {
                // The MCP endpoint answers in JSON-RPC's shape, naming the problem.
                assert!(
                    answer["error"]["code"].is_i64()
                        && answer["error"]["message"]
                            .as_str()
                            .is_some_and(|m| m.len() > 10),
                    "{what}: not a JSON-RPC error: {answer}"
                );
                continue;
            }
            assert_error_shape(&what, &answer);
        }
    }
    // Still serving, and the server behind it untouched.
    let (status, answer) = send(
        &state,
        Method::POST,
        "/v1/mcp/execute",
        Some(CALLER),
        Some(r#"{"server": "peer", "tool": "echo", "arguments": {"text": "still here"}}"#),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn every_route_refuses_bad_paths_and_queries_with_our_error_shape() {
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;
    for route in ROUTES {
        let path = concrete(route.path);
        let body = (!matches!(route.body, openapi::Body::None)).then(|| b"{}".to_vec());
        let content_type = body.as_ref().map(|_| "application/json");
        let key = key_for(route);
        // A parameter that is not UTF-8 once decoded.
        if route.path.contains("{id}") {
            let bad = path.replacen("peer", "%FF%FE", 1);
            let (status, answer) = send_raw(
                &state,
                route.method,
                &bad,
                key,
                content_type,
                body.clone().unwrap_or_default(),
            )
            .await;
            let what = format!("{} {bad}", route.method);
            assert!([400, 404].contains(&status), "{what}: {status} {answer}");
            assert_error_shape(&what, &answer);
        }
        // A query parameter the route does not know.
        let unknown = format!("{path}?bogus=1");
        let (status, answer) = send_raw(
            &state,
            route.method,
            &unknown,
            key,
            content_type,
            body.clone().unwrap_or_default(),
        )
        .await;
        let what = format!("{} {unknown}", route.method);
        if route.query.is_empty() {
            // Routes without query parameters ignore a query, as HTTP servers do: the
            // answer is the one without it.
            let (plain, _) = send_raw(
                &state,
                route.method,
                &path,
                key,
                content_type,
                body.clone().unwrap_or_default(),
            )
            .await;
            assert_eq!(status, plain, "{what}: {answer}");
        } else {
            assert_eq!(status, 400, "{what}: {answer}");
            assert_error_shape(&what, &answer);
            assert!(
                answer["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("bogus"),
                "{what}: the message names the parameter: {answer}"
            );
        }
    }
}

/// One HTTP/1.1 exchange on a fresh connection; the status code (0: closed without one).
fn exchange(addr: &str, request: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before it has read all of an oversized request.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn huge_headers_and_request_lines_are_refused_and_the_process_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    std::fs::write(&config, "mcp: { servers: [] }\n").unwrap();
    let gateway = serve_process(&["--config", config.to_str().unwrap()]);
    let addr = gateway.addr.clone();
    let healthy = || {
        exchange(
            &addr,
            b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
    };
    assert_eq!(healthy(), 200);

    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\nconnection: close\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\n{}connection: close\r\n\r\n",
        (0..500)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    let huge_query = format!(
        "GET /v1/mcp/servers?{} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "q".repeat(1 << 20)
    );
    for (what, request) in [
        ("a 1 MiB header", huge_header),
        ("500 headers", many_headers),
        ("a 1 MiB query string", huge_query),
    ] {
        let status = exchange(&addr, request.as_bytes());
        assert!(
            [400, 414, 431].contains(&status),
            "{what}: answered {status}, not a refusal"
        );
        assert_eq!(healthy(), 200, "still serving after {what}");
    }
}
