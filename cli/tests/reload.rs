//! A reload applies all of the file: the upstream, rate limits and the body limit take
//! effect for the next request (before, the shown config changed but requests kept the old
//! upstream and limits, and the body limit was fixed at start); what needs a restart is
//! kept and named in the answer.

mod support;

use axum::http::Method;
use llamagate_gateway::{metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use support::{api::*, llm::*};

fn file(upstream: &str, extra: &str) -> String {
    format!(
        "listen: 127.0.0.1:11435\nupstream: {{ url: \"{upstream}\" }}\nauth: {{ keys: [ {{ key: {ADMIN} }} ] }}\n{extra}"
    )
}

async fn chat(state: &AppState, padding: usize) -> (u16, Value) {
    let body =
        json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(padding)}]});
    let body = body.to_string();
    send(
        state,
        Method::POST,
        "/v1/chat/completions",
        Some(ADMIN),
        Some(&body),
    )
    .await
}

fn answer(body: &Value) -> &str {
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_reload_switches_the_upstream_and_the_limits_at_once() {
    let first = start(Script::new(vec![text("from the first"); 4])).await;
    let second = start(Script::new(vec![text("from the second"); 4])).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llamagate.yaml");
    std::fs::write(&path, file(&first, "")).unwrap();
    let state = AppState::new(
        llamagate_gateway::config::load(&path).unwrap(),
        Metrics::new(),
    );
    state.set_config_path(Some(path.clone()));
    let (status, body) = chat(&state, 10).await;
    assert_eq!((status, answer(&body)), (200, "from the first"));
    assert_eq!(
        chat(&state, 20_000).await.0,
        200,
        "20 kB fits the default limit"
    );

    let changed = file(
        &second,
        "server: { max_body_bytes: 16KiB }\nrate_limit: { requests_per_second: 0.1, burst: 2 }\n",
    )
    .replace("127.0.0.1:11435", "127.0.0.1:11499");
    std::fs::write(&path, changed).unwrap();
    let (status, body) = send(&state, Method::POST, "/v1/admin/reload", Some(ADMIN), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["needs_restart"], json!(["listen"]), "{body}");

    let (status, body) = chat(&state, 10).await;
    assert_eq!((status, answer(&body)), (200, "from the second"), "{body}");
    assert_eq!(chat(&state, 10).await.0, 200);
    assert_eq!(chat(&state, 10).await.0, 429, "the new burst of 2 applies");
    assert_eq!(
        state.config().listen.port(),
        11435,
        "listen is kept until a restart"
    );
}

#[tokio::test]
async fn a_reload_applies_a_new_body_limit() {
    let upstream = start(Script::new(vec![text("ok"); 4])).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llamagate.yaml");
    std::fs::write(&path, file(&upstream, "")).unwrap();
    let state = AppState::new(
        llamagate_gateway::config::load(&path).unwrap(),
        Metrics::new(),
    );
    state.set_config_path(Some(path.clone()));
    assert_eq!(chat(&state, 20_000).await.0, 200);
    std::fs::write(
        &path,
        file(&upstream, "server: { max_body_bytes: 16KiB }\n"),
    )
    .unwrap();
    let (status, body) = send(&state, Method::POST, "/v1/admin/reload", Some(ADMIN), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["needs_restart"], json!([]), "{body}");
    let (status, body) = chat(&state, 20_000).await;
    assert_eq!(status, 413, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_body_bytes"),
        "{body}"
    );
}
