//! Sessions of a 2025-era Streamable HTTP server that each belong to one client of the
//! gateway, so that what the server keeps per session (state its tools build up,
//! session-scoped resources) stays with that client instead of being shared by everyone a
//! pooled session serves.
//!
//! The gateway opens one at the client's `initialize` and carries its id in the client's
//! sealed session id; any replica then resumes it by that id (`transport/owned.rs`), with
//! no store. Each replica holds the sessions it resumed while they are in use and lets them
//! go when idle, without ending them; only the owner's DELETE ends one at the server.
//!
//! What the server sends such a session on its own (a roots request after the handshake, or
//! one made mid-call but not on the call's stream, as the Python SDK does) comes on the
//! session's GET stream. That stream follows the client's: the replica that holds the
//! client's GET stream opens the session's ([`ServerClient::follow_owned_session`]) and
//! hands its requests to the client there. The client's answers come back to any replica.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{
    Listing, ServerClient, close_when_unused,
    lists::{list_all, list_method},
};
use crate::{
    cache::ListKind,
    client_handler::ClientEvents,
    description::Transport,
    error::McpError,
    session::{Session, SharedSession},
    transport::owned::Ownership,
};

/// A session unused this long is let go on this replica (it lives on at the server).
const IDLE: Duration = Duration::from_secs(600);

/// Owned sessions held per server on one replica; the least recently used goes first.
const MAX_HELD: usize = 4096;

/// How often idle sessions are looked for (at most).
const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The owned sessions of one server held on this replica, by id.
pub(crate) struct OwnedSessions {
    held: Mutex<HashMap<Arc<str>, Arc<Held>>>,
    swept: Mutex<Instant>,
    /// The lists the held sessions were given, each once: sessions of clients that declared
    /// the same capabilities get the same lists, which they share instead of holding a copy
    /// each (thousands of sessions, one list).
    lists: Mutex<Vec<(ListKind, std::sync::Weak<Vec<serde_json::Value>>)>>,
}

/// Distinct lists shared at most, per server.
const SHARED_LISTS: usize = 32;

impl Default for OwnedSessions {
    fn default() -> Self {
        Self {
            held: Mutex::default(),
            swept: Mutex::new(Instant::now()),
            lists: Mutex::default(),
        }
    }
}

/// One owned session on this replica: resumed once, by whichever request needs it first.
struct Held {
    ownership: Ownership,
    session: tokio::sync::OnceCell<SharedSession>,
    used: Mutex<Instant>,
    /// The lists the session was last given (a server may offer a session what it offers
    /// no other: tools for the capabilities its client declared, resources it made for it).
    lists: Mutex<HashMap<ListKind, Listing>>,
}

impl Held {
    fn new(ownership: Ownership) -> Arc<Self> {
        Arc::new(Self {
            ownership,
            session: tokio::sync::OnceCell::new(),
            used: Mutex::new(Instant::now()),
            lists: Mutex::default(),
        })
    }

    fn touch(&self) {
        *lock(&self.used) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        lock(&self.used).elapsed()
    }
}

impl OwnedSessions {
    /// `listing`, or the equal list another session holds already.
    fn shared(&self, kind: ListKind, listing: Listing) -> Listing {
        let mut lists = lock(&self.lists);
        lists.retain(|(_, list)| list.strong_count() > 0);
        let same = lists
            .iter()
            .filter(|(of, _)| *of == kind)
            .filter_map(|(_, list)| list.upgrade())
            .find(|list| **list == *listing);
        if let Some(same) = same {
            return same;
        }
        if lists.len() < SHARED_LISTS {
            lists.push((kind, Arc::downgrade(&listing)));
        }
        listing
    }

    fn get(&self, id: &str) -> Option<Arc<Held>> {
        self.sweep_if_due();
        lock(&self.held).get(id).cloned()
    }

    /// Let go of the sessions idle past [`IDLE`], at most every [`SWEEP_EVERY`].
    fn sweep_if_due(&self) {
        let released = {
            let mut map = lock(&self.held);
            let mut swept = lock(&self.swept);
            if swept.elapsed() < SWEEP_EVERY {
                return;
            }
            *swept = Instant::now();
            idle_out(&mut map)
        };
        let_go(released);
    }

    /// Let go of every session held here (the server is stopped); none is ended.
    pub(crate) fn let_go_all(&self) {
        let released: Vec<_> = lock(&self.held).drain().map(|(_, held)| held).collect();
        let_go(released);
    }

    /// Hold `held` under `id`, letting idle sessions (and, past [`MAX_HELD`], the least
    /// recently used) go; the one already held under `id` when another request was first.
    fn hold(&self, id: Arc<str>, held: Arc<Held>) -> Arc<Held> {
        let mut released = Vec::new();
        let kept = {
            let mut map = lock(&self.held);
            let mut swept = lock(&self.swept);
            if swept.elapsed() >= SWEEP_EVERY || map.len() >= MAX_HELD {
                *swept = Instant::now();
                released = idle_out(&mut map);
            }
            if map.len() >= MAX_HELD
                && let Some(oldest) = map
                    .iter()
                    .max_by_key(|(_, held)| held.idle_for())
                    .map(|(id, _)| id.clone())
            {
                released.extend(map.remove(&oldest));
            }
            map.entry(id).or_insert(held).clone()
        };
        let_go(released);
        kept
    }

    fn release(&self, id: &str) -> Option<Arc<Held>> {
        lock(&self.held).remove(id)
    }

    /// Release `held` under `id`, and not a newer one another request put there since.
    fn release_this(&self, id: &str, held: &Arc<Held>) {
        let mut map = lock(&self.held);
        if map.get(id).is_some_and(|now| Arc::ptr_eq(now, held)) {
            map.remove(id);
        }
    }
}

impl ServerClient {
    /// True when a client of the gateway may own a session here: a 2025-era server over
    /// Streamable HTTP, whose sessions any replica can resume by id. A stdio, WebSocket or
    /// legacy SSE session lives in one connection of one replica, and a 2026-07-28 server
    /// keeps no sessions.
    pub fn keeps_sessions(&self) -> bool {
        self.description.transport() == Transport::StreamableHttp
            && self.info().is_some_and(|info| !info.stateless)
    }

    /// Open a session that belongs to one client (that declared roots, or not); its
    /// `Mcp-Session-Id`, for the client to carry (sealed) and name in
    /// [`ToolCall::session`](super::operations::ToolCall).
    pub async fn open_owned_session(&self, declares_roots: bool) -> Result<Arc<str>, McpError> {
        let ownership = Ownership::opened();
        let events = self.events().owned_by_client(declares_roots);
        let session = self.open_owned(ownership.clone(), events).await?;
        let Some(id) = session
            .http_session_id()
            .filter(|_| !session.info().stateless)
        else {
            session.close().await;
            return Err(McpError::Connect {
                server: self.name().to_owned(),
                detail: "the server gave the session no id (`Mcp-Session-Id`)".to_owned(),
            });
        };
        let held = Held::new(ownership);
        let _ = held.session.set(Arc::new(session));
        // A fresh id: nothing else can hold it yet.
        self.owned.hold(id.clone(), held);
        Ok(id)
    }

    /// End the owned session `id` at the server (DELETE), resuming it here first when
    /// another replica opened it.
    pub async fn end_owned_session(&self, id: &str) {
        if !self.keeps_sessions() {
            return;
        }
        let held = match self.owned.release(id) {
            Some(held) => held,
            None => Held::new(Ownership::resumed(Arc::from(id), &self.known_info())),
        };
        held.ownership.end();
        // A transport that is gone cleaned up before the session was ended: resume it anew.
        let live = held.session.get().filter(|s| !s.is_closed()).cloned();
        let session = match live {
            Some(session) => session,
            None => match self.open_owned(held.ownership.clone(), self.events()).await {
                Ok(session) => Arc::new(session),
                Err(e) => {
                    tracing::debug!(server = %self.name(), "could not end a client's session: {e}");
                    return;
                }
            },
        };
        drop(held);
        close_when_unused(session);
    }

    /// The owned session `id`, resumed on this replica when it is not held here yet; `None`
    /// when the server has forgotten it (restarted, or expired it), and the request goes to a
    /// pooled session instead.
    pub(crate) async fn owned_session(&self, id: &str) -> Option<SharedSession> {
        let held = match self.owned.get(id) {
            Some(held) => held,
            None => {
                if self.info().is_none() {
                    // The handshake replayed is the one of a pooled session.
                    let _ = self.connect_vacant().await;
                }
                // Not (or no longer, after a reload) a server whose sessions can be resumed.
                if !self.keeps_sessions() {
                    return None;
                }
                let ownership = Ownership::resumed(Arc::from(id), &self.known_info());
                self.owned.hold(Arc::from(id), Held::new(ownership))
            }
        };
        if held.ownership.is_expired() {
            return None;
        }
        held.touch();
        let session = held
            .session
            .get_or_try_init(|| self.resume(&held.ownership))
            .await;
        match session {
            Ok(session) if !session.is_closed() => Some(session.clone()),
            Ok(_) => {
                // Its transport is gone: resume it afresh next time.
                self.owned.release_this(id, &held);
                None
            }
            Err(e) => {
                tracing::debug!(server = %self.name(), "a client's session could not be resumed: {e}");
                self.owned.release_this(id, &held);
                None
            }
        }
    }

    /// Open the transport of an owned session; a resumed one must go on under its own id.
    async fn resume(&self, ownership: &Ownership) -> Result<SharedSession, McpError> {
        let events = self.events().owned_by_client(false);
        let session = self.resumed(ownership, events).await?;
        Ok(Arc::new(session))
    }

    /// The owned session `ownership` names, opened here with `events`; it must go on under
    /// its own id.
    pub(super) async fn resumed(
        &self,
        ownership: &Ownership,
        events: ClientEvents,
    ) -> Result<Session, McpError> {
        let session = self.open_owned(ownership.clone(), events).await?;
        if ownership.resumed_id().is_some() && session.http_session_id() != ownership.resumed_id() {
            session.close().await;
            return Err(McpError::Connect {
                server: self.name().to_owned(),
                detail: "a resumed session came back under another id".to_owned(),
            });
        }
        Ok(session)
    }

    /// The list of `kind` the owned session `id` is given: the one it was last given on this
    /// replica, unless `fresh`; asked again when there is none. `None` when the session
    /// cannot be used here (the caller lists on a pooled session instead).
    pub async fn owned_list(
        &self,
        id: &str,
        kind: ListKind,
        fresh: bool,
    ) -> Option<Result<Listing, McpError>> {
        if !fresh
            && let Some(held) = self.owned.get(id).filter(|h| !h.ownership.is_expired())
            && let Some(list) = lock(&held.lists).get(&kind).cloned()
        {
            held.touch();
            return Some(Ok(list));
        }
        let listed = self.request_owned(id, list_method(kind), |session| async move {
            let loaded = list_all(&session, kind).await?;
            Ok(self.screen_tools(&session, kind, loaded).value)
        });
        match listed.await? {
            // Forgotten by the server: listed on a pooled session, as calls are.
            Err(e) if e.is_expired_session() => None,
            Err(e) => Some(Err(e)),
            Ok(listing) => {
                let listing = self.owned.shared(kind, listing);
                if let Some(held) = self.owned.get(id) {
                    lock(&held.lists).insert(kind, listing.clone());
                }
                Some(Ok(listing))
            }
        }
    }

    /// `send` on the owned session `id`, as any request is sent (bounded by the call
    /// timeout, counted, its errors the server's); `None` when the session cannot be used
    /// here.
    pub(super) async fn request_owned<T, F, Fut>(
        &self,
        id: &str,
        method: &str,
        send: F,
    ) -> Option<Result<T, McpError>>
    where
        F: FnOnce(SharedSession) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        let session = self.owned_session(id).await?;
        let timeout = self.description.timeouts.call;
        Some(
            self.request_pausable(method, timeout, None, Some(session), send)
                .await,
        )
    }

    /// True when the server said it no longer knows the owned session `id`.
    pub(crate) fn owned_expired(&self, id: &str) -> bool {
        self.owned
            .get(id)
            .is_some_and(|held| held.ownership.is_expired())
    }

    async fn open_owned(
        &self,
        ownership: Ownership,
        events: ClientEvents,
    ) -> Result<Session, McpError> {
        Session::open_owned(
            &self.description,
            events,
            &self.http,
            &self.session_options(),
            ownership,
        )
        .await
    }

    /// What the server said about itself on a pooled session, for replaying the handshake of
    /// a session this replica did not open.
    pub(super) fn known_info(&self) -> crate::session::SessionInfo {
        self.info().unwrap_or_else(|| crate::session::SessionInfo {
            protocol_version: rmcp::model::ProtocolVersion::V_2025_06_18.to_string(),
            stateless: false,
            server_name: None,
            server_version: None,
            capabilities: serde_json::json!({}),
        })
    }
}

/// Take the sessions idle past [`IDLE`] out of `map`.
fn idle_out(map: &mut HashMap<Arc<str>, Arc<Held>>) -> Vec<Arc<Held>> {
    let idle: Vec<Arc<str>> = map
        .iter()
        .filter(|(_, held)| held.idle_for() >= IDLE)
        .map(|(id, _)| id.clone())
        .collect();
    idle.iter().filter_map(|id| map.remove(id)).collect()
}

/// Close the local handles of `released` once unused; the sessions live on at the server.
fn let_go(released: Vec<Arc<Held>>) {
    for held in released {
        if let Some(session) = held.session.get() {
            close_when_unused(session.clone());
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_given_equal_lists_share_one() {
        let owned = OwnedSessions::default();
        let first: Listing = Arc::new(vec![serde_json::json!({"name": "echo"})]);
        let equal: Listing = Arc::new(vec![serde_json::json!({"name": "echo"})]);
        let other: Listing = Arc::new(vec![serde_json::json!({"name": "add"})]);
        let kept = owned.shared(ListKind::Tools, first.clone());
        assert!(Arc::ptr_eq(&kept, &first));
        assert!(Arc::ptr_eq(&owned.shared(ListKind::Tools, equal), &first));
        assert!(!Arc::ptr_eq(
            &owned.shared(ListKind::Tools, other.clone()),
            &first
        ));
        // A list of another kind is not taken for it.
        let prompts = owned.shared(
            ListKind::Prompts,
            Arc::new(vec![serde_json::json!({"name": "echo"})]),
        );
        assert!(!Arc::ptr_eq(&prompts, &first));
        // Once no session holds it, it is not kept.
        drop((kept, first));
        let again: Listing = Arc::new(vec![serde_json::json!({"name": "echo"})]);
        assert!(Arc::ptr_eq(
            &owned.shared(ListKind::Tools, again.clone()),
            &again
        ));
        assert_eq!(lock(&owned.lists).len(), 3, "the dead one let go");
    }
}
