//! `/mcp` change streams in the 2026-07-28 era and for 2025-era sessions, in front of the real
//! mcp 2.3 peer: an upstream's list change reaches `subscriptions/listen` streams (only those
//! that asked for it) and a session's GET stream, and a server added by a reload is announced
//! and then followed.

#[path = "stateless_common/mod.rs"]
mod common;
mod support;

use std::time::Duration;

use axum::{body::Body, http::Request};
use common::*;
use llamagate_gateway::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use support::api::ADMIN;
use tower::ServiceExt;

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
    let session = initialize_session(&state).await;
    let mut session_stream = open(&state, session_get(&session)).await;

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

/// `resourceSubscriptions` of `subscriptions/listen`: the gateway subscribes at the 2025-era
/// upstream (server-everything over stdio) and its `resources/updated` reach the stream under
/// the URI the client named, also after the upstream restarted; a malformed list is refused
/// naming the field.
#[tokio::test]
async fn resource_updates_of_a_2025_upstream_reach_a_listen_stream() {
    let local = llamagate_test_peers::everything_stdio();
    let args: Vec<String> = local.args.iter().map(|a| format!("\"{a}\"")).collect();
    let yaml = format!(
        "mcp:\n  servers:\n    - {{ name: local, transport: stdio, command: \"{}\", args: [{}], cwd: \"{}\" }}\n",
        local.program,
        args.join(", "),
        local.cwd.display()
    );
    let config = load_from_str(&yaml, "llamagate.yaml", &|_| None).unwrap();
    let state = AppState::new(config, Metrics::new());
    state.apply_file_servers();
    support::wait_healthy(&state, "local").await;

    let followed = "local+demo://resource/dynamic/text/1";
    let listen =
        json!({"notifications": {"resourceSubscriptions": [followed, followed, "nowhere+x://y"]}});
    let mut stream = open(&state, request(ADMIN, "subscriptions/listen", None, listen)).await;
    let ack = stream
        .next(Duration::from_secs(10))
        .await
        .expect("an acknowledgement");
    assert_eq!(
        ack["params"]["notifications"]["resourceSubscriptions"],
        json!([followed, "nowhere+x://y"]),
        "{ack}"
    );
    // The upstream sends updates of subscribed resources once this tool turns them on.
    let (status, toggled) =
        call(&state, ADMIN, "local__toggle-subscriber-updates", json!({})).await;
    assert_eq!(status, 200, "{toggled}");
    let update = stream
        .next(Duration::from_secs(15))
        .await
        .expect("an update of the subscribed resource");
    assert_eq!(
        update["method"], "notifications/resources/updated",
        "{update}"
    );
    assert_eq!(update["params"]["uri"], followed);
    assert_eq!(
        update["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        7
    );

    // A 2025-era session subscribes with `resources/subscribe`; its GET stream hears the
    // updates, and nothing once it unsubscribed.
    let session = initialize_session(&state).await;
    let mut session_stream = open(&state, session_get(&session)).await;
    let subscribe = |method: &str| {
        session_post(
            &session,
            json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": {"uri": followed}}),
        )
    };
    let (status, subscribed) = send(&state, subscribe("resources/subscribe")).await;
    assert_eq!(
        (status, &subscribed["result"]),
        (200, &json!({})),
        "{subscribed}"
    );
    let heard = session_stream
        .next(Duration::from_secs(15))
        .await
        .expect("an update on the session's GET stream");
    assert_eq!(
        heard["method"], "notifications/resources/updated",
        "{heard}"
    );
    assert_eq!(heard["params"]["uri"], followed);
    assert!(
        heard["params"].get("_meta").is_none(),
        "no subscription id on a session stream"
    );
    let (status, _) = send(&state, subscribe("resources/unsubscribe")).await;
    assert_eq!(status, 200);
    while session_stream
        .next(Duration::from_millis(300))
        .await
        .is_some()
    {}
    assert!(
        session_stream.next(Duration::from_secs(6)).await.is_none(),
        "unsubscribed: the next round of updates (every 5 s) is not heard"
    );

    // A new process (a restart) knows no subscriptions: the gateway makes them again.
    let server = state.registry().get("local").unwrap();
    server.restart(Duration::from_secs(1)).await.unwrap();
    support::wait_healthy(&state, "local").await;
    while stream.next(Duration::from_millis(300)).await.is_some() {}
    let (status, _) = call(&state, ADMIN, "local__toggle-subscriber-updates", json!({})).await;
    assert_eq!(status, 200);
    let again = stream
        .next(Duration::from_secs(15))
        .await
        .expect("an update from the new process");
    assert_eq!(again["params"]["uri"], followed, "{again}");

    for (bad, field) in [
        (
            json!({"resourceSubscriptions": "local+demo://x"}),
            "must be an array",
        ),
        (json!({"resourceSubscriptions": [""]}), "not a resource URI"),
        (
            json!({"resourceSubscriptions": vec!["local+a://b"; 300]}),
            "at most 256",
        ),
    ] {
        let (status, refused) = send(
            &state,
            request(
                ADMIN,
                "subscriptions/listen",
                None,
                json!({"notifications": bad}),
            ),
        )
        .await;
        assert_eq!(status, 200);
        let message = refused["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("params.notifications.resourceSubscriptions")
                && message.contains(field),
            "{refused}"
        );
    }
}

async fn initialize_session(state: &AppState) -> String {
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let response = app(state.clone())
        .oneshot(session_post("", initialize))
        .await
        .unwrap();
    response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn session_post(session: &str, body: Value) -> Request<Body> {
    let mut request = Request::post("/mcp")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if !session.is_empty() {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25");
    }
    request.body(Body::from(body.to_string())).unwrap()
}

fn session_get(session: &str) -> Request<Body> {
    Request::get("/mcp")
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
        .body(Body::empty())
        .unwrap()
}

/// A resource of a 2026-07-28 upstream (the mcp 2.3 peer) followed through the gateway: the
/// gateway opens its own listen stream with `resourceSubscriptions` at the upstream.
#[tokio::test]
async fn resource_updates_of_a_2026_upstream_reach_a_listen_stream() {
    let forms = llamagate_test_peers::mcp2_http();
    let state = gateway(&forms.url).await;
    let followed = "forms+test://text";
    let listen = json!({"notifications": {"resourceSubscriptions": [followed]}});
    let mut stream = open(&state, request(ADMIN, "subscriptions/listen", None, listen)).await;
    assert!(
        stream.next(Duration::from_secs(10)).await.is_some(),
        "the acknowledgement"
    );
    let (status, touched) = call(
        &state,
        ADMIN,
        "forms__touch",
        json!({"arguments": {"uri": "test://other"}}),
    )
    .await;
    assert_eq!(status, 200, "{touched}");
    let (status, _) = call(
        &state,
        ADMIN,
        "forms__touch",
        json!({"arguments": {"uri": "test://text"}}),
    )
    .await;
    assert_eq!(status, 200);
    let update = stream
        .next(Duration::from_secs(10))
        .await
        .expect("the update of the followed resource");
    assert_eq!(
        update["method"], "notifications/resources/updated",
        "{update}"
    );
    assert_eq!(
        update["params"]["uri"], followed,
        "only the followed resource: {update}"
    );
}

/// A 2025-era session that declared no capability calls a tool whose 2026-07-28 upstream
/// needs the user: a clear error naming the capability, answered in place.
#[tokio::test]
async fn a_session_that_declared_nothing_is_told_which_capability_a_call_needs() {
    let forms = llamagate_test_peers::mcp2_http();
    let state = gateway(&forms.url).await;
    let session = initialize_session(&state).await;
    let call = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "forms__confirm", "arguments": {"action": "deploy"}}});
    let (status, refused) = send(&state, session_post(&session, call)).await;
    assert_eq!(status, 200);
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`elicitation` capability") && message.contains("forms"),
        "{refused}"
    );
}
