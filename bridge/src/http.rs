//! `/mcp`: the stdio server as Streamable HTTP. `initialize` opens a session (its own child,
//! `Mcp-Session-Id`); requests of a session are written to its child and answered with the
//! child's answer as JSON; what the child sends on its own reaches the session's GET stream;
//! DELETE ends it. A request without a session that is not `initialize` (a 2026-07-28
//! stateless request, `server/discover` among them) goes to one shared child, ids rewritten
//! so that clients never collide, and is answered with what that child answers: a legacy
//! server's error to `server/discover` makes clients fall back to `initialize`.

use std::{
    convert::Infallible,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use axum::{
    Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{
    Bridge,
    child::{Child, ChildError},
    sessions::{Busy, OpenError, Session},
};

const SESSION_HEADER: &str = "mcp-session-id";

/// A JSON-RPC error answer with an HTTP status.
fn rpc_error(status: StatusCode, id: Value, code: i64, message: impl Into<String>) -> Response {
    let body =
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}});
    (status, Json(body)).into_response()
}

fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok())
}

fn not_found() -> Response {
    rpc_error(
        StatusCode::NOT_FOUND,
        Value::Null,
        -32001,
        "no such session (it ended, or the bridge restarted): initialize a new one",
    )
}

fn child_failed(error: ChildError, id: Value) -> Response {
    match error {
        // The session's process is gone: 404 tells the client to initialize anew.
        ChildError::Exited => not_found(),
        ChildError::Timeout(_) => {
            rpc_error(StatusCode::GATEWAY_TIMEOUT, id, -32603, error.to_string())
        }
    }
}

/// `POST /mcp`
pub async fn post(State(bridge): State<Arc<Bridge>>, headers: HeaderMap, body: Bytes) -> Response {
    let message: Value = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => {
            let detail = format!("the body is not JSON: {e}");
            return rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32700, detail);
        }
    };
    if !message.is_object() {
        let detail = "send one JSON-RPC message per POST (batches are not supported)";
        return rpc_error(StatusCode::BAD_REQUEST, Value::Null, -32600, detail);
    }
    let timeout = bridge.sessions.settings().request_timeout;
    let id = message.get("id").cloned();
    let is_request = message.get("method").is_some() && id.is_some();
    if let Some(session) = session_id(&headers) {
        let Some(session) = bridge.sessions.get(session) else {
            return not_found();
        };
        let _busy = session.busy();
        if !is_request {
            return match session.child.send(&message).await {
                Ok(()) => StatusCode::ACCEPTED.into_response(),
                Err(e) => child_failed(e, Value::Null),
            };
        }
        return match session.child.request(&message, timeout).await {
            Ok(answer) => Json(answer).into_response(),
            Err(e) => child_failed(e, id.unwrap_or_default()),
        };
    }
    if message["method"] == "initialize" && is_request {
        return initialize(&bridge, &message).await;
    }
    if !is_request {
        // A notification or answer outside any session has nowhere to go.
        return StatusCode::ACCEPTED.into_response();
    }
    bridge.stateless.request(&bridge, message).await
}

async fn initialize(bridge: &Arc<Bridge>, message: &Value) -> Response {
    let id = message["id"].clone();
    let session_id = uuid::Uuid::new_v4().simple().to_string();
    let session = match bridge.sessions.open(&session_id).await {
        Ok(session) => session,
        Err(e @ OpenError::Full(_)) => {
            return rpc_error(StatusCode::SERVICE_UNAVAILABLE, id, -32000, e.to_string());
        }
        Err(e @ OpenError::Spawn(_)) => {
            return rpc_error(StatusCode::BAD_GATEWAY, id, -32603, e.to_string());
        }
    };
    let timeout = bridge.sessions.settings().request_timeout;
    let busy = session.busy();
    let answer = session.child.request(message, timeout).await;
    drop(busy);
    match answer {
        Ok(answer) if answer.get("result").is_some() => {
            let mut response = Json(answer).into_response();
            if let Ok(value) = HeaderValue::from_str(&session_id) {
                response.headers_mut().insert(SESSION_HEADER, value);
            }
            response
        }
        // The server refused the handshake: no session was made.
        Ok(answer) => {
            bridge.sessions.close(&session_id).await;
            Json(answer).into_response()
        }
        Err(e) => {
            bridge.sessions.close(&session_id).await;
            child_failed(e, id)
        }
    }
}

/// `GET /mcp`: the session's stream of what its child sends on its own.
pub async fn get(State(bridge): State<Arc<Bridge>>, headers: HeaderMap) -> Response {
    let Some(session) = session_id(&headers).and_then(|id| bridge.sessions.get(id)) else {
        return not_found();
    };
    let Some(receiver) = session.child.take_outbound() else {
        let detail = "this session already has its stream open";
        return rpc_error(StatusCode::CONFLICT, Value::Null, -32600, detail);
    };
    let stream = Outbound {
        receiver: Some(receiver),
        _busy: session.busy(),
        session,
    };
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `DELETE /mcp`: end the session and its child.
pub async fn delete(State(bridge): State<Arc<Bridge>>, headers: HeaderMap) -> Response {
    match session_id(&headers) {
        Some(id) if bridge.sessions.close(id).await => StatusCode::NO_CONTENT.into_response(),
        _ => not_found(),
    }
}

/// A session's GET stream; the queue goes back to the child when the client leaves.
struct Outbound {
    receiver: Option<mpsc::Receiver<Value>>,
    session: Arc<Session>,
    _busy: Busy,
}

impl Stream for Outbound {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(receiver) = self.receiver.as_mut() else {
            return Poll::Ready(None);
        };
        match receiver.poll_recv(cx) {
            Poll::Ready(Some(message)) => {
                self.session.touch();
                let event = Event::default().event("message").data(message.to_string());
                Poll::Ready(Some(Ok(event)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        if let Some(receiver) = self.receiver.take() {
            self.session.child.return_outbound(receiver);
        }
    }
}

/// Stateless requests, on one child shared by every client.
#[derive(Default)]
pub struct Stateless {
    child: tokio::sync::Mutex<Option<Arc<Child>>>,
    next_id: AtomicU64,
}

impl Stateless {
    async fn child(&self, bridge: &Bridge) -> Result<Arc<Child>, OpenError> {
        let mut child = self.child.lock().await;
        if let Some(alive) = child.as_ref().filter(|c| c.is_alive()) {
            return Ok(alive.clone());
        }
        let fresh = bridge.sessions.spawn_child()?;
        *child = Some(fresh.clone());
        Ok(fresh)
    }

    async fn request(&self, bridge: &Bridge, mut message: Value) -> Response {
        let original = message["id"].take();
        let child = match self.child(bridge).await {
            Ok(child) => child,
            Err(e) => return rpc_error(StatusCode::BAD_GATEWAY, original, -32603, e.to_string()),
        };
        // Ids of different clients may be equal: the shared child sees ids of our own.
        message["id"] = json!(format!(
            "bridge-{}",
            self.next_id.fetch_add(1, Ordering::Relaxed)
        ));
        let timeout = bridge.sessions.settings().request_timeout;
        match child.request(&message, timeout).await {
            Ok(mut answer) => {
                answer["id"] = original;
                Json(answer).into_response()
            }
            Err(ChildError::Exited) => rpc_error(
                StatusCode::BAD_GATEWAY,
                original,
                -32603,
                "the MCP server process exited",
            ),
            Err(e) => child_failed(e, original),
        }
    }

    /// End the shared child (shutdown).
    pub async fn close(&self) {
        if let Some(child) = self.child.lock().await.take() {
            child.terminate().await;
        }
    }
}
