//! The tool loop: call the model, run the round's MCP calls, append the results, call the
//! model again; stop at a round without MCP calls.
//!
//! A round that mixes client-defined and MCP calls is returned to the client as the model
//! made it (every call, `finish_reason: "tool_calls"`), and its MCP calls are *deferred*:
//! when the client sends the conversation back with its own tool results, the gateway runs
//! the MCP calls that still have no result before calling the model. No call runs twice, no
//! result is lost, and the gateway keeps no state between requests.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::{calls::PendingCall, exposure, naming::NameTable, resources, upstream::Upstream};
use crate::{
    auth::Principal, config::LimitsConfig, error::ApiError, middleware::ExternalTime,
    state::AppState,
};

/// One chat request in progress.
pub struct Chat {
    pub(crate) state: AppState,
    pub(crate) upstream: Upstream,
    pub(crate) names: NameTable,
    pub(crate) body: Value,
    pub(crate) limits: LimitsConfig,
    pub(crate) external: ExternalTime,
    pub(crate) request_id: String,
    pub(crate) meta: Map<String, Value>,
    pub(crate) rounds: u32,
    pub(crate) total_calls: u32,
    pub(crate) usage: Option<Value>,
}

/// What the model did in one round.
pub(crate) struct Round {
    /// MCP calls to run now.
    pub mcp: Vec<PendingCall>,
    /// Calls of client-defined functions.
    pub client_calls: usize,
}

impl Chat {
    /// Validate the request, inline `mcp_resource` blocks, expose the tools, and run MCP calls
    /// deferred from an earlier mixed round.
    pub async fn prepare(
        state: AppState,
        principal: &Principal,
        request_id: String,
        external: ExternalTime,
        meta: Map<String, Value>,
        mut body: Value,
    ) -> Result<Self, ApiError> {
        let object = body.as_object_mut().ok_or_else(|| {
            ApiError::bad_request("invalid_body", "the body must be a JSON object")
        })?;
        if !object.get("model").is_some_and(Value::is_string) {
            return Err(ApiError::bad_request(
                "invalid_body",
                "`model` (a string) is required",
            ));
        }
        let messages = object
            .get_mut("messages")
            .and_then(Value::as_array_mut)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request("invalid_body", "`messages` must be a non-empty array")
            })?;
        resources::inline(&state, principal, messages).await?;
        let exposure = exposure::expose(&state, principal, object.get("tools")).await?;
        if exposure.tools.is_empty() {
            object.remove("tools");
        } else {
            object.insert("tools".into(), Value::Array(exposure.tools));
        }
        let config = state.config();
        let mut chat = Self {
            upstream: state.upstream(),
            limits: config.mcp.limits.clone(),
            state,
            names: exposure.names,
            body,
            external,
            request_id,
            meta,
            rounds: 0,
            total_calls: 0,
            usage: None,
        };
        chat.run_deferred_calls().await?;
        Ok(chat)
    }

    /// Sort a round's tool calls into MCP calls and client calls.
    pub(crate) fn classify(&self, tool_calls: &[Value]) -> Round {
        let mut round = Round {
            mcp: Vec::new(),
            client_calls: 0,
        };
        for call in tool_calls {
            let name = call["function"]["name"].as_str().unwrap_or_default();
            match self.names.resolve(name) {
                Some(tool) => round.mcp.push(PendingCall {
                    id: call["id"].as_str().unwrap_or_default().to_owned(),
                    tool: tool.clone(),
                    arguments: call["function"]["arguments"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                }),
                None => round.client_calls += 1,
            }
        }
        round
    }

    /// Count a round against the limits; a limit reached is an explicit 422.
    pub(crate) fn admit(&mut self, calls: usize) -> Result<(), ApiError> {
        let calls = u32::try_from(calls).unwrap_or(u32::MAX);
        self.rounds += 1;
        if self.rounds > self.limits.max_tool_rounds {
            return Err(limit(
                "max_tool_rounds_exceeded",
                format!(
                    "the model kept calling tools after {} rounds (mcp.limits.max_tool_rounds)",
                    self.limits.max_tool_rounds
                ),
            ));
        }
        if calls > self.limits.max_tool_calls_per_round {
            return Err(limit(
                "max_tool_calls_per_round_exceeded",
                format!(
                    "the model made {calls} tool calls in one round; the limit is {} (mcp.limits.max_tool_calls_per_round)",
                    self.limits.max_tool_calls_per_round
                ),
            ));
        }
        self.total_calls += calls;
        if self.total_calls > self.limits.max_total_tool_calls {
            return Err(limit(
                "max_total_tool_calls_exceeded",
                format!(
                    "the request needed more than {} tool calls (mcp.limits.max_total_tool_calls)",
                    self.limits.max_total_tool_calls
                ),
            ));
        }
        Ok(())
    }

    /// Run a round's MCP calls and append the assistant message and the results.
    pub(crate) async fn append_round(&mut self, mut assistant: Value, calls: Vec<PendingCall>) {
        // Some servers (llama.cpp's) reject `content: null` on assistant messages.
        if let Some(message) = assistant.as_object_mut()
            && message.get("content").is_none_or(Value::is_null)
        {
            message.insert("content".to_owned(), Value::String(String::new()));
        }
        let parallel = self.limits.max_tool_calls_per_round as usize;
        let results = super::calls::run_calls(
            &self.state,
            calls,
            parallel,
            &self.external,
            &self.request_id,
            &self.meta,
        )
        .await;
        let messages = self.body["messages"]
            .as_array_mut()
            .expect("checked in prepare");
        messages.push(assistant);
        messages.extend(results);
        // A forced tool choice (`required`, or one named function) applies to the round that
        // made the call; forcing it again would loop until max_tool_rounds.
        if self.body["tool_choice"].is_object() || self.body["tool_choice"] == "required" {
            self.body["tool_choice"] = Value::String("auto".to_owned());
        }
    }

    /// Add a round's `usage` to the request's.
    pub(crate) fn add_usage(&mut self, usage: &Value) {
        if !usage.is_object() {
            return;
        }
        let total = self.usage.get_or_insert_with(
            || json!({"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}),
        );
        for key in ["prompt_tokens", "completion_tokens", "total_tokens"] {
            let sum = total[key].as_u64().unwrap_or(0) + usage[key].as_u64().unwrap_or(0);
            total[key] = json!(sum);
        }
    }

    /// Call the model once, timing it as time outside the gateway.
    pub(crate) async fn call_model(&self) -> Result<Value, ApiError> {
        let started = Instant::now();
        let result = self.upstream.chat(&self.body).await;
        self.external.add(started.elapsed());
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.state
            .metrics()
            .upstream_duration
            .with_label_values(&[outcome])
            .observe(started.elapsed().as_secs_f64());
        result
    }

    /// The non-streaming loop.
    pub async fn complete(mut self) -> Result<Value, ApiError> {
        self.body["stream"] = Value::Bool(false);
        loop {
            let mut response = self.call_model().await?;
            if !response.is_object() {
                return Err(ApiError::BadGateway {
                    code: "upstream_invalid",
                    message: "the upstream answered with JSON that is not a chat completion object"
                        .to_owned(),
                });
            }
            self.add_usage(&response["usage"]);
            let message = response["choices"][0]["message"].clone();
            let tool_calls = message["tool_calls"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let round = self.classify(&tool_calls);
            if round.mcp.is_empty() || round.client_calls > 0 {
                if let Some(usage) = self.usage.take() {
                    response["usage"] = usage;
                }
                self.observe(false);
                return Ok(response);
            }
            self.admit(round.mcp.len())?;
            self.append_round(message, round.mcp).await;
        }
    }

    pub(crate) fn observe(&self, stream: bool) {
        let label = if stream { "true" } else { "false" };
        let metrics = self.state.metrics();
        metrics
            .toolloop_rounds
            .with_label_values(&[label])
            .observe(f64::from(self.rounds));
        metrics
            .toolloop_calls
            .with_label_values(&[label])
            .observe(f64::from(self.total_calls));
    }

    /// MCP calls of an earlier mixed round that have no `tool` message yet run now, and their
    /// results are put right after the assistant message that made them.
    async fn run_deferred_calls(&mut self) -> Result<(), ApiError> {
        let messages = self.body["messages"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let answered: std::collections::HashSet<String> = messages
            .iter()
            .filter(|m| m["role"] == "tool")
            .filter_map(|m| m["tool_call_id"].as_str().map(str::to_owned))
            .collect();
        let mut rebuilt = Vec::with_capacity(messages.len());
        let mut ran_any = false;
        for message in messages {
            let pending: Vec<PendingCall> = if message["role"] == "assistant" {
                let calls = message["tool_calls"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                self.classify(&calls)
                    .mcp
                    .into_iter()
                    .filter(|c| !answered.contains(&c.id))
                    .collect()
            } else {
                Vec::new()
            };
            rebuilt.push(message);
            if !pending.is_empty() {
                self.admit(pending.len())?;
                let parallel = self.limits.max_tool_calls_per_round as usize;
                let results = super::calls::run_calls(
                    &self.state,
                    pending,
                    parallel,
                    &self.external,
                    &self.request_id,
                    &self.meta,
                )
                .await;
                rebuilt.extend(results);
                ran_any = true;
            }
        }
        if ran_any {
            self.body["messages"] = Value::Array(rebuilt);
        }
        Ok(())
    }
}

fn limit(code: &'static str, message: String) -> ApiError {
    ApiError::LimitReached { code, message }
}
