//! The answers to requests relayed to a 2025-era session (`ask.rs` puts the questions).
//!
//! The client POSTs each answer to the endpoint, and with no sticky sessions that POST may
//! reach another replica. The id of each relayed request is sealed and names the replica
//! that waits for it (`mcp.endpoint.advertise_url`): a replica that gets an answer it does
//! not wait for passes the POST on to that one, once. Only ids this gateway sealed are
//! followed, so a client cannot make a replica call an address of its choosing.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use llamagate_mcp::{
    McpError, ServerClient,
    server::operations::{Interaction, ToolCall, ToolOutcome},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use super::{
    Sessions,
    ask::{Out, Outbox},
    now,
    rpc::{INTERNAL_ERROR, INVALID_REQUEST, RpcError},
    seal::Claims,
    uris,
};

const PURPOSE: &[u8] = b"llamagate-relay-v1";
/// How long the gateway waits for the user's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);
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
    /// How other replicas reach this one.
    pub fn replica_url(&self) -> Option<&str> {
        self.replica_url.get().map(String::as_str)
    }

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

/// A session's call, prompt or read that met `input_required`: what is needed to ask and
/// retry.
pub struct Ask {
    /// The upstream.
    pub server: Arc<ServerClient>,
    /// The request as first made.
    pub retry: Retry,
    /// The upstream's `input_required` result.
    pub first: Value,
}

/// What a session's request sends again with the client's answers. The URIs of its
/// result are shown under `<prefix>+<uri>` when there is a prefix (`uris.rs`).
pub enum Retry {
    /// A `tools/call`.
    Tool {
        call: ToolCall,
        prefix: Option<String>,
    },
    /// A `prompts/get`.
    Prompt {
        name: String,
        arguments: Map<String, Value>,
        interaction: Interaction,
        prefix: Option<String>,
    },
    /// A `resources/read` of the upstream's `uri`.
    Read {
        uri: String,
        meta: Map<String, Value>,
        interaction: Interaction,
        prefix: Option<String>,
    },
}

impl Retry {
    /// Send the request again with the client's `answers` and the upstream's `state`.
    pub async fn again(
        &mut self,
        server: &ServerClient,
        answers: Value,
        state: Option<String>,
    ) -> Result<ToolOutcome, McpError> {
        let (outcome, prefix, name): (_, _, fn(&mut Value, Option<&str>)) = match self {
            Retry::Tool { call, prefix } => {
                call.input_responses = Some(answers);
                call.request_state = state;
                (
                    server.call_tool(call.clone()).await?,
                    prefix,
                    uris::name_links,
                )
            }
            Retry::Prompt {
                name,
                arguments,
                interaction,
                prefix,
            } => {
                interaction.input_responses = Some(answers);
                interaction.request_state = state;
                let interaction = interaction.clone();
                let outcome = server.get_prompt_with(name, arguments.clone(), interaction);
                (outcome.await?, prefix, uris::name_links)
            }
            Retry::Read {
                uri,
                meta,
                interaction,
                prefix,
            } => {
                interaction.input_responses = Some(answers);
                interaction.request_state = state;
                let interaction = interaction.clone();
                let outcome = server.read_resource_with(uri, meta.clone(), interaction);
                (outcome.await?, prefix, uris::name_contents)
            }
        };
        Ok(match outcome {
            ToolOutcome::Complete { mut result } => {
                name(&mut result, prefix.as_deref());
                ToolOutcome::Complete { result }
            }
            asks_again => asks_again,
        })
    }
}

/// A question put to the client, waiting for its answer.
pub(super) struct Pending {
    slot: String,
    answer: oneshot::Receiver<Value>,
}

/// Put `method` to the client on the call's stream, under a sealed id naming this replica
/// and the session (or parked call) `sid` the question belongs to.
pub(super) async fn put(
    sessions: &Sessions,
    sid: &str,
    tx: &Outbox,
    method: &str,
    params: Value,
) -> Result<Pending, RpcError> {
    let slot = uuid::Uuid::new_v4().simple().to_string();
    let token = sessions.sealer.seal_as(
        PURPOSE,
        &RelayId {
            replica: sessions.relays.replica_url.get().cloned(),
            slot: slot.clone(),
            sid: sid.to_owned(),
            exp: now() + ANSWER_TIMEOUT.as_secs(),
        },
    );
    let answer = sessions.relays.wait(&slot);
    let question = json!({"jsonrpc": "2.0", "id": token, "method": method, "params": params});
    if tx.send(Out::Message(question)).await.is_err() {
        sessions.relays.forget(&slot);
        return Err(RpcError::protocol(INTERNAL_ERROR, "the client went away"));
    }
    Ok(Pending { slot, answer })
}

impl Pending {
    /// The client's response (a JSON-RPC response object), within `ANSWER_TIMEOUT`, unless
    /// the client stops listening to the call's stream first.
    pub(super) async fn answer(self, sessions: &Sessions, tx: &Outbox) -> Result<Value, RpcError> {
        let got = tokio::select! {
            got = tokio::time::timeout(ANSWER_TIMEOUT, self.answer) => got.ok().and_then(Result::ok),
            () = tx.closed() => None,
        };
        sessions.relays.forget(&self.slot);
        got.ok_or_else(|| {
            RpcError::protocol(
                INTERNAL_ERROR,
                "no answer from the client (it timed out, or stopped listening to the call)",
            )
        })
    }
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
        .and_then(|token| open(sessions, &claims.sid, token))
        .ok_or_else(unknown_answer)?;
    if let Some(waiting) = sessions.relays.take(&relay.slot) {
        let _ = waiting.send(response.clone());
        return Ok(StatusCode::ACCEPTED.into_response());
    }
    let here = sessions.relays.replica_url.get();
    let Some(replica) = relay.replica.filter(|r| Some(r) != here) else {
        return Err(unknown_answer());
    };
    if was_passed_on(headers) {
        return Err(unknown_answer());
    }
    pass_on(sessions, &replica, path, headers, body).await
}

fn open(sessions: &Sessions, sid: &str, token: &str) -> Option<RelayId> {
    sessions
        .sealer
        .open_as::<RelayId>(PURPOSE, token)
        .filter(|r| r.sid == sid && r.exp > now())
}

/// Hand `response` to the question `token` of `sid`, when it waits on this replica.
pub(super) fn answer_here(sessions: &Sessions, sid: &str, token: &str, response: Value) -> bool {
    let waiting = open(sessions, sid, token).and_then(|relay| sessions.relays.take(&relay.slot));
    waiting.is_some_and(|waiting| waiting.send(response).is_ok())
}

/// True for a POST another replica passed on (never passed on again).
pub(super) fn was_passed_on(headers: &HeaderMap) -> bool {
    headers.contains_key(RELAYED)
}

/// POST the answer, as the client sent it, to the replica that waits for it.
pub(super) async fn pass_on(
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
    // The credentials, and every header the protocol defines (`Mcp-Session-Id`,
    // `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, `Mcp-Param-*`): the other replica
    // checks the request as this one did.
    let mut forwarded = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        let name_str = name.as_str();
        if matches!(
            name_str,
            "authorization" | "x-api-key" | "content-type" | "accept"
        ) || name_str.starts_with("mcp-")
        {
            forwarded.append(name.clone(), value.clone());
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
        super::super::seal::test_claims(sid, &["elicitation"])
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
