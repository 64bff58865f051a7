//! A 2025-era upstream's request in the middle of a call, prompt or read, for a 2026-07-28
//! client: the client has no
//! session to be asked on, so the question becomes an `input_required` result, and the
//! upstream call, still waiting for its answer, is parked on this replica. The
//! `requestState` is sealed and names the replica and the parked call; the client's retry
//! (`inputResponses` keyed by the sealed question ids) may land on any replica, which passes
//! it on, once, to the one holding the call. There the answers go to the upstream, and the
//! call's next question or its result is the retry's answer.
//!
//! A parked call waits at most `ANSWER_TIMEOUT` (`relay.rs`) for its answers; then the
//! upstream is told the client did not answer, and the state leads nowhere.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{body::Bytes, http::HeaderMap, response::Response};
use llamagate_mcp::{Asker, Question};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::{
    ask::{self, Out},
    catalog::View,
    now, relay,
    rpc::{self, INTERNAL_ERROR, RpcError},
    stateless::{self, CacheHint, Declared},
    wire::{Method, Request},
};
use crate::{auth::Principal, state::AppState};

const PURPOSE: &[u8] = b"llamagate-parked-call-v1";
/// How long a parked call waits for the client's retry.
const PARKED_FOR: Duration = Duration::from_secs(600);
/// How long a retry waits for what the upstream does with the answers.
const NEXT_STEP: Duration = Duration::from_secs(600);

/// What a parked call's `requestState` carries.
#[derive(Debug, Serialize, Deserialize)]
struct ParkedState {
    exp: u64,
    key: String,
    view: String,
    /// The request: `tools/call`, `prompts/get` or `resources/read`.
    method: String,
    /// The tool or prompt (its name) or resource (its URI) as the client names it.
    name: String,
    /// The parked call (also the "session" its question ids belong to).
    park: String,
    /// The replica holding it.
    replica: Option<String>,
}

/// The calls parked on this replica: their outboxes, until they are resumed or expire.
#[derive(Default)]
pub struct Parked {
    calls: Mutex<HashMap<String, (mpsc::Receiver<Out>, Instant)>>,
}

impl Parked {
    fn park(&self, id: &str, rx: mpsc::Receiver<Out>) {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // Dropping an expired call's outbox tells its asker nobody will answer.
        calls.retain(|_, (_, parked)| now.duration_since(*parked) < PARKED_FOR);
        calls.insert(id.to_owned(), (rx, now));
    }

    fn take(&self, id: &str) -> Option<mpsc::Receiver<Out>> {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.remove(id).map(|(rx, _)| rx)
    }
}

/// True when a client's `capabilities` let it answer something mid-call.
pub fn can_answer(declared: &Declared) -> bool {
    ["elicitation", "sampling", "roots"]
        .iter()
        .any(|c| declared.capabilities.contains_key(*c))
}

/// True when a call's `requestState` is a parked call's (checked in full by [`resume`]).
pub fn resumes(state: &AppState, params: &Value) -> bool {
    params
        .get("requestState")
        .and_then(Value::as_str)
        .is_some_and(|token| {
            state
                .sessions()
                .sealer
                .open_as::<ParkedState>(PURPOSE, token)
                .is_some()
        })
}

/// The caching hint of a parked request's answer: a read's, as `dispatch` gives it.
pub fn hint(method: Method) -> Option<CacheHint> {
    (method == Method::ReadResource).then_some(CacheHint::NONE)
}

/// What a request is about: its method, and the tool's or prompt's name or the resource's
/// URI.
fn subject<'a>(request: &Request<'a>) -> (&'a str, &'a str) {
    let params = request.params;
    let name = params
        .get("name")
        .or(params.get("uri"))
        .and_then(Value::as_str);
    (request.name, name.unwrap_or_default())
}

/// A stateless call, prompt or read whose upstream may ask mid-way.
pub async fn request(
    state: &AppState,
    principal: &Principal,
    view: &View,
    declared: Declared,
    request: Request<'_>,
) -> Result<Value, RpcError> {
    let park = uuid::Uuid::new_v4().simple().to_string();
    let (tx, rx) = mpsc::channel::<Out>(16);
    let asker = asker(state.clone(), park.clone(), declared.clone(), tx.clone());
    ask::Apart {
        state: state.clone(),
        principal: principal.clone(),
        view: view.clone(),
        era: ask::Era::Stateless(declared),
        caller: super::owned::Caller::stateless(Some(asker)),
        message: request.message.clone(),
    }
    .run(tx);
    next_step(state, principal, view, subject(&request), &park, rx).await
}

/// The retry of a parked call: its answers delivered here, or on the replica holding it.
pub async fn resume(
    state: &AppState,
    principal: &Principal,
    view: &View,
    request: Request<'_>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, RpcError> {
    let sessions = state.sessions();
    let params = request.params;
    let token = params
        .get("requestState")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (method, name) = subject(&request);
    let parked = sessions
        .sealer
        .open_as::<ParkedState>(PURPOSE, token)
        .filter(|s| {
            s.exp > now()
                && s.key == *principal.name
                && s.view == view.path
                && s.method == method
                && s.name == name
        })
        .ok_or_else(|| {
            RpcError::params(
                "`params.requestState` is not one this gateway gave for this call (changed, expired, or for another key or tool): call again without it",
            )
        })?;
    let Some(rx) = sessions.parked.take(&parked.park) else {
        return match parked
            .replica
            .filter(|r| Some(r.as_str()) != sessions.replica_url())
        {
            Some(replica) if !relay::was_passed_on(headers) => {
                relay::pass_on(sessions, &replica, &view.path, headers, body).await
            }
            _ => Err(RpcError::protocol(
                INTERNAL_ERROR,
                "the call waiting for these answers is gone (it timed out, was answered, or its replica restarted): call the tool again",
            )),
        };
    };
    let answers = params
        .get("inputResponses")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (question, answer) in answers {
        if !relay::answer_here(sessions, &parked.park, &question, json!({"result": answer})) {
            sessions.parked.park(&parked.park, rx);
            return Err(RpcError::params(format!(
                "`params.inputResponses.{question:.40}` answers no question of this call: key each answer as its `inputRequests` entry was"
            )));
        }
    }
    let result = next_step(state, principal, view, (method, name), &parked.park, rx).await?;
    Ok(rpc::result(
        request.id,
        stateless::finish(result, hint(request.method)),
        headers,
        HeaderMap::new(),
    ))
}

/// The call's next question (parked again, as `input_required`), or its outcome.
async fn next_step(
    state: &AppState,
    principal: &Principal,
    view: &View,
    (method, name): (&str, &str),
    park: &str,
    mut rx: mpsc::Receiver<Out>,
) -> Result<Value, RpcError> {
    let step = tokio::time::timeout(NEXT_STEP, rx.recv()).await;
    let question = match step {
        Ok(Some(Out::Done(done))) => return done,
        Ok(Some(Out::Message(question))) => question,
        Ok(None) | Err(_) => {
            return Err(RpcError::protocol(
                INTERNAL_ERROR,
                "the upstream neither asked again nor answered in time",
            ));
        }
    };
    let sessions = state.sessions();
    let token = question["id"].as_str().unwrap_or_default().to_owned();
    let mut requests = Map::new();
    requests.insert(
        token,
        json!({"method": question["method"], "params": question["params"]}),
    );
    let sealed = sessions.sealer.seal_as(
        PURPOSE,
        &ParkedState {
            exp: now() + PARKED_FOR.as_secs(),
            key: principal.name.to_string(),
            view: view.path.clone(),
            method: method.to_owned(),
            name: name.to_owned(),
            park: park.to_owned(),
            replica: sessions.replica_url().map(str::to_owned),
        },
    );
    sessions.parked.park(park, rx);
    Ok(json!({"resultType": "input_required", "inputRequests": requests, "requestState": sealed}))
}

/// Puts a 2025-era upstream's questions in the parked call's outbox.
fn asker(state: AppState, park: String, declared: Declared, tx: mpsc::Sender<Out>) -> Asker {
    Asker::new(move |question: Question| {
        let declared = super::input::capability(&question.method)
            .is_some_and(|needed| declared.capabilities.contains_key(needed));
        let (state, park, tx) = (state.clone(), park.clone(), tx.clone());
        async move { ask::put_question(&state, &park, declared, &tx, question).await }
    })
}
