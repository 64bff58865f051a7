//! A 2025-era session's own sessions at the upstream servers (`mcp.endpoint.
//! upstream_sessions: per_client`): opened at its `initialize`, carried in its sealed id,
//! resumed by any replica (`llamagate_mcp`'s `server/owned.rs`), ended by its DELETE. What an
//! upstream keeps per session stays with the client that made it, with no store and no
//! stickiness. The replica that serves the client's GET stream follows them there: what the
//! upstreams send on their own (roots requests, above all) reaches that stream.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use llamagate_mcp::{
    Asker, ServerClient,
    client_handler::{Notice, OnNotice},
    server::FollowedSession,
};
use serde_json::json;

use futures::future::join_all;
use tokio::sync::{mpsc, oneshot};

use super::{
    ask::{self, Out},
    catalog::{self, View},
    rpc::RpcError,
    seal::Claims,
    uris,
};
use crate::{auth::Principal, config::UpstreamSessions, state::AppState};

/// Upstream sessions one client session owns at most (each adds about 60 bytes to its id).
pub const MAX_OWNED: usize = 16;

/// Longest upstream session id carried (16 of them keep the client's id within a few KiB).
const MAX_ID: usize = 128;

/// Who a request comes from, as the upstream sees it: who answers its questions, and the
/// sessions it owns there.
#[derive(Clone, Default)]
pub struct Caller {
    /// Answers the upstream's questions during the request.
    pub asker: Option<Asker>,
    /// The client's own upstream sessions, by server name.
    pub owned: Arc<BTreeMap<String, String>>,
}

impl Caller {
    /// A request of the session `claims`, its questions to `asker`.
    pub fn of(claims: &Claims, asker: Option<Asker>) -> Self {
        Self {
            asker,
            owned: Arc::new(claims.up.clone()),
        }
    }

    /// A stateless request (it owns nothing), its questions to `asker`.
    pub fn stateless(asker: Option<Asker>) -> Self {
        Self {
            asker,
            owned: Arc::default(),
        }
    }

    /// The client's own session at `server`, when it has one.
    pub fn session_at(&self, server: &ServerClient) -> Option<Arc<str>> {
        self.owned
            .get(server.name())
            .map(|id| Arc::from(id.as_str()))
    }
}

/// Open a session at every 2025-era Streamable HTTP server of `view` (at most
/// [`MAX_OWNED`]), all at once and within `bound`, declaring roots when the client did. A
/// server that fails or is slow is served from the pool for this client, and `initialize`
/// is not held up by it.
pub async fn open(
    state: &AppState,
    view: &View,
    bound: Duration,
    declares_roots: bool,
) -> BTreeMap<String, String> {
    if state.config().mcp.endpoint.upstream_sessions != UpstreamSessions::PerClient {
        return BTreeMap::new();
    }
    let servers = view
        .servers
        .iter()
        .filter(|server| server.keeps_sessions() && server.health().accepts_calls())
        .take(MAX_OWNED);
    let opening = servers.map(|server| {
        // In a task of its own: a session the server opens after `bound` is ended, not lost.
        let mut task = tokio::spawn({
            let server = server.clone();
            async move { server.open_owned_session(declares_roots).await }
        });
        async move {
            match tokio::time::timeout(bound, &mut task).await {
                Ok(Ok(Ok(id))) if id.len() <= MAX_ID => {
                    Some((server.name().to_owned(), id.to_string()))
                }
                Ok(Ok(Ok(id))) => {
                    tracing::info!(server = %server.name(), "its session id is over {MAX_ID} bytes: a client's calls use pooled sessions");
                    server.end_owned_session(&id).await;
                    None
                }
                Ok(Ok(Err(e))) => {
                    tracing::info!(server = %server.name(), "no session of its own for a client (it uses pooled ones): {e}");
                    None
                }
                Ok(Err(_)) => None,
                Err(_) => {
                    tracing::info!(server = %server.name(), "no session of its own for a client within {bound:?} (it uses pooled ones)");
                    let server = server.clone();
                    tokio::spawn(async move {
                        if let Ok(Ok(id)) = task.await {
                            server.end_owned_session(&id).await;
                        }
                    });
                    None
                }
            }
        }
    });
    join_all(opening).await.into_iter().flatten().collect()
}

/// End the upstream sessions of the session `claims` (its DELETE), in the background.
pub fn end(view: &View, claims: &Claims) {
    let owned = owned_at(view, claims);
    if owned.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for (server, id) in owned {
            server.end_owned_session(&id).await;
        }
    });
}

/// The client's upstream sessions of `claims` at the servers of `view`.
fn owned_at(view: &View, claims: &Claims) -> Vec<(Arc<ServerClient>, String)> {
    owned_in(view, &claims.up)
}

/// The sessions of `up` (server name → upstream session id) at the servers of `view`.
fn owned_in(view: &View, up: &BTreeMap<String, String>) -> Vec<(Arc<ServerClient>, String)> {
    up.iter()
        .filter_map(|(name, id)| {
            let server = view.servers.iter().find(|s| s.name() == name)?;
            Some((server.clone(), id.clone()))
        })
        .collect()
}

/// Follow the upstream sessions of `claims` on this replica, their requests to `asker` and
/// their notices (resource updates, log messages) to `tx` (the client's GET stream), all at
/// once and within `bound`, for as long as the result is held.
/// A session that cannot be followed (the upstream forgot it, or another replica's GET
/// stream holds it) is left out: its own requests are not heard.
pub async fn follow(
    view: &View,
    claims: &Claims,
    asker: &Asker,
    tx: &mpsc::Sender<Out>,
    bound: Duration,
) -> Vec<FollowedSession> {
    let following = owned_at(view, claims).into_iter().map(|(server, id)| {
        let asker = asker.clone();
        let notices = notices_to(view, server.name(), tx.clone());
        async move {
            let followed = server.follow_owned_session(&id, asker, notices);
            match tokio::time::timeout(bound, followed).await {
                Ok(Ok(followed)) => Some(followed),
                Ok(Err(e)) => {
                    tracing::info!(server = %server.name(), "a client's session is not followed: {e}");
                    None
                }
                Err(_) => {
                    tracing::info!(server = %server.name(), "a client's session is not followed within {bound:?}");
                    None
                }
            }
        }
    });
    join_all(following).await.into_iter().flatten().collect()
}

/// What a followed session's server says on its own, on `tx`: `notifications/resources/
/// updated` under the URI the client of `view` sees for `server`'s, and its log messages
/// (`notifications/message`; in a prefixed view the logger names the server first). A notice
/// that finds the stream full is dropped (the client is not reading; the next update still
/// says the resource changed).
fn notices_to(view: &View, server: &str, tx: mpsc::Sender<Out>) -> OnNotice {
    let (view, server) = (view.clone(), server.to_owned());
    Arc::new(move |notice: Notice| {
        let message = match notice {
            Notice::ResourceUpdated(uri) => {
                let uri = catalog::client_uri(&view, &server, &uri);
                json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                    "params": {"uri": uri}})
            }
            Notice::Log(mut params) => {
                if view.prefix && !view.single {
                    let logger = match params["logger"].as_str() {
                        Some(logger) => format!("{server}/{logger}"),
                        None => server.clone(),
                    };
                    params["logger"] = json!(logger);
                }
                json!({"jsonrpc": "2.0", "method": "notifications/message", "params": params})
            }
        };
        if tx.try_send(Out::Message(message)).is_err() {
            tracing::debug!(server, "a notice found the client's stream full");
        }
    })
}

/// The client of `caller` set its log level: so do its upstream sessions, in the background
/// (their messages reach its GET stream).
pub fn set_log_level(view: &View, caller: &Caller, level: &str) {
    let owned = owned_in(view, &caller.owned);
    if owned.is_empty() {
        return;
    }
    let level = level.to_owned();
    tokio::spawn(async move {
        for (server, id) in owned {
            if let Err(e) = server.set_owned_log_level(&id, &level).await {
                tracing::debug!(server = %server.name(), "{e}");
            }
        }
    });
}

/// Subscribe the client of `claims` to the resource `uri` (as it names it) on its own
/// session at the resource's server, or unsubscribe it (`on` false): the updates then reach
/// its GET stream wherever it is. False when it owns no usable session there (the caller
/// follows the resource on this replica's GET streams instead).
pub async fn subscribe(
    state: &AppState,
    principal: &Principal,
    view: &View,
    claims: &Claims,
    uri: &str,
    on: bool,
) -> Result<bool, RpcError> {
    if claims.up.is_empty() {
        return Ok(false);
    }
    let (server, original) = uris::resolve((state, principal, view), &claims.up, uri).await?;
    let Some(id) = claims.up.get(server.name()) else {
        return Ok(false);
    };
    Ok(server.subscribe_owned(id, &original, on).await?)
}

/// The client of `claims` changed its roots: tell its upstream sessions, in the background
/// (each asks for them again on its GET stream).
pub fn roots_changed(view: &View, claims: &Claims) {
    let owned = owned_at(view, claims);
    if owned.is_empty() {
        return;
    }
    tokio::spawn(async move {
        for (server, id) in owned {
            if let Err(e) = server.roots_changed(&id).await {
                tracing::debug!(server = %server.name(), "{e}");
            }
        }
    });
}

/// Asks a stream that follows to stop; it says when it has (the upstream's one GET stream
/// of each session is free again).
type Stop = oneshot::Sender<oneshot::Sender<()>>;

/// The sessions whose upstream sessions a GET stream follows on this replica: one stream
/// per session, the newest (a client that reconnects, or opens streams again and again,
/// holds one follower at each upstream here, not one per stream).
#[derive(Default)]
pub struct Followers {
    by_session: std::sync::Mutex<std::collections::HashMap<String, (u64, Stop)>>,
    next: std::sync::atomic::AtomicU64,
}

/// How long a new stream waits for the one it replaces to let go of the upstreams.
const HANDOVER: Duration = Duration::from_secs(2);

impl Followers {
    /// The newest stream of `sid` follows: the one before it here stops, and is waited for.
    async fn enter(&self, sid: &str) -> (u64, oneshot::Receiver<oneshot::Sender<()>>) {
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (stop, stopped) = oneshot::channel();
        let before = self.lock().insert(sid.to_owned(), (turn, stop));
        if let Some((_, stop_before)) = before {
            let (done, finished) = oneshot::channel();
            if stop_before.send(done).is_ok() {
                let _ = tokio::time::timeout(HANDOVER, finished).await;
            }
        }
        (turn, stopped)
    }

    /// The stream `turn` of `sid` stopped following.
    fn leave(&self, sid: &str, turn: u64) {
        let mut map = self.lock();
        if map.get(sid).is_some_and(|(now, _)| *now == turn) {
            map.remove(sid);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (u64, Stop)>> {
        self.by_session.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The questions for the GET stream of the session `claims` opening on this replica: its
/// upstream sessions are followed here (from before the stream opens) until the client
/// leaves it, or opens another here. `None` when it owns none. A client that declared
/// nothing is followed too: the upstream's requests are refused at once (saying why), not
/// left unanswered.
pub async fn questions(
    state: &AppState,
    view: &View,
    claims: &Claims,
) -> Option<mpsc::Receiver<Out>> {
    if claims.up.is_empty() {
        return None;
    }
    let (tx, rx) = mpsc::channel(16);
    let asker = ask::asker(state.clone(), claims.clone(), tx.clone());
    let bound = state.config().mcp.endpoint.list_timeout;
    let (turn, stop) = state.sessions().followers.enter(&claims.sid).await;
    let followed = follow(view, claims, &asker, &tx, bound).await;
    let (state, sid) = (state.clone(), claims.sid.clone());
    tokio::spawn(async move {
        let done = tokio::select! {
            () = tx.closed() => None,
            done = stop => done.ok(),
        };
        join_all(followed.into_iter().map(FollowedSession::close)).await;
        state.sessions().followers.leave(&sid, turn);
        if let Some(done) = done {
            let _ = done.send(());
        }
    });
    Some(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_new_stream_of_a_session_waits_for_the_one_it_replaces_to_let_go() {
        let followers = Arc::new(Followers::default());
        let (first, stop_first) = followers.enter("s1").await;
        let (_other, mut stop_other) = followers.enter("s2").await;
        // The first stream stops when asked, then says it has.
        let letting_go = tokio::spawn({
            let followers = followers.clone();
            async move {
                let done = stop_first.await.expect("asked to stop");
                followers.leave("s1", first);
                done.send(()).unwrap();
            }
        });
        let (second, _stop_second) = followers.enter("s1").await;
        letting_go.await.unwrap();
        assert_ne!(first, second);
        // The first one's leaving did not drop the second's place; another session's stream
        // was not asked to stop.
        assert!(
            followers
                .lock()
                .get("s1")
                .is_some_and(|(turn, _)| *turn == second)
        );
        assert!(stop_other.try_recv().is_err());
    }
}
