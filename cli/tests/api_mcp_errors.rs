//! The management API refusing what it must: wrong keys and scopes, and a table of bad
//! inputs, each answered with the right status and the error shape.

mod support;

use axum::{
    body::Body,
    http::{Method, Request},
};
use llamagate_gateway::app::app;
use support::{api::*, *};
use tower::ServiceExt;

/// method, path, key, body, expected status, expected error code
type Case<'a> = (
    Method,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    u16,
    &'a str,
);

#[tokio::test]
async fn wrong_scopes_and_keys_are_refused() {
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;
    let cases: &[Case] = &[
        (
            Method::GET,
            "/v1/mcp/servers",
            None,
            None,
            401,
            "invalid_api_key",
        ),
        (
            Method::GET,
            "/v1/mcp/servers",
            Some("wrong-key-0123456789"),
            None,
            401,
            "invalid_api_key",
        ),
        (
            Method::GET,
            "/v1/mcp/servers",
            Some(CHAT_ONLY),
            None,
            403,
            "insufficient_scope",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/tools/echo",
            Some(READER),
            Some("{}"),
            403,
            "insufficient_scope",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/restart",
            Some(CALLER),
            None,
            403,
            "insufficient_scope",
        ),
        (
            Method::POST,
            "/v1/admin/reload",
            Some(READER),
            None,
            403,
            "insufficient_scope",
        ),
        (
            Method::GET,
            "/v1/mcp/servers/hidden",
            Some(CALLER),
            None,
            404,
            "unknown_server",
        ),
    ];
    for (method, path, key, body, status, code) in cases {
        let (got, answer) = send(&state, method.clone(), path, *key, *body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (*status, Some(*code)),
            "{method} {path}: {answer}"
        );
    }
    // The key in the wrong header is not a key.
    let request = Request::get("/v1/mcp/servers")
        .header("x-auth", READER)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        401
    );
    let request = Request::get("/v1/mcp/servers")
        .header("x-api-key", READER)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        200,
        "X-API-Key works"
    );
    // Open endpoints stay open.
    let request = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn bad_inputs_get_clear_errors() {
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;
    let big = format!("{{\"a\": \"{}\"}}", "x".repeat(100 * 1024));
    let cases: Vec<(Method, &str, Option<&str>, u16, &str)> = vec![
        (
            Method::POST,
            "/v1/mcp/execute",
            Some("{not json"),
            400,
            "invalid_json",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": 1, "tool": "echo"}"#),
            400,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": "peer"}"#),
            400,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": "nope", "tool": "echo"}"#),
            404,
            "unknown_server",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": "peer", "tool": "nope"}"#),
            404,
            "unknown_tool",
        ),
        (
            Method::POST,
            "/v1/mcp/execute",
            Some(r#"{"server": "peer", "tool": "fail"}"#),
            403,
            "insufficient_scope",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/tools/echo",
            Some("[1, 2]"),
            400,
            "invalid_body",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/tools/echo",
            Some(&big),
            413,
            "body_too_large",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/prompts/nope",
            Some("{}"),
            404,
            "unknown_prompt",
        ),
        (
            Method::POST,
            "/v1/mcp/servers/peer/prompts/greet",
            Some(r#"{"name": 5}"#),
            400,
            "invalid_arguments",
        ),
        (
            Method::GET,
            "/v1/mcp/servers/peer/resources/%FF%FE",
            None,
            400,
            "invalid_path",
        ),
        (
            Method::GET,
            "/v1/mcp/servers/peer/health?probe=maybe",
            None,
            400,
            "invalid_query",
        ),
        (
            Method::DELETE,
            "/v1/mcp/servers/peer",
            None,
            405,
            "method_not_allowed",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, answer) = send(&state, method.clone(), path, Some(ADMIN), body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

/// Route × scope, over every documented route (`api::openapi::ROUTES`) and every key: a
/// key with the route's scope gets past authorization (whatever the handler then says), a
/// key without it gets 403, no key 401; open routes need none.
#[tokio::test]
async fn every_route_checks_its_scope() {
    use llamagate_gateway::{api::openapi::ROUTES, config::Scope};
    let peer = ws_peer();
    let state = gateway(&peer.url, "").await;
    let keys: [(&str, &[Scope]); 4] = [
        (READER, &[Scope::McpRead]),
        (CALLER, &[Scope::McpCall, Scope::McpRead]),
        (CHAT_ONLY, &[Scope::Chat]),
        (ADMIN, &[Scope::Admin, Scope::McpRead, Scope::McpCall]),
    ];
    // Admin routes that change the server go last, so that the others see it running.
    let mut routes: Vec<_> = ROUTES.iter().collect();
    routes.sort_by_key(|route| route.scope == Some(Scope::Admin));
    for route in routes {
        let path = route
            .path
            .replace("{id}", "peer")
            .replace("{tool}", "echo")
            .replace("{uri}", "test%3A%2F%2Ftext")
            .replace("{name}", "greet");
        let method = Method::from_bytes(route.method.to_uppercase().as_bytes()).unwrap();
        let body = (method == Method::POST).then_some("{}");
        let (anonymous, _) = send(&state, method.clone(), &path, None, body).await;
        match route.scope {
            None => assert!(
                ![401, 403].contains(&anonymous),
                "{path}: open, got {anonymous}"
            ),
            Some(_) => assert_eq!(anonymous, 401, "{} {path} without a key", route.method),
        }
        let Some(scope) = route.scope else { continue };
        for (key, scopes) in keys {
            let (status, answer) = send(&state, method.clone(), &path, Some(key), body).await;
            if scopes.contains(&scope) {
                assert!(
                    ![401, 403].contains(&status),
                    "{} {path} with {scope:?}: {status} {answer}",
                    route.method
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{} {path} without {scope:?}: {answer}",
                    route.method
                );
            }
        }
    }
}
