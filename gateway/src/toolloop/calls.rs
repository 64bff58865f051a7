//! Running one round's MCP calls and turning their outcomes into `tool` messages. Errors,
//! timeouts and requests for user input go back to the model as the tool's result, marked as
//! errors; they never end the request.

use std::time::Instant;

use futures::StreamExt;
use llamagate_mcp::server::operations::{ToolCall, ToolOutcome};
use serde_json::{Map, Value, json};

use super::naming::ToolRef;
use crate::{middleware::ExternalTime, state::AppState};

/// One call the model made.
#[derive(Debug, Clone)]
pub struct PendingCall {
    /// `tool_calls[].id`
    pub id: String,
    /// The MCP tool it resolves to.
    pub tool: ToolRef,
    /// The raw `arguments` string.
    pub arguments: String,
}

/// Run `calls` concurrently (at most `parallel` at once) and return one `tool` message each,
/// in the order of `calls`.
pub async fn run_calls(
    state: &AppState,
    calls: Vec<PendingCall>,
    parallel: usize,
    external: &ExternalTime,
    request_id: &str,
    meta: &Map<String, Value>,
) -> Vec<Value> {
    let started = Instant::now();
    let messages = futures::stream::iter(
        calls
            .into_iter()
            .map(|call| run_one(state, call, request_id, meta)),
    )
    .buffered(parallel.max(1))
    .collect::<Vec<_>>()
    .await;
    external.add(started.elapsed());
    messages
}

async fn run_one(
    state: &AppState,
    call: PendingCall,
    request_id: &str,
    meta: &Map<String, Value>,
) -> Value {
    let started = Instant::now();
    let content = match serde_json::from_str::<Value>(if call.arguments.trim().is_empty() {
        "{}"
    } else {
        &call.arguments
    }) {
        Ok(Value::Object(arguments)) => match state.registry().get(&call.tool.server) {
            Some(server) => {
                let outcome = server
                    .call_tool(ToolCall {
                        name: call.tool.tool.clone(),
                        arguments,
                        meta: meta.clone(),
                        ..Default::default()
                    })
                    .await;
                let ok = matches!(&outcome, Ok(o) if !o.is_error());
                tracing::info!(request_id, server = %call.tool.server, tool = %call.tool.tool, duration_ms = started.elapsed().as_millis() as u64, ok, "tool call");
                match outcome {
                    Ok(ToolOutcome::Complete { result }) => render(&result),
                    Ok(ToolOutcome::InputRequired { .. }) => format!(
                        "Error: tool {} needs input from the user, which cannot be given through chat; call it through /v1/mcp/execute instead",
                        call.tool.canonical()
                    ),
                    Err(e) => format!("Error: tool {} failed: {e}", call.tool.canonical()),
                }
            }
            None => format!("Error: MCP server `{}` is gone", call.tool.server),
        },
        Ok(_) | Err(_) => format!(
            "Error: the arguments of {} are not a JSON object: {}",
            call.tool.canonical(),
            call.arguments
        ),
    };
    json!({"role": "tool", "tool_call_id": call.id, "content": content})
}

/// The text of a `CallToolResult`: text blocks joined, other blocks as JSON, structured
/// content when there is no text; `isError` results are prefixed so the model knows.
fn render(result: &Value) -> String {
    let mut parts = Vec::new();
    for block in result["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => parts.push(block["text"].as_str().unwrap_or_default().to_owned()),
            Some("image" | "audio") => parts.push(format!(
                "[{} {}, {} bytes base64]",
                block["type"].as_str().unwrap_or(""),
                block["mimeType"].as_str().unwrap_or(""),
                block["data"].as_str().map_or(0, str::len)
            )),
            _ => parts.push(block.to_string()),
        }
    }
    if parts.is_empty() && !result["structuredContent"].is_null() {
        parts.push(result["structuredContent"].to_string());
    }
    let text = parts.join("\n");
    if result["isError"] == true {
        format!("Error: {text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_become_text_for_the_model() {
        assert_eq!(
            render(
                &json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
            ),
            "a\nb"
        );
        assert_eq!(
            render(&json!({"content": [{"type": "text", "text": "boom"}], "isError": true})),
            "Error: boom"
        );
        assert_eq!(
            render(&json!({"content": [], "structuredContent": {"x": 1}})),
            r#"{"x":1}"#
        );
        assert!(
            render(
                &json!({"content": [{"type": "image", "mimeType": "image/png", "data": "AAAA"}]})
            )
            .contains("image/png")
        );
    }
}
