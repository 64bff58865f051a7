//! The aggregated MCP endpoint: the gateway as one MCP server over Streamable HTTP
//! (`/mcp` for every server a key may use, `/mcp/{server}` for one), in both protocol
//! eras: 2026-07-28 stateless requests, and 2025-era sessions whose ids carry their own
//! sealed state. Either way any replica answers any request with no sticky sessions and
//! no store. docs/mcp-endpoint.md describes it.

mod ask;
pub mod catalog;
mod dispatch;
mod guards;
mod input;
mod listen;
mod owned;
mod parked;
mod reads;
mod relay;
pub mod rpc;
pub mod seal;
pub mod stateless;
mod subscribed;
mod uris;
mod views;
mod wire;

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use self::{
    catalog::View,
    guards::{check_body, check_enabled, check_origin, check_version_header},
    rpc::{INVALID_REQUEST, PARSE_ERROR, RpcError},
    seal::{Claims, Sealer},
    views::{Target, view},
    wire::{Incoming, Method, Request},
};
use crate::{api::mcp::ApiPath, auth::Principal, config::EndpointConfig, state::AppState};

/// Protocol versions of the session era this endpoint speaks, newest first.
pub const VERSIONS: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

/// Sessions of this replica: the sealer, and the ids ended by DELETE here (until they
/// expire; another replica does not know of them, see docs/mcp-endpoint.md).
pub struct Sessions {
    sealer: Sealer,
    ended: Mutex<HashMap<String, u64>>,
    filters: views::Filters,
    relays: relay::Relays,
    parked: parked::Parked,
    subscribed: subscribed::Subscribed,
    followers: owned::Followers,
}

impl Sessions {
    /// How other replicas reach this one, to pass on answers to relayed requests.
    pub fn set_replica_url(&self, url: String) {
        self.relays.set_replica_url(url);
    }

    fn replica_url(&self) -> Option<&str> {
        self.relays.replica_url()
    }

    /// From the endpoint's configuration (keys checked by the config already).
    pub fn new(config: &EndpointConfig) -> Self {
        let keys: Vec<Vec<u8>> = config
            .session_keys
            .iter()
            .filter_map(|k| seal::decode_key(k.expose()))
            .collect();
        if keys.is_empty() && config.enabled {
            tracing::info!(
                "mcp.endpoint.session_keys is empty: /mcp sessions are sealed with a key of this process alone and end with it; configure a key for replicas and restarts"
            );
        }
        Self {
            sealer: Sealer::new(&keys),
            ended: Mutex::default(),
            filters: views::Filters::default(),
            relays: relay::Relays::default(),
            parked: parked::Parked::default(),
            subscribed: subscribed::Subscribed::default(),
            followers: owned::Followers::default(),
        }
    }

    fn end(&self, claims: &Claims) {
        let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        let now = now();
        ended.retain(|_, exp| *exp > now);
        // Bounded: a flood of DELETEs cannot grow it past what sessions could exist.
        if ended.len() < 100_000 {
            ended.insert(claims.sid.clone(), claims.exp);
        }
    }

    fn is_ended(&self, sid: &str) -> bool {
        self.ended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(sid)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The claims of the request's session, or the HTTP error the spec asks for: 400 without
/// an id, 404 for one this gateway did not issue, that expired, was ended, or belongs to
/// another key or endpoint (the client then initializes again).
fn session(
    state: &AppState,
    headers: &HeaderMap,
    principal: &Principal,
    view: &View,
) -> Result<Claims, RpcError> {
    let id = headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            RpcError::http(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "the `Mcp-Session-Id` header is missing: send `initialize` first and repeat the id it returns (a 2026-07-28 client sends no session and follows changes with `subscriptions/listen`)",
            )
        })?;
    let sessions = state.sessions();
    sessions
        .sealer
        .open(id, now())
        .filter(|c| c.key == *principal.name && c.view == view.path && !sessions.is_ended(&c.sid))
        .ok_or_else(|| {
            RpcError::http(
                StatusCode::NOT_FOUND,
                INVALID_REQUEST,
                "the session is not known (expired, ended, or for another key or endpoint): send `initialize` again",
            )
        })
}

/// `POST /mcp`.
pub async fn post_all(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post(state, principal, Target::All, headers, body).await
}

/// `POST /mcp/{server}`.
pub async fn post_one(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(server): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post(state, principal, Target::One(server), headers, body).await
}

/// `POST /mcp/v/{name}`.
pub async fn post_virtual(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    post(state, principal, Target::Virtual(name), headers, body).await
}

async fn post(
    state: AppState,
    principal: Principal,
    target: Target,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_body(&state, &headers, &body) {
        return refused.into_response_for(None);
    }
    let message: Value = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => {
            return RpcError::http(
                StatusCode::BAD_REQUEST,
                PARSE_ERROR,
                format!("the body is not JSON: {e}"),
            )
            .into_response_for(None);
        }
    };
    let id = message.get("id").cloned();
    match handle(&state, &principal, target, &headers, &message, &body).await {
        Ok(response) => response,
        Err(error) => error.into_response_for(id.as_ref()),
    }
}

async fn handle(
    state: &AppState,
    principal: &Principal,
    target: Target,
    headers: &HeaderMap,
    message: &Value,
    body: &Bytes,
) -> Result<Response, RpcError> {
    check_enabled(state)?;
    let config = state.config();
    check_origin(headers, &config.mcp.endpoint)?;
    wire::check_single(message)?;
    let view = view(state, principal, target)?;
    let request = match wire::parse(message)? {
        Incoming::Request(request) => request,
        // A client's answer to a request the gateway relayed to it (its id is sealed).
        Incoming::RelayAnswer => {
            let claims = session(state, headers, principal, &view)?;
            let sessions = state.sessions();
            return relay::deliver(sessions, &claims, &view.path, headers, body, message).await;
        }
        // The client's roots changed: its own upstream sessions are told.
        Incoming::RootsChanged => {
            let claims = session(state, headers, principal, &view)?;
            owned::roots_changed(&view, &claims);
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        Incoming::Ignored => return Ok(StatusCode::ACCEPTED.into_response()),
    };
    if stateless::applies(headers, request.name) {
        return stateless_request(state, principal, &view, headers, request, body).await;
    }
    if request.method == Method::Initialize {
        return dispatch::initialize(state, principal, &view, request.id, message, headers).await;
    }
    check_version_header(headers)?;
    let claims = session(state, headers, principal, &view)?;
    if request.method.may_ask() {
        return ask::request(state, principal, &view, claims, request, headers).await;
    }
    let caller = owned::Caller::of(&claims, None);
    let outcome = dispatch::request(state, principal, &view, None, caller, request).await?;
    if let (Method::Subscribe | Method::Unsubscribe, Some(uri)) = (
        request.method,
        request.params.get("uri").and_then(Value::as_str),
    ) {
        // On the client's own upstream session when it has one there: its updates reach the
        // client's GET stream on any replica. Else followed on this replica's streams.
        let on = request.method == Method::Subscribe;
        if !owned::subscribe(state, principal, &view, &claims, uri, on).await? || !on {
            state.sessions().subscribed.set(&claims, uri, on)?;
        }
    }
    let (result, _) = outcome.into_done()?;
    Ok(rpc::result(request.id, result, headers, HeaderMap::new()))
}

async fn stateless_request(
    state: &AppState,
    principal: &Principal,
    view: &View,
    headers: &HeaderMap,
    request: Request<'_>,
    body: &Bytes,
) -> Result<Response, RpcError> {
    let (id, message) = (request.id, request.message);
    let params = message.get("params").unwrap_or(&Value::Null);
    let declared = stateless::check(headers, request.name, params)?;
    let (result, hint) = match request.method {
        Method::Discover => (stateless::discover(view), None),
        asking if asking.may_ask() && parked::resumes(state, params) => {
            return parked::resume(state, principal, view, request, headers, body).await;
        }
        asking if asking.may_ask() && parked::can_answer(&declared) => {
            let result = parked::request(state, principal, view, declared, request).await?;
            (result, parked::hint(asking))
        }
        Method::Listen => {
            principal.require(crate::config::Scope::McpRead)?;
            let filter = listen::Filter::requested(params)?;
            let follower = listen::Follower {
                state: state.clone(),
                principal: principal.clone(),
                target: view.target.clone(),
                uris: filter.followed(),
            };
            return Ok(listen::subscription(follower, id, filter));
        }
        _ => {
            let caller = owned::Caller::default();
            // A stateless client's questions come back sealed in a result (`input.rs`).
            dispatch::request(state, principal, view, Some(&declared), caller, request)
                .await?
                .into_done()?
        }
    };
    let result = stateless::finish(result, hint);
    Ok(rpc::result(id, result, headers, HeaderMap::new()))
}

/// `GET /mcp`: a session's stream of list changes.
pub async fn get_all(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Response {
    get_stream(state, principal, Target::All, headers).await
}

/// `GET /mcp/{server}`.
pub async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(server): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    get_stream(state, principal, Target::One(server), headers).await
}

/// `GET /mcp/v/{name}`.
pub async fn get_virtual(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    get_stream(state, principal, Target::Virtual(name), headers).await
}

async fn get_stream(
    state: AppState,
    principal: Principal,
    target: Target,
    headers: HeaderMap,
) -> Response {
    // Without a session: 400 as for POST (the stateless era POSTs `subscriptions/listen`).
    let opened = check_enabled(&state)
        .and_then(|()| check_origin(&headers, &state.config().mcp.endpoint))
        .and_then(|()| view(&state, &principal, target))
        .and_then(|view| session(&state, &headers, &principal, &view).map(|c| (view, c)));
    match opened {
        Ok((view, claims)) => {
            let uris = state.sessions().subscribed.watch(&claims);
            let questions = owned::questions(&state, &view, &claims).await;
            let follower = listen::Follower {
                state,
                principal,
                target: view.target,
                uris,
            };
            listen::session_stream(follower, questions)
        }
        Err(error) => error.into_response_for(None),
    }
}

/// `DELETE /mcp`: end the session.
pub async fn delete_all(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Response {
    delete(state, principal, Target::All, headers)
}

/// `DELETE /mcp/{server}`.
pub async fn delete_one(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(server): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    delete(state, principal, Target::One(server), headers)
}

/// `DELETE /mcp/v/{name}`.
pub async fn delete_virtual(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(name): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    delete(state, principal, Target::Virtual(name), headers)
}

fn delete(state: AppState, principal: Principal, target: Target, headers: HeaderMap) -> Response {
    let ended = check_enabled(&state)
        .and_then(|()| check_origin(&headers, &state.config().mcp.endpoint))
        .and_then(|()| view(&state, &principal, target))
        .and_then(|view| Ok((session(&state, &headers, &principal, &view)?, view)));
    match ended {
        Ok((claims, view)) => {
            state.sessions().end(&claims);
            owned::end(&view, &claims);
            state.sessions().subscribed.end(&claims.sid);
            StatusCode::OK.into_response()
        }
        Err(error) => error.into_response_for(None),
    }
}
