//! The streaming loop. Content of every round is forwarded as it arrives; tool-call deltas
//! are assembled (they arrive split across many chunks) and held back; MCP rounds run
//! between upstream streams; the client's own tool calls, the finish chunk and the summed
//! usage are sent at the end, then exactly one `[DONE]`. A failure mid-stream is sent as an
//! error event before `[DONE]`. If the client goes away, the task is dropped, which drops the
//! upstream request and the tool calls in flight (MCP servers get `notifications/cancelled`).

use std::{collections::BTreeMap, time::Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::run::Chat;
use crate::error::ApiError;

/// One SSE `data:` payload for the client.
pub type Event = String;

#[derive(Default)]
struct AssembledCall {
    id: String,
    name: String,
    arguments: String,
}

/// Run the loop, sending events to `events`; stops early when the receiver is dropped.
pub fn spawn(chat: Chat) -> mpsc::Receiver<Event> {
    let (events, receiver) = mpsc::channel(64);
    tokio::spawn(async move {
        let closed = events.clone();
        tokio::select! {
            () = drive(chat, &events) => {}
            () = closed.closed() => tracing::info!("client went away; cancelling the upstream call and tool calls"),
        }
    });
    receiver
}

async fn drive(mut chat: Chat, events: &mpsc::Sender<Event>) {
    let include_usage = chat.body["stream_options"]["include_usage"] == true;
    chat.body["stream"] = Value::Bool(true);
    let outcome = rounds(&mut chat, events).await;
    match outcome {
        Ok(last) => {
            if include_usage && let Some(usage) = chat.usage.take() {
                let mut chunk = last.unwrap_or_else(|| json!({"object": "chat.completion.chunk"}));
                chunk["choices"] = json!([]);
                chunk["usage"] = usage;
                let _ = events.send(chunk.to_string()).await;
            }
            chat.observe(true);
        }
        Err(error) => {
            let _ = events.send(error.to_json().to_string()).await;
        }
    }
    let _ = events.send("[DONE]".to_owned()).await;
}

/// An upstream chunk the gateway cannot read: the stream ends with this error event.
fn invalid_chunk(what: &str) -> ApiError {
    ApiError::BadGateway {
        code: "upstream_invalid",
        message: format!("the upstream sent a streamed chunk whose {what}"),
    }
}

/// Every round; returns the last chunk seen (a template for the usage chunk).
async fn rounds(chat: &mut Chat, events: &mpsc::Sender<Event>) -> Result<Option<Value>, ApiError> {
    loop {
        let started = Instant::now();
        let mut chunks = chat.upstream.chat_stream(&chat.body).await?;
        let mut calls: BTreeMap<u64, AssembledCall> = BTreeMap::new();
        let mut content = String::new();
        let mut finish_reason = Value::Null;
        let mut last: Option<Value> = None;
        while let Some(chunk) = chunks.next().await {
            let mut chunk = chunk?;
            if let Some(error) = chunk.get("error") {
                let message = error["message"]
                    .as_str()
                    .unwrap_or("the upstream failed mid-stream")
                    .to_owned();
                return Err(ApiError::BadGateway {
                    code: "upstream_stream",
                    message,
                });
            }
            chat.add_usage(&chunk["usage"]);
            // A usage-only chunk (`choices: []`) carries nothing else to forward.
            let Some(choice) = chunk.get_mut("choices").and_then(|c| c.get_mut(0)) else {
                continue;
            };
            let Some(choice) = choice.as_object_mut() else {
                return Err(invalid_chunk("`choices[0]` is not an object"));
            };
            if let Some(reason) = choice.get_mut("finish_reason").filter(|r| !r.is_null()) {
                finish_reason = reason.take();
            }
            let delta = choice
                .entry("delta")
                .or_insert_with(|| Value::Object(Default::default()));
            if !(delta.is_object() || delta.is_null()) {
                return Err(invalid_chunk("`choices[0].delta` is not an object"));
            }
            for call in delta["tool_calls"].as_array().cloned().unwrap_or_default() {
                let entry = calls
                    .entry(call["index"].as_u64().unwrap_or(0))
                    .or_default();
                // OpenAI sends the id and name once; llama-cpp-python repeats both in every
                // chunk. An id is whole; a name may come in pieces but never repeats itself.
                if let Some(id) = call["id"].as_str()
                    && entry.id.is_empty()
                {
                    entry.id.push_str(id);
                }
                if let Some(name) = call["function"]["name"].as_str()
                    && name != entry.name
                {
                    entry.name.push_str(name);
                }
                if let Some(arguments) = call["function"]["arguments"].as_str() {
                    entry.arguments.push_str(arguments);
                }
            }
            if let Some(object) = delta.as_object_mut() {
                object.remove("tool_calls");
            }
            let has_text = delta["content"].as_str().is_some_and(|c| !c.is_empty())
                || delta["role"].is_string();
            if let Some(text) = delta["content"].as_str() {
                content.push_str(text);
            }
            let template = chunk.clone();
            if has_text && !chunk["choices"].as_array().is_none_or(Vec::is_empty) {
                chunk["usage"] = Value::Null;
                if let Some(object) = chunk.as_object_mut() {
                    object.remove("usage");
                }
                if events.send(chunk.to_string()).await.is_err() {
                    return Ok(None);
                }
            }
            last = Some(template);
        }
        chat.external.add(started.elapsed());
        let tool_calls: Vec<Value> = calls
            .into_values()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
        let round = chat.classify(&tool_calls);
        if !round.mcp.is_empty() && round.client_calls == 0 {
            chat.admit(round.mcp.len())?;
            let assistant =
                json!({"role": "assistant", "content": content, "tool_calls": tool_calls});
            chat.append_round(assistant, round.mcp).await;
            continue;
        }
        // The end: the client's calls (a mixed round keeps its MCP calls, see run.rs), then
        // the finish chunk.
        let mut end = last
            .clone()
            .unwrap_or_else(|| json!({"object": "chat.completion.chunk"}));
        if let Some(object) = end.as_object_mut() {
            object.remove("usage");
        }
        let delta = if tool_calls.is_empty() {
            json!({})
        } else {
            let indexed: Vec<Value> = tool_calls
                .iter()
                .enumerate()
                .map(|(i, call)| {
                    let mut call = call.clone();
                    call["index"] = json!(i);
                    call
                })
                .collect();
            json!({"tool_calls": indexed})
        };
        if finish_reason.is_null() {
            finish_reason = json!(if tool_calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            });
        }
        end["choices"] = json!([{"index": 0, "delta": delta, "finish_reason": finish_reason}]);
        let _ = events.send(end.to_string()).await;
        return Ok(last);
    }
}
