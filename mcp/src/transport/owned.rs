//! A Streamable HTTP session that belongs to one client of the gateway (`server/owned.rs`)
//! rather than to the pool. It is opened once, with a real handshake; any replica resumes it
//! later by its `Mcp-Session-Id` alone. Resuming replays the handshake locally (the server
//! already had it), so rmcp's client runs unchanged. Only its owner ends it: closing a local
//! handle (idle, replica shutdown) sends no DELETE, which would end the session for every
//! other replica too.
//!
//! The server allows one GET stream per session (a second gets 409), so only the handle that
//! follows the client's own GET stream opens it, on whichever replica that stream is
//! (`Ownership::followed`); the handles that carry requests open none.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicBool, Ordering},
};

use rmcp::{
    model::{ClientJsonRpcMessage, ClientNotification, ClientRequest, ServerJsonRpcMessage},
    transport::streamable_http_client::StreamableHttpPostResponse,
};
use serde_json::{Value, json};

use crate::session::SessionInfo;

/// How a session is owned; shared by its transport and the registry that holds it.
#[derive(Clone, Default)]
pub struct Ownership(Arc<Inner>);

#[derive(Default)]
struct Inner {
    /// The session to resume, and what its `initialize` answered: replayed by every
    /// transport opened for it (each attempt to resume; rmcp's own re-initialization is off
    /// for owned sessions).
    resume: Mutex<Option<(Arc<str>, Value)>>,
    /// The replayed handshake's `notifications/initialized` is not sent again.
    swallow_initialized: AtomicBool,
    /// The owner ended the session: closing it sends DELETE.
    ended: AtomicBool,
    /// The server answered 404 to this session: it has forgotten it.
    expired: AtomicBool,
    /// This handle opens the session's GET stream (it follows the client's).
    get_stream: AtomicBool,
}

impl Ownership {
    /// A session opened now, by a real handshake.
    pub fn opened() -> Self {
        Self::default()
    }

    /// The session `id` of a server that answered `initialize` as `info` says.
    pub fn resumed(id: Arc<str>, info: &SessionInfo) -> Self {
        let ownership = Self::default();
        let result = json!({
            "protocolVersion": info.protocol_version,
            "capabilities": info.capabilities,
            "serverInfo": {
                "name": info.server_name.as_deref().unwrap_or("unnamed"),
                "version": info.server_version.as_deref().unwrap_or("unknown"),
            },
        });
        *lock(&ownership.0.resume) = Some((id, result));
        ownership
    }

    /// The session `id` resumed to open its GET stream, whose server requests and
    /// notifications go to the client's own GET stream on this replica.
    pub fn followed(id: Arc<str>, info: &SessionInfo) -> Self {
        let ownership = Self::resumed(id, info);
        ownership.0.get_stream.store(true, Ordering::Release);
        ownership
    }

    /// The owner ends the session: the next close sends DELETE.
    pub fn end(&self) {
        self.0.ended.store(true, Ordering::Release);
    }

    /// True once the server said it no longer knows the session.
    pub fn is_expired(&self) -> bool {
        self.0.expired.load(Ordering::Acquire)
    }

    pub(crate) fn saw_expiry(&self) {
        self.0.expired.store(true, Ordering::Release);
    }

    /// The id of the session resumed, if it is one.
    pub fn resumed_id(&self) -> Option<Arc<str>> {
        lock(&self.0.resume).as_ref().map(|(id, _)| id.clone())
    }

    /// Does the handle open no GET stream of the session (a request's stream, resumed after
    /// a break, still is)?
    pub(crate) fn opens_no_get_stream(&self) -> bool {
        !self.0.get_stream.load(Ordering::Acquire)
    }

    /// May closing the session send DELETE?
    pub(crate) fn may_delete(&self) -> bool {
        self.0.ended.load(Ordering::Acquire)
    }

    /// The answer to `message` when it is a step of the replayed handshake; `None` for
    /// everything that goes to the server.
    pub(crate) fn answer_locally(
        &self,
        message: &ClientJsonRpcMessage,
    ) -> Option<StreamableHttpPostResponse> {
        match message {
            ClientJsonRpcMessage::Request(request)
                if matches!(request.request, ClientRequest::InitializeRequest(_)) =>
            {
                let (id, result) = lock(&self.0.resume).clone()?;
                let answer = json!({"jsonrpc": "2.0", "id": request.id, "result": result});
                let answer = serde_json::from_value::<ServerJsonRpcMessage>(answer).ok()?;
                self.0.swallow_initialized.store(true, Ordering::Release);
                Some(StreamableHttpPostResponse::Json(
                    answer,
                    Some(id.to_string()),
                ))
            }
            ClientJsonRpcMessage::Notification(notification)
                if matches!(
                    notification.notification,
                    ClientNotification::InitializedNotification(_)
                ) && self.0.swallow_initialized.swap(false, Ordering::AcqRel) =>
            {
                Some(StreamableHttpPostResponse::Accepted)
            }
            _ => None,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> SessionInfo {
        SessionInfo {
            protocol_version: "2025-06-18".to_owned(),
            stateless: false,
            server_name: Some("peer".to_owned()),
            server_version: None,
            capabilities: json!({"tools": {}}),
        }
    }

    fn message(value: Value) -> ClientJsonRpcMessage {
        serde_json::from_value(value).expect("a client message")
    }

    fn initialize() -> ClientJsonRpcMessage {
        message(
            json!({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        )
    }

    fn initialized() -> ClientJsonRpcMessage {
        message(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    }

    #[test]
    fn a_resumed_session_replays_its_handshake_for_every_attempt() {
        let ownership = Ownership::resumed(Arc::from("abc"), &info());
        let Some(StreamableHttpPostResponse::Json(answer, Some(id))) =
            ownership.answer_locally(&initialize())
        else {
            panic!("the handshake is answered locally");
        };
        assert_eq!(id, "abc");
        let answer = serde_json::to_value(&answer).unwrap();
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(answer["result"]["serverInfo"]["name"], "peer");
        assert!(matches!(
            ownership.answer_locally(&initialized()),
            Some(StreamableHttpPostResponse::Accepted)
        ));
        // Its `initialized` once; the next attempt to resume replays the handshake again.
        assert!(ownership.answer_locally(&initialized()).is_none());
        assert!(ownership.answer_locally(&initialize()).is_some());
        assert_eq!(ownership.resumed_id().as_deref(), Some("abc"));
        assert!(ownership.opens_no_get_stream());
    }

    #[test]
    fn an_opened_session_sends_everything_and_deletes_only_when_ended() {
        let ownership = Ownership::opened();
        assert!(ownership.answer_locally(&initialize()).is_none());
        assert!(ownership.answer_locally(&initialized()).is_none());
        // Its GET stream is opened by the handle that follows the client's (`followed`).
        assert!(!ownership.may_delete() && ownership.opens_no_get_stream());
        ownership.end();
        assert!(ownership.may_delete());
    }

    #[test]
    fn only_a_followed_session_opens_its_get_stream() {
        let followed = Ownership::followed(Arc::from("abc"), &info());
        assert!(!followed.opens_no_get_stream());
        assert!(
            followed.answer_locally(&initialize()).is_some(),
            "its handshake is replayed"
        );
        assert!(!followed.may_delete(), "following ends nothing");
    }
}
