//! A fast scripted OpenAI-compatible server: `POST /v1/chat/completions` answers "ok" at
//! once; when the last message is the user's "tools", it first asks for three calls of the
//! first tool it was offered (`{"message": "hi"}`), and answers "ok" once their results are in.
//! `"stream": true` gets the same answer as one chunk and `[DONE]`.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use serde_json::{Value, json};

use super::{Body, full, json, status};

/// Serve the LLM upstream on 127.0.0.1:`port` until the process ends.
pub async fn run(port: u16) -> anyhow::Result<()> {
    super::serve(port, |request| async move { answer(request) }).await
}

fn answer(request: Request<Bytes>) -> Response<Body> {
    match (request.method(), request.uri().path()) {
        (&Method::POST, "/v1/chat/completions") => {}
        (&Method::GET, "/v1/models") => {
            return json(
                &json!({ "object": "list", "data": [{ "id": "bench", "object": "model" }] }),
            );
        }
        _ => return status(StatusCode::NOT_FOUND),
    }
    let Ok(body) = serde_json::from_slice::<Value>(request.body()) else {
        return status(StatusCode::BAD_REQUEST);
    };
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    let tool = body["tools"][0]["function"]["name"].as_str();
    let message = match tool {
        Some(tool) if last["role"] == "user" && last["content"] == "tools" => {
            let calls: Vec<Value> = (0..3)
                .map(|i| {
                    json!({ "id": format!("call{i}"), "type": "function",
                    "function": { "name": tool, "arguments": "{\"message\":\"hi\"}" } })
                })
                .collect();
            json!({ "role": "assistant", "content": null, "tool_calls": calls })
        }
        _ => json!({ "role": "assistant", "content": "ok" }),
    };
    let finish = if message["tool_calls"].is_array() {
        "tool_calls"
    } else {
        "stop"
    };
    if body["stream"] == true {
        let chunk = json!({ "id": "bench", "object": "chat.completion.chunk", "created": 0, "model": "bench",
            "choices": [{ "index": 0, "delta": message, "finish_reason": finish }] });
        let mut response = Response::new(full(format!("data: {chunk}\n\ndata: [DONE]\n\n")));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/event-stream"),
        );
        return response;
    }
    json(&json!({
        "id": "bench", "object": "chat.completion", "created": 0, "model": "bench",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish }],
        "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 },
    }))
}
