//! A scripted OpenAI-compatible upstream: each request takes the next step of the script,
//! answers it (streamed in small chunks when asked), and is recorded for assertions.
#![allow(dead_code)]

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::State,
    response::IntoResponse,
    routing::{get, post},
};
use futures::StreamExt;
use serde_json::{Value, json};

/// One answer of the model.
#[derive(Debug, Clone)]
pub enum Step {
    /// Plain text.
    Text(String),
    /// Tool calls: (function name, arguments JSON).
    Calls(Vec<(String, String)>),
    /// An HTTP error with this status.
    Fail(u16, String),
    /// This body, as it is, with this content type (malformed answers).
    Raw(&'static str, String),
    /// This streamed body, then nothing, never ending (a stalled upstream).
    Stall(String),
    /// This streamed body, then the connection cut mid-answer (an upstream that crashed).
    Cut(String),
    /// Nothing for this long, then a text answer (a slow upstream).
    Slow(std::time::Duration),
}

#[derive(Clone, Default)]
pub struct Script {
    steps: Arc<Mutex<VecDeque<Step>>>,
    pub requests: Arc<Mutex<Vec<Value>>>,
    /// Repeat the call id and name in every streamed chunk, as llama-cpp-python does.
    pub repeat_names: bool,
}

impl Script {
    pub fn new(steps: Vec<Step>) -> Self {
        Self {
            steps: Arc::new(Mutex::new(steps.into())),
            requests: Arc::default(),
            repeat_names: false,
        }
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

pub fn text(s: &str) -> Step {
    Step::Text(s.to_owned())
}

pub fn calls(calls: &[(&str, &str)]) -> Step {
    Step::Calls(
        calls
            .iter()
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .collect(),
    )
}

/// Start the upstream on 127.0.0.1; returns its `/v1` base URL.
pub async fn start(script: Script) -> String {
    let app = Router::new()
        .route("/v1/chat/completions", post(complete))
        .route(
            "/v1/models",
            get(|| async {
                Json(json!({"object": "list", "data": [{"id": "scripted", "object": "model"}]}))
            }),
        )
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

const USAGE: (u64, u64) = (10, 5);

async fn complete(
    State(script): State<Script>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    script.requests.lock().unwrap().push(body.clone());
    let step = script
        .steps
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Step::Text("script exhausted".into()));
    if let Step::Stall(first) = &step {
        let first = Ok::<_, std::io::Error>(axum::body::Bytes::from(first.clone()));
        let body = futures::stream::once(async move { first }).chain(futures::stream::pending());
        return (
            [("content-type", "text/event-stream")],
            axum::body::Body::from_stream(body),
        )
            .into_response();
    }
    if let Step::Cut(first) = &step {
        let first = Ok::<_, std::io::Error>(axum::body::Bytes::from(first.clone()));
        // The cut comes a moment later, once the head and the first bytes are on the wire.
        let cut = async {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            Err(std::io::Error::other("the upstream crashed"))
        };
        let body = futures::stream::once(async move { first }).chain(futures::stream::once(cut));
        return (
            [("content-type", "text/event-stream")],
            axum::body::Body::from_stream(body),
        )
            .into_response();
    }
    if let Step::Slow(delay) = &step {
        tokio::time::sleep(*delay).await;
        return Json(json!({"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"], "choices": [{"index": 0, "message": {"role": "assistant", "content": "late"}, "finish_reason": "stop"}]})).into_response();
    }
    if let Step::Raw(content_type, body) = &step {
        return ([("content-type", *content_type)], body.clone()).into_response();
    }
    if let Step::Fail(status, message) = &step {
        let status = axum::http::StatusCode::from_u16(*status).unwrap();
        return (
            status,
            Json(json!({"error": {"message": message, "type": "server_error"}})),
        )
            .into_response();
    }
    let usage = json!({"prompt_tokens": USAGE.0, "completion_tokens": USAGE.1, "total_tokens": USAGE.0 + USAGE.1});
    if body["stream"] != true {
        let message = match &step {
            Step::Text(t) => json!({"role": "assistant", "content": t}),
            Step::Calls(calls) => {
                json!({"role": "assistant", "content": null, "tool_calls": calls.iter().enumerate().map(|(i, (n, a))| json!({"id": format!("call_{i}_{}", rand_id()), "type": "function", "function": {"name": n, "arguments": a}})).collect::<Vec<_>>()})
            }
            Step::Fail(..) | Step::Raw(..) | Step::Stall(..) | Step::Cut(..) | Step::Slow(..) => {
                unreachable!("answered above")
            }
        };
        let finish = if matches!(step, Step::Calls(_)) {
            "tool_calls"
        } else {
            "stop"
        };
        return Json(json!({"id": "chatcmpl-1", "object": "chat.completion", "model": body["model"], "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})).into_response();
    }
    let base = |delta: Value, finish: Value| json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"], "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    let mut events = vec![base(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    match &step {
        Step::Text(t) => {
            for piece in t.as_bytes().chunks(3) {
                events.push(base(
                    json!({"content": String::from_utf8_lossy(piece)}),
                    Value::Null,
                ));
            }
            events.push(base(json!({}), json!("stop")));
        }
        Step::Calls(calls) => {
            for (i, (name, arguments)) in calls.iter().enumerate() {
                events.push(base(json!({"tool_calls": [{"index": i, "id": format!("call_{i}_{}", rand_id()), "type": "function", "function": {"name": name, "arguments": ""}}]}), Value::Null));
                for piece in arguments.as_bytes().chunks(4) {
                    let mut call = json!({"index": i, "function": {"arguments": String::from_utf8_lossy(piece)}});
                    if script.repeat_names {
                        call["id"] = json!(format!("call_{i}_repeated"));
                        call["function"]["name"] = json!(name);
                    }
                    events.push(base(json!({"tool_calls": [call]}), Value::Null));
                }
            }
            events.push(base(json!({}), json!("tool_calls")));
        }
        Step::Fail(..) | Step::Raw(..) | Step::Stall(..) | Step::Cut(..) | Step::Slow(..) => {
            unreachable!("answered above")
        }
    }
    if body["stream_options"]["include_usage"] == true {
        events.push(json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": usage}));
    }
    let mut text: String = events
        .into_iter()
        .map(|e| format!("data: {e}\n\n"))
        .collect();
    text.push_str("data: [DONE]\n\n");
    ([("content-type", "text/event-stream")], text).into_response()
}

fn rand_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
