//! A 2025-era session's `tools/call` (also `prompts/get`, `resources/read`) that needs the
//! client (elicitation, sampling, roots):
//! the gateway asks it on the call's own SSE stream, as a 2025 server would, whichever way
//! the upstream asks:
//!
//! * mid-call, as a 2025-era upstream does: it sends the request during the call, and the
//!   MCP client hands it to this call's [`Asker`] (`llamagate_mcp::questions` traces it to
//!   the call), whose answer goes back to the upstream;
//! * with a 2026-07-28 `input_required` result: the gateway asks every question in it, and
//!   retries the call with the answers until it completes (at most `MAX_ROUNDS`).
//!
//! A call that asks nothing is answered with JSON like any other request; the SSE stream
//! starts with the first question. Answers may reach any replica (`relay.rs`).

use std::convert::Infallible;

use axum::{
    http::HeaderMap,
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::future::join_all;
use llamagate_mcp::{Asker, Question, Refusal, server::operations::ToolOutcome};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::{
    Sessions,
    catalog::View,
    dispatch::{self, Outcome},
    input,
    owned::Caller,
    relay::{self, Ask, Pending},
    rpc::{self, INTERNAL_ERROR, METHOD_NOT_FOUND, RpcError},
    seal::Claims,
    stateless::Declared,
    wire::Request,
};
use crate::{auth::Principal, state::AppState};

/// Rounds of `input_required` one call may ask before it is given up.
const MAX_ROUNDS: usize = 8;

/// What the call's task sends its response: messages for the client (its questions; on a
/// session's GET stream, notifications too), then the outcome.
pub(super) enum Out {
    Message(Value),
    Done(Result<Value, RpcError>),
}

/// Where a call's questions go.
pub(super) type Outbox = mpsc::Sender<Out>;

/// A session's call, prompt or read, asking the client whatever the upstream needs.
pub async fn request(
    state: &AppState,
    principal: &Principal,
    view: &View,
    claims: Claims,
    request: Request<'_>,
    headers: &HeaderMap,
) -> Result<Response, RpcError> {
    let id = request.id;
    if claims.caps.is_empty() {
        // Nothing to ask this client: answered in place, as any request.
        let caller = Caller::of(&claims, None);
        let result = match dispatch::request(state, principal, view, None, caller, request).await? {
            Outcome::Done { result, .. } => result,
            Outcome::NeedsClient(ask) => return Err(undeclared(&ask)),
        };
        return Ok(rpc::result(id, result, headers, HeaderMap::new()));
    }
    let (tx, mut rx) = mpsc::channel::<Out>(16);
    let asker = Some(asker(state.clone(), claims.clone(), tx.clone()));
    Apart {
        state: state.clone(),
        principal: principal.clone(),
        view: view.clone(),
        caller: Caller::of(&claims, asker),
        era: Era::Session(claims),
        message: request.message.clone(),
    }
    .run(tx);
    match rx.recv().await {
        Some(Out::Done(Ok(result))) => Ok(rpc::result(id, result, headers, HeaderMap::new())),
        Some(Out::Done(Err(error))) => Err(error),
        Some(Out::Message(question)) => Ok(stream(id.clone(), question, rx)),
        None => Err(RpcError::protocol(
            INTERNAL_ERROR,
            "the call ended without an outcome",
        )),
    }
}

/// A session that declared no capability, whose upstream needs one.
fn undeclared(ask: &Ask) -> RpcError {
    let needed = ask.first["inputRequests"]
        .as_object()
        .into_iter()
        .flat_map(|requests| requests.values())
        .find_map(|request| request["method"].as_str().and_then(input::capability))
        .unwrap_or("elicitation");
    RpcError::protocol(
        INTERNAL_ERROR,
        format!(
            "MCP server `{}` needs the client's `{needed}` capability to finish this call; the session did not declare it at initialize",
            ask.server.name()
        ),
    )
}

/// The client's era, for a request run apart: a stateless client's declared capabilities
/// (its questions come back sealed in a result), or a session's claims (its questions are
/// asked on the call's stream and the call retried with the answers).
pub(super) enum Era {
    Stateless(Declared),
    Session(Claims),
}

/// A call, prompt or read run in a task of its own, its outcome last in the outbox.
pub(super) struct Apart {
    pub state: AppState,
    pub principal: Principal,
    pub view: View,
    pub era: Era,
    /// Whose asker answers the upstream's questions, whose own upstream sessions carry it.
    pub caller: Caller,
    /// The request (`tools/call`, `prompts/get` or `resources/read`).
    pub message: Value,
}

impl Apart {
    /// Run it; a session's call whose upstream needs the user asks the client and retries.
    pub fn run(self, tx: Outbox) {
        tokio::spawn(async move {
            let Some(request) = Request::of(&self.message) else {
                let refused = RpcError::params("not a request");
                let _ = tx.send(Out::Done(Err(refused))).await;
                return;
            };
            let (state, principal, view) = (&self.state, &self.principal, &self.view);
            let declared = match &self.era {
                Era::Stateless(declared) => Some(declared),
                Era::Session(_) => None,
            };
            let outcome =
                dispatch::request(state, principal, view, declared, self.caller, request).await;
            let done = match (outcome, &self.era) {
                (Ok(Outcome::NeedsClient(ask)), Era::Session(claims)) => {
                    converse(state.sessions(), claims, &tx, ask).await
                }
                (outcome, _) => outcome.and_then(|outcome| Ok(outcome.into_done()?.0)),
            };
            let _ = tx.send(Out::Done(done)).await;
        });
    }
}

fn event(body: &Value) -> Result<Event, Infallible> {
    Ok(Event::default().event("message").data(body.to_string()))
}

/// The SSE answer: the first question, the ones after it, then the outcome under `id`.
fn stream(id: Value, first: Value, rx: mpsc::Receiver<Out>) -> Response {
    let events = futures::stream::unfold((Some(first), Some(rx)), move |(first, rx)| {
        let id = id.clone();
        async move {
            if let Some(question) = first {
                return Some((event(&question), (None, rx)));
            }
            let mut rx = rx?;
            let message = match rx.recv().await? {
                Out::Message(question) => return Some((event(&question), (None, Some(rx)))),
                Out::Done(Ok(result)) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
                Out::Done(Err(error)) => json!({"jsonrpc": "2.0", "id": id, "error": {
                        "code": error.code, "message": error.message, "data": error.data}}),
            };
            Some((event(&message), (None, None)))
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Answers a 2025-era upstream's requests by asking the session's client, on `tx` (a call's
/// stream, or the session's GET stream).
pub(super) fn asker(state: AppState, claims: Claims, tx: Outbox) -> Asker {
    Asker::new(move |question: Question| {
        let declared = input::capability(&question.method)
            .is_some_and(|needed| claims.caps.iter().any(|c| c == needed));
        let (state, sid, tx) = (state.clone(), claims.sid.clone(), tx.clone());
        async move { put_question(&state, &sid, declared, &tx, question).await }
    })
}

/// Put a mid-call `question` to the client through `tx` (under the session or parked call
/// `sid`), if it `declared` the capability the question needs: the client's result, or
/// what the upstream is told instead.
pub(super) async fn put_question(
    state: &AppState,
    sid: &str,
    declared: bool,
    tx: &Outbox,
    question: Question,
) -> Result<Value, Refusal> {
    if !declared {
        return Err(refusal(
            METHOD_NOT_FOUND,
            format!(
                "the client of this call did not declare the capability `{:.60}` needs",
                question.method
            ),
        ));
    }
    let sessions = state.sessions();
    let pending = relay::put(sessions, sid, tx, &question.method, question.params)
        .await
        .map_err(|e| refusal(INTERNAL_ERROR, e.message))?;
    let response = pending
        .answer(sessions, tx)
        .await
        .map_err(|e| refusal(INTERNAL_ERROR, e.message))?;
    match response.get("result") {
        Some(result) if result.is_object() => Ok(result.clone()),
        _ => {
            let error = &response["error"];
            let code = error["code"].as_i64().unwrap_or(INTERNAL_ERROR);
            let message = error["message"]
                .as_str()
                .unwrap_or("the client gave no result");
            Err(Refusal {
                data: error.get("data").cloned(),
                ..refusal(code, message.to_owned())
            })
        }
    }
}

pub(super) fn refusal(code: i64, message: String) -> Refusal {
    Refusal {
        code: i32::try_from(code).unwrap_or(INTERNAL_ERROR as i32),
        message,
        data: None,
    }
}

async fn converse(
    sessions: &Sessions,
    claims: &Claims,
    tx: &Outbox,
    ask: Ask,
) -> Result<Value, RpcError> {
    let Ask {
        server,
        mut retry,
        first,
    } = ask;
    let mut result = first;
    for _ in 0..MAX_ROUNDS {
        let answers = ask_client(sessions, claims, tx, server.name(), &result).await?;
        let state = result
            .get("requestState")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match retry.again(&server, Value::Object(answers), state).await? {
            ToolOutcome::Complete { result } => return Ok(result),
            ToolOutcome::InputRequired { result: again } => result = again,
        }
    }
    Err(RpcError::protocol(
        INTERNAL_ERROR,
        format!(
            "MCP server `{}` asked for input {MAX_ROUNDS} times for one call; given up",
            server.name()
        ),
    ))
}

/// Send every input request of `result` to the client and wait for all the answers.
async fn ask_client(
    sessions: &Sessions,
    claims: &Claims,
    tx: &Outbox,
    server: &str,
    result: &Value,
) -> Result<Map<String, Value>, RpcError> {
    let requests = result
        .get("inputRequests")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut waits: Vec<(String, Pending)> = Vec::new();
    for (key, request) in requests {
        let method = request.get("method").and_then(Value::as_str).unwrap_or("");
        let needed = input::capability(method).ok_or_else(|| {
            RpcError::protocol(
                INTERNAL_ERROR,
                format!("MCP server `{server}` asked for `{method:.60}`, which cannot be relayed"),
            )
        })?;
        if !claims.caps.iter().any(|c| c == needed) {
            return Err(RpcError::protocol(
                INTERNAL_ERROR,
                format!(
                    "MCP server `{server}` needs the client's `{needed}` capability to finish this call; the session did not declare it at initialize"
                ),
            ));
        }
        let params = request.get("params").cloned().unwrap_or_else(|| json!({}));
        waits.push((
            key,
            relay::put(sessions, &claims.sid, tx, method, params).await?,
        ));
    }
    let answered = join_all(
        waits
            .into_iter()
            .map(|(key, pending)| async move { (key, pending.answer(sessions, tx).await) }),
    )
    .await;
    let mut answers = Map::new();
    for (key, got) in answered {
        let response = got.map_err(|_| {
            RpcError::protocol(
                INTERNAL_ERROR,
                format!("no answer from the client to `{server}`'s input request `{key}`"),
            )
        })?;
        match response.get("result") {
            Some(result) if result.is_object() => {
                answers.insert(key, result.clone());
            }
            _ => {
                let message = response["error"]["message"].as_str().unwrap_or("no result");
                return Err(RpcError::protocol(
                    INTERNAL_ERROR,
                    format!(
                        "the client refused `{server}`'s input request `{key}`: {message:.200}"
                    ),
                ));
            }
        }
    }
    Ok(answers)
}
