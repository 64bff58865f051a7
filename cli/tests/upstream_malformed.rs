//! An upstream that answers what no OpenAI-compatible server should, too much, or nothing:
//! the gateway answers with a clear error (streaming: an error event, then `[DONE]`), never
//! a panic, never an unbounded buffer or a hung stream, and goes on serving. Each case
//! failed before (a panicked task: 200, an empty body, no `[DONE]`; a whole body read; a
//! stream that never ended). It also crashes mid-answer, answers too slowly, or is down.

mod support;

use axum::http::Method;
use llamagate_gateway::{config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use support::{api::send_text, llm::*};

async fn gateway(upstream: &str) -> AppState {
    gateway_with(upstream, "").await
}

async fn gateway_with(upstream: &str, settings: &str) -> AppState {
    let yaml = format!("upstream: {{ url: \"{upstream}\" {settings} }}\n");
    let config = load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    AppState::new(config, Metrics::new())
}

async fn post(state: &AppState, stream: bool) -> (u16, String) {
    let body = json!({"model": "scripted", "stream": stream, "messages": [{"role": "user", "content": "hi"}]});
    let body = body.to_string();
    send_text(
        state,
        Method::POST,
        "/v1/chat/completions",
        None,
        Some(&body),
    )
    .await
}

fn sse(events: &[&str]) -> Step {
    let body: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    Step::Raw("text/event-stream", body)
}

/// The data of every event of a streamed answer.
fn events(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn streamed_chunks_of_the_wrong_shape_end_with_an_error_event() {
    for chunk in [
        r#"{"choices":[1]}"#,
        r#"{"choices":["text"]}"#,
        r#"{"choices":[{"delta":5}]}"#,
        r#"{"choices":[{"delta":{"content":"hi"},"finish_reason":null}]}"#,
    ] {
        let script = Script::new(vec![sse(&[chunk, "[DONE]"]), text("still serving")]);
        let state = gateway(&start(script).await).await;
        let (status, body) = post(&state, true).await;
        assert_eq!(status, 200, "{chunk}");
        let events = events(&body);
        assert_eq!(
            events.last().map(String::as_str),
            Some("[DONE]"),
            "{chunk}: {body}"
        );
        if chunk.contains(r#""content":"hi""#) {
            assert!(events[0].contains("\"hi\""), "a good chunk passes: {body}");
            continue;
        }
        let error: Value = serde_json::from_str(&events[0]).unwrap();
        assert_eq!(
            error["error"]["code"], "upstream_invalid",
            "{chunk}: {body}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("choices[0]"),
            "{body}"
        );
        let (status, body) = post(&state, false).await;
        assert_eq!(
            (status, body.contains("still serving")),
            (200, true),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_completion_that_is_not_an_object_is_a_bad_gateway() {
    for answer in ["[1]", "\"text\"", "42"] {
        let script = Script::new(vec![
            Step::Raw("application/json", answer.to_owned()),
            text("still serving"),
        ]);
        let state = gateway(&start(script).await).await;
        let (status, body) = post(&state, false).await;
        assert_eq!(status, 502, "{answer}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(error["error"]["code"], "upstream_invalid", "{body}");
        let (status, _) = post(&state, false).await;
        assert_eq!(status, 200, "the gateway goes on serving");
    }
}

#[tokio::test]
async fn an_answer_past_the_limit_is_refused_without_reading_it_whole() {
    let big = format!(
        r#"{{"choices":[{{"message":{{"content":"{}"}}}}]}}"#,
        "x".repeat(100_000)
    );
    let script = Script::new(vec![
        Step::Raw("application/json", big.clone()),
        sse(&[&big, "[DONE]"]),
        text("still serving"),
    ]);
    let state = gateway_with(&start(script).await, ", max_response_bytes: 16KiB").await;
    let (status, body) = post(&state, false).await;
    assert_eq!(status, 502, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "upstream_too_large", "{body}");
    assert!(body.contains("upstream.max_response_bytes"), "{body}");

    let (status, body) = post(&state, true).await;
    assert_eq!(status, 200);
    let events = events(&body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{body}");
    assert!(events[0].contains("upstream.max_response_bytes"), "{body}");
    assert_eq!(
        post(&state, false).await.0,
        200,
        "the gateway goes on serving"
    );
}

#[tokio::test]
async fn a_stream_that_goes_quiet_ends_with_a_timeout_event() {
    let first = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"he"}}]}"#;
    let script = Script::new(vec![Step::Stall(format!("data: {first}\n\n"))]);
    let state = gateway_with(&start(script).await, ", timeout: 1s").await;
    let started = std::time::Instant::now();
    let (status, body) = post(&state, true).await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "bounded by the timeout"
    );
    let events = events(&body);
    assert!(
        events[0].contains("\"he\""),
        "what came is forwarded: {body}"
    );
    let error: Value = serde_json::from_str(&events[1]).unwrap();
    assert_eq!(error["error"]["code"], "upstream_timeout", "{body}");
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{body}");
}

/// An upstream that crashes mid-answer: streaming, what came is forwarded and the stream
/// ends with an error event and `[DONE]`; not streaming, a 502 that says so. The gateway
/// serves the next request.
#[tokio::test]
async fn an_upstream_cut_mid_answer_is_a_clear_error() {
    let first = r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":"par"}}]}"#;
    let script = Script::new(vec![
        Step::Cut(format!("data: {first}\n\n")),
        Step::Cut("{\"id\": \"chatcmpl-1\", \"choi".to_owned()),
        text("whole again"),
    ]);
    let state = gateway(&start(script).await).await;
    let (status, body) = post(&state, true).await;
    assert_eq!(status, 200);
    let events = events(&body);
    assert!(events[0].contains("\"par\""), "{body}");
    let error: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
    assert_eq!(error["error"]["type"], "upstream_error", "{body}");
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{body}");

    let (status, body) = post(&state, false).await;
    assert_eq!(status, 502, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["type"], "upstream_error", "{body}");

    let (status, body) = post(&state, false).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("whole again"), "{body}");
}

/// A slow upstream, not streaming: a 504 once `upstream.timeout` passes, not a connection
/// held open; and the gateway serves the next request.
#[tokio::test]
async fn a_slow_upstream_is_a_timeout_within_upstream_timeout() {
    let script = Script::new(vec![
        Step::Slow(std::time::Duration::from_secs(30)),
        text("on time"),
    ]);
    let state = gateway_with(&start(script).await, ", timeout: 1s").await;
    let started = std::time::Instant::now();
    let (status, body) = post(&state, false).await;
    assert_eq!(status, 504, "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "bounded by the timeout: {:?}",
        started.elapsed()
    );
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "upstream_timeout", "{body}");
    let (status, body) = post(&state, false).await;
    assert_eq!(status, 200, "{body}");
}

/// An upstream that is down, streaming: the stream (already started for the client) is one
/// error event naming the URL, then `[DONE]`, at once.
#[tokio::test]
async fn a_down_upstream_ends_a_stream_with_an_error_event() {
    let dead = format!("http://127.0.0.1:{}/v1", support::free_port());
    let state = gateway(&dead).await;
    let (status, body) = post(&state, true).await;
    assert_eq!(status, 200, "{body}");
    let events = events(&body);
    let error: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(error["error"]["code"], "upstream_unreachable", "{body}");
    assert!(body.contains(&dead), "the failing URL is named: {body}");
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"), "{body}");
}
