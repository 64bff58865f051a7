//! Input requests relayed to a 2025-era session: when an upstream answers a session's
//! `tools/call` with a 2026-07-28 `input_required` (elicitation, sampling, roots), the
//! gateway asks the client itself on the call's SSE stream, as a 2025 server would, and
//! sends the client's answers back to the upstream until the call completes.
//!
//! The client POSTs each answer to the endpoint, and with no sticky sessions that POST may
//! reach another replica. The id of each relayed request is sealed and names the replica
//! that waits for it (`mcp.endpoint.advertise_url`): a replica that gets an answer it does
//! not wait for passes the POST on to that one, once. Only ids this gateway sealed are
//! followed, so a client cannot make a replica call an address of its choosing.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::future::join_all;
use llamagate_mcp::{
    ServerClient,
    server::operations::{ToolCall, ToolOutcome},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::{mpsc, oneshot};

use super::{
    Sessions, input, now,
    rpc::{INTERNAL_ERROR, INVALID_REQUEST, RpcError},
    seal::Claims,
};
use crate::state::AppState;

const PURPOSE: &[u8] = b"llamagate-relay-v1";
/// How long the gateway waits for the user's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);
/// Rounds of questions one call may ask before it is given up.
const MAX_ROUNDS: usize = 8;
/// Marks a POST passed on by another replica (never passed on again).
const RELAYED: &str = "x-llamagate-relayed";

/// What a relayed request's id carries.
#[derive(Debug, Serialize, Deserialize)]
struct RelayId {
    /// The replica that waits for the answer.
    replica: Option<String>,
    /// Its waiting slot.
    slot: String,
    /// The session (its unique id) the question belongs to.
    sid: String,
    exp: u64,
}

/// The answers this replica waits for, and how other replicas reach it.
#[derive(Default)]
pub struct Relays {
    waiting: Mutex<HashMap<String, oneshot::Sender<Value>>>,
    replica_url: OnceLock<String>,
    client: OnceLock<reqwest::Client>,
}

impl Relays {
    /// How other replicas reach this one (set once, at start-up).
    pub fn set_replica_url(&self, url: String) {
        let _ = self.replica_url.set(url.trim_end_matches('/').to_owned());
    }

    fn wait(&self, slot: &str) -> oneshot::Receiver<Value> {
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(slot.to_owned(), tx);
        rx
    }

    fn forget(&self, slot: &str) {
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(slot);
    }

    fn take(&self, slot: &str) -> Option<oneshot::Sender<Value>> {
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(slot)
    }
}

/// A session's call that met `input_required`: what is needed to ask and retry.
pub struct Ask {
    /// The upstream.
    pub server: Arc<ServerClient>,
    /// The call as first made.
    pub call: ToolCall,
    /// The upstream's `input_required` result.
    pub first: Value,
}

fn event(body: &Value) -> Result<Event, Infallible> {
    Ok(Event::default().event("message").data(body.to_string()))
}

/// The SSE answer of a session's call that needs the user: the questions, then the result
/// (or an error naming what went wrong) under the call's `id`.
pub fn stream(state: AppState, claims: Claims, id: Value, ask: Ask) -> Response {
    let (tx, rx) = mpsc::channel::<Value>(16);
    tokio::spawn(async move {
        let last = match converse(state.sessions(), &claims, &tx, ask).await {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(error) => json!({"jsonrpc": "2.0", "id": id, "error": {
                "code": error.code, "message": error.message, "data": error.data}}),
        };
        let _ = tx.send(last).await;
    });
    let events = futures::stream::unfold(rx, |mut rx| async move {
        let message = rx.recv().await?;
        Some((event(&message), rx))
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn converse(
    sessions: &Sessions,
    claims: &Claims,
    tx: &mpsc::Sender<Value>,
    ask: Ask,
) -> Result<Value, RpcError> {
    let Ask {
        server,
        mut call,
        first,
    } = ask;
    let mut result = first;
    for _ in 0..MAX_ROUNDS {
        let answers = ask_client(sessions, claims, tx, server.name(), &result).await?;
        call.input_responses = Some(Value::Object(answers));
        call.request_state = result
            .get("requestState")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match server.call_tool(call.clone()).await? {
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
    tx: &mpsc::Sender<Value>,
    server: &str,
    result: &Value,
) -> Result<Map<String, Value>, RpcError> {
    let requests = result
        .get("inputRequests")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut waits = Vec::new();
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
        let slot = uuid::Uuid::new_v4().simple().to_string();
        let token = sessions.sealer.seal_as(
            PURPOSE,
            &RelayId {
                replica: sessions.relays.replica_url.get().cloned(),
                slot: slot.clone(),
                sid: claims.sid.clone(),
                exp: now() + ANSWER_TIMEOUT.as_secs(),
            },
        );
        let answer = sessions.relays.wait(&slot);
        let question = json!({"jsonrpc": "2.0", "id": token, "method": method,
            "params": request.get("params").cloned().unwrap_or_else(|| json!({}))});
        if tx.send(question).await.is_err() {
            sessions.relays.forget(&slot);
            return Err(RpcError::protocol(INTERNAL_ERROR, "the client went away"));
        }
        waits.push((key, slot, answer));
    }
    let answered = join_all(waits.into_iter().map(|(key, slot, answer)| async move {
        let got = tokio::time::timeout(ANSWER_TIMEOUT, answer).await;
        sessions.relays.forget(&slot);
        (key, got)
    }))
    .await;
    let mut answers = Map::new();
    for (key, got) in answered {
        let response = match got {
            Ok(Ok(response)) => response,
            _ => {
                return Err(RpcError::protocol(
                    INTERNAL_ERROR,
                    format!("no answer from the client to `{server}`'s input request `{key}`"),
                ));
            }
        };
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

fn unknown_answer() -> RpcError {
    RpcError::http(
        StatusCode::NOT_FOUND,
        INVALID_REQUEST,
        "no request of this session waits for this answer (it was answered, timed out, or its replica is gone)",
    )
}

/// A client's answer (a JSON-RPC response) to a relayed request: handed to the call that
/// waits for it, here or on the replica its id names.
pub async fn deliver(
    sessions: &Sessions,
    claims: &Claims,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
    response: &Value,
) -> Result<Response, RpcError> {
    let relay = response
        .get("id")
        .and_then(Value::as_str)
        .and_then(|token| sessions.sealer.open_as::<RelayId>(PURPOSE, token))
        .filter(|r| r.sid == claims.sid && r.exp > now())
        .ok_or_else(unknown_answer)?;
    if let Some(waiting) = sessions.relays.take(&relay.slot) {
        let _ = waiting.send(response.clone());
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let here = sessions.relays.replica_url.get();
    let Some(replica) = relay.replica.filter(|r| Some(r) != here) else {
        return Err(unknown_answer());
    };
    if headers.contains_key(RELAYED) {
        return Err(unknown_answer());
    }
    pass_on(sessions, &replica, path, headers, body).await
}

/// POST the answer, as the client sent it, to the replica that waits for it.
async fn pass_on(
    sessions: &Sessions,
    replica: &str,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, RpcError> {
    let client = sessions.relays.client.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    });
    let mut forwarded = reqwest::header::HeaderMap::new();
    for name in [
        "authorization",
        "x-api-key",
        "mcp-session-id",
        "mcp-protocol-version",
        "content-type",
    ] {
        if let Some(value) = headers.get(name) {
            forwarded.insert(name, value.clone());
        }
    }
    forwarded.insert(RELAYED, reqwest::header::HeaderValue::from_static("1"));
    let sent = client
        .post(format!("{replica}{path}"))
        .headers(forwarded)
        .body(body.clone())
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(replica, "could not pass an answer on to its replica: {e}");
            unknown_answer()
        })?;
    let status = StatusCode::from_u16(sent.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let text = sent.text().await.unwrap_or_default();
    Ok((
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EndpointConfig;

    fn claims(sid: &str) -> Claims {
        Claims {
            pv: "2025-11-25".into(),
            exp: u64::MAX,
            key: "k".into(),
            view: "/mcp".into(),
            sid: sid.into(),
            caps: vec!["elicitation".into()],
        }
    }

    fn token(sessions: &Sessions, sid: &str, slot: &str) -> String {
        sessions.sealer.seal_as(
            PURPOSE,
            &RelayId {
                replica: None,
                slot: slot.into(),
                sid: sid.into(),
                exp: now() + 60,
            },
        )
    }

    async fn deliver_to(sessions: &Sessions, sid: &str, id: &str) -> Result<StatusCode, RpcError> {
        let answer = json!({"jsonrpc": "2.0", "id": id, "result": {"action": "accept"}});
        deliver(
            sessions,
            &claims(sid),
            "/mcp",
            &HeaderMap::new(),
            &Bytes::new(),
            &answer,
        )
        .await
        .map(|r| r.status())
    }

    #[tokio::test]
    async fn an_answer_reaches_only_the_call_of_its_session_and_once() {
        let sessions = Sessions::new(&EndpointConfig::default());
        let waiting = sessions.relays.wait("slot-1");
        let id = token(&sessions, "s1", "slot-1");
        let other = deliver_to(&sessions, "s2", &id).await.unwrap_err();
        assert_eq!(
            other.status,
            StatusCode::NOT_FOUND,
            "another session's answer"
        );
        let forged = deliver_to(&sessions, "s1", "v1.0.AAAA").await.unwrap_err();
        assert_eq!(forged.status, StatusCode::NOT_FOUND);
        assert_eq!(
            deliver_to(&sessions, "s1", &id).await.unwrap(),
            StatusCode::ACCEPTED
        );
        assert_eq!(waiting.await.unwrap()["result"]["action"], "accept");
        let again = deliver_to(&sessions, "s1", &id).await.unwrap_err();
        assert_eq!(
            again.status,
            StatusCode::NOT_FOUND,
            "answered already; nowhere to pass it on"
        );
    }
}
