//! The protocol operations beyond lists: tools/call, resources/read, prompts/get,
//! completion/complete. Results are handed on as the server sent them (unknown fields and
//! `_meta` included: see `raw.rs`), the typed result only where the raw one is not at
//! hand; an `input_required` answer is surfaced as such, never mistaken for a tool result.

use std::{sync::Arc, time::Duration};

use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, CompleteRequest, CompleteRequestParams,
    GetPromptRequest, GetPromptRequestParams, ReadResourceRequest, ReadResourceRequestParams,
    ServerResult,
};
use serde::Serialize;
use serde_json::{Map, Value};

use super::ServerClient;
use crate::{
    cache::ListKind,
    description::Transport,
    error::McpError,
    questions::{AskClock, Asker},
    session::send_recorded,
    transport::param_headers,
};

/// Whom the cache holds a listing for when the client lists only to learn tool schemas.
const SCHEMA_LISTING: &str = "llamagate:tool-schemas";

/// How a tool call ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "resultType", rename_all = "snake_case")]
pub enum ToolOutcome {
    /// The tool ran; `result` is the `CallToolResult` (content, `structuredContent`, `isError`).
    Complete {
        /// The result as the server sent it.
        result: Value,
    },
    /// The server needs input first (2026-07-28 multi-round-trip): `result` holds
    /// `inputRequests` and `requestState`; retry with `inputResponses`.
    InputRequired {
        /// The `InputRequiredResult` as the server sent it.
        result: Value,
    },
}

impl ToolOutcome {
    /// True when the tool reported an error (`isError`), or could not finish.
    pub fn is_error(&self) -> bool {
        match self {
            ToolOutcome::Complete { result } => result
                .get("isError")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            ToolOutcome::InputRequired { .. } => true,
        }
    }
}

/// A tool call: name, arguments, and what a retry after `input_required` carries.
#[derive(Debug, Clone, Default)]
pub struct ToolCall {
    /// The tool's name on its server.
    pub name: String,
    /// Arguments object.
    pub arguments: Map<String, Value>,
    /// `_meta` to pass on (W3C trace context, progress token).
    pub meta: Map<String, Value>,
    /// Answers to a previous `input_required`.
    pub input_responses: Option<Value>,
    /// The opaque `requestState` of a previous `input_required`, echoed back.
    pub request_state: Option<String>,
    /// Overrides the server's call timeout.
    pub timeout: Option<Duration>,
    /// Answers the requests the server sends back during the call (sampling, elicitation,
    /// roots); without one the gateway answers them itself (`client_handler.rs`).
    pub asker: Option<Asker>,
    /// The session of one client to call on ([`ServerClient::open_owned_session`]); a
    /// pooled one without it, or once the server has forgotten it.
    pub session: Option<Arc<str>>,
}

/// What a prompt or read carries beyond its params: the answers to a previous
/// `input_required`, and who answers the server's questions mid-way.
#[derive(Debug, Clone, Default)]
pub struct Interaction {
    /// Answers to a previous `input_required`.
    pub input_responses: Option<Value>,
    /// The opaque `requestState` of a previous `input_required`, echoed back.
    pub request_state: Option<String>,
    /// Answers the requests the server sends back meanwhile.
    pub asker: Option<Asker>,
    /// The session of one client to send it on, as [`ToolCall::session`].
    pub session: Option<Arc<str>>,
}

impl Interaction {
    /// Put the answers in the request's `body`; the asker and session are what is left.
    fn into_body(self, body: &mut Value) -> (Option<Asker>, Option<Arc<str>>) {
        if let Some(responses) = self.input_responses {
            body["inputResponses"] = responses;
        }
        if let Some(state) = self.request_state {
            body["requestState"] = Value::String(state);
        }
        (self.asker, self.session)
    }
}

fn wrapped(outcome: ToolOutcome) -> Value {
    match outcome {
        ToolOutcome::Complete { result } => result,
        ToolOutcome::InputRequired { result } => input_required(result),
    }
}

fn params<T: serde::de::DeserializeOwned>(
    server: &str,
    method: &str,
    value: Value,
) -> Result<T, McpError> {
    serde_json::from_value(value).map_err(|e| McpError::Protocol {
        server: server.to_owned(),
        method: method.to_owned(),
        detail: format!("cannot build the request: {e}"),
    })
}

impl ServerClient {
    fn unknown_result(&self, method: &str) -> McpError {
        self.unsupported(
            method,
            "a result type this gateway does not know".to_owned(),
        )
    }

    fn unsupported(&self, method: &str, detail: String) -> McpError {
        McpError::Protocol {
            server: self.name().to_owned(),
            method: method.to_owned(),
            detail,
        }
    }

    /// Send `request`: what kind of result came back, and the result as the server sent
    /// it. The server's questions during the request are given to `asker`; the time
    /// spent waiting for its answers does not count against `timeout`. On the client's own
    /// session `owned` when the server still knows it, else on a pooled one.
    async fn send_asking(
        &self,
        method: &str,
        timeout: Duration,
        request: ClientRequest,
        asker: Option<Asker>,
        owned: Option<&str>,
    ) -> Result<(ServerResult, Value), McpError> {
        let asking = asker.map(|asker| (asker, Arc::new(AskClock::default())));
        let clock = asking.as_ref().map(|(_, clock)| clock.clone());
        if let Some(id) = owned
            && let Some(session) = self.owned_session(id).await
        {
            let (sent, asked) = (request.clone(), asking.clone());
            let outcome = self
                .request_pausable(method, timeout, clock.as_deref(), Some(session), |s| {
                    send_recorded(s, sent, asked)
                })
                .await;
            // A 404 to this very request: it never ran, and goes to a pooled session. Any
            // other failure stands (a call that may have run is never sent twice).
            match &outcome {
                Err(e) if e.is_expired_session() && self.owned_expired(id) => {}
                _ => return outcome,
            }
            tracing::info!(server = %self.name(), "the server no longer knows a client's session; its requests go to pooled sessions");
        }
        self.request_pausable(method, timeout, clock.as_deref(), None, |session| {
            send_recorded(session, request, asking)
        })
        .await
    }

    fn check_size(&self, method: &str, value: &Value) -> Result<(), McpError> {
        // Counted as it would be written, without writing it anywhere.
        let mut counter = ByteCounter(0);
        let size = serde_json::to_writer(&mut counter, value).map_or(u64::MAX, |()| counter.0);
        if size > self.description.max_result_bytes {
            return Err(McpError::TooLarge {
                server: self.name().to_owned(),
                method: method.to_owned(),
                limit: self.description.max_result_bytes,
            });
        }
        Ok(())
    }

    /// `tools/call`.
    pub async fn call_tool(&self, call: ToolCall) -> Result<ToolOutcome, McpError> {
        let method = "tools/call";
        let mut body = serde_json::json!({ "name": call.name, "arguments": call.arguments });
        if !call.meta.is_empty() {
            body["_meta"] = Value::Object(call.meta);
        }
        if let Some(responses) = call.input_responses {
            body["inputResponses"] = responses;
        }
        if let Some(state) = call.request_state {
            body["requestState"] = Value::String(state);
        }
        let request: CallToolRequestParams = params(self.name(), method, body)?;
        let timeout = call.timeout.unwrap_or(self.description.timeouts.call);
        self.learn_param_headers(&call.name).await;
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(request));
        let (typed, mut result) = self
            .send_asking(
                method,
                timeout,
                request,
                call.asker,
                call.session.as_deref(),
            )
            .await?;
        let outcome = match typed {
            ServerResult::CallToolResult(_) => ToolOutcome::Complete { result },
            ServerResult::InputRequiredResult(_) => ToolOutcome::InputRequired { result },
            ServerResult::CreateTaskResult(task) => {
                return Err(self.unsupported(
                    method,
                    format!("the server started a task ({})", to_json(&task)),
                ));
            }
            // A result with no content at all (`{}`, only `_meta`, only `resultType:
            // complete`) is an empty result, as rmcp's own `call_tool_once` has it.
            ServerResult::EmptyResult(_)
            | ServerResult::TaskAckResult(_)
            | ServerResult::CustomResult(_) => {
                if !is_contentless(&result) {
                    return Err(self.unknown_result(method));
                }
                result["content"] = Value::Array(Vec::new());
                ToolOutcome::Complete { result }
            }
            _ => return Err(self.unknown_result(method)),
        };
        let (ToolOutcome::Complete { result } | ToolOutcome::InputRequired { result }) = &outcome;
        self.check_size(method, result)?;
        Ok(outcome)
    }

    /// Before a call to a tool whose schema this client has not seen, on a server that may
    /// want its `Mcp-Param-*` headers (Streamable HTTP, 2026-07-28 or later): list the tools
    /// once (cached as any listing), so that the call carries them. A failed listing is the
    /// call's own business: the call goes ahead, and says what the server answers.
    async fn learn_param_headers(&self, tool: &str) {
        // Cheapest first: on the hot path the schema is known, and the session info (a clone
        // under a lock) is not looked at.
        let applies = self.description.transport() == Transport::StreamableHttp
            && !self.tool_schemas.knows(tool)
            && self
                .info()
                .is_some_and(|info| param_headers::applies_to(&info.protocol_version));
        if applies {
            let _ = self.list(ListKind::Tools, SCHEMA_LISTING).await;
        }
    }

    /// `resources/read`; a read that needs input first is `{resultType: input_required,
    /// result}`.
    pub async fn read_resource(
        &self,
        uri: &str,
        meta: Map<String, Value>,
    ) -> Result<Value, McpError> {
        let outcome = self.read_resource_with(uri, meta, Interaction::default());
        Ok(wrapped(outcome.await?))
    }

    /// `resources/read`, with `interaction`'s answers and asker.
    pub async fn read_resource_with(
        &self,
        uri: &str,
        meta: Map<String, Value>,
        interaction: Interaction,
    ) -> Result<ToolOutcome, McpError> {
        let method = "resources/read";
        let mut body = serde_json::json!({ "uri": uri });
        if !meta.is_empty() {
            body["_meta"] = Value::Object(meta);
        }
        let (asker, owned) = interaction.into_body(&mut body);
        let request: ReadResourceRequestParams = params(self.name(), method, body)?;
        let request = ClientRequest::ReadResourceRequest(ReadResourceRequest::new(request));
        let timeout = self.description.timeouts.call;
        let (typed, result) = self
            .send_asking(method, timeout, request, asker, owned.as_deref())
            .await?;
        let outcome = match typed {
            ServerResult::ReadResourceResult(_) => ToolOutcome::Complete { result },
            ServerResult::InputRequiredResult(_) => ToolOutcome::InputRequired { result },
            _ => return Err(self.unknown_result(method)),
        };
        let (ToolOutcome::Complete { result } | ToolOutcome::InputRequired { result }) = &outcome;
        self.check_size(method, result)?;
        Ok(outcome)
    }

    /// `prompts/get` with string arguments; a prompt that needs input first is
    /// `{resultType: input_required, result}`.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<Value, McpError> {
        let outcome = self.get_prompt_with(name, arguments, Interaction::default());
        Ok(wrapped(outcome.await?))
    }

    /// `prompts/get`, with `interaction`'s answers and asker.
    pub async fn get_prompt_with(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        interaction: Interaction,
    ) -> Result<ToolOutcome, McpError> {
        let method = "prompts/get";
        let mut body = serde_json::json!({ "name": name, "arguments": arguments });
        let (asker, owned) = interaction.into_body(&mut body);
        let request: GetPromptRequestParams = params(self.name(), method, body)?;
        let request = ClientRequest::GetPromptRequest(GetPromptRequest::new(request));
        let timeout = self.description.timeouts.call;
        let (typed, result) = self
            .send_asking(method, timeout, request, asker, owned.as_deref())
            .await?;
        let outcome = match typed {
            ServerResult::GetPromptResult(_) => ToolOutcome::Complete { result },
            ServerResult::InputRequiredResult(_) => ToolOutcome::InputRequired { result },
            _ => return Err(self.unknown_result(method)),
        };
        let (ToolOutcome::Complete { result } | ToolOutcome::InputRequired { result }) = &outcome;
        self.check_size(method, result)?;
        Ok(outcome)
    }

    /// `completion/complete`; `request` is the params object (`ref`, `argument`, `context`).
    pub async fn complete(&self, request: Value) -> Result<Value, McpError> {
        self.complete_on(request, None).await
    }

    /// [`Self::complete`] on the client's own session `owned` when it has one.
    pub async fn complete_on(
        &self,
        request: Value,
        owned: Option<&str>,
    ) -> Result<Value, McpError> {
        let method = "completion/complete";
        let request: CompleteRequestParams = params(self.name(), method, request)?;
        let request = ClientRequest::CompleteRequest(CompleteRequest::new(request));
        let timeout = self.description.timeouts.call;
        let (typed, result) = self
            .send_asking(method, timeout, request, None, owned)
            .await?;
        match typed {
            ServerResult::CompleteResult(_) => Ok(result),
            _ => Err(self.unknown_result(method)),
        }
    }
}

/// True for a result with nothing but (optionally) `_meta` and `resultType: complete`.
fn is_contentless(result: &Value) -> bool {
    result.is_null()
        || result.as_object().is_some_and(|fields| {
            fields.iter().all(|(name, value)| {
                name == "_meta" || (name == "resultType" && value == "complete")
            })
        })
}

/// How a resource read or prompt that needs user input is reported.
fn input_required(result: Value) -> Value {
    serde_json::json!({"resultType": "input_required", "result": result})
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// An `io::Write` that only counts.
struct ByteCounter(u64);

impl std::io::Write for ByteCounter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
