//! One MCP server as the rest of the gateway sees it: its sessions, its cache, its health,
//! and every operation of the protocol with timeouts, size limits and clear errors.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    cache::{ListCache, ListKind, Lookup},
    client_handler::{ClientEvents, Elicitation},
    context::Context,
    description::{ServerDescription, ToolGlobs, Transport},
    error::McpError,
    filter::{CompiledFilter, ToolFilter},
    health::{Health, HealthState, LastAnswer, ProbeCounters, prober::ProberHandle},
    metrics::McpMetrics,
    pool::{AcquireError, Pool, PoolStats},
    questions::{self, AskClock},
    session::{Session, SessionInfo, SessionOptions, SharedSession},
    transport::{RESULT_TOO_LARGE, param_headers::ToolSchemas},
};

mod follow;
mod lifecycle;
mod lists;
mod observe;
pub mod operations;
mod owned;
mod subscriptions;

pub use follow::FollowedSession;
pub use subscriptions::ResourceSubscription;

use lists::{list_all, list_method};

/// A cached list, as the server returned it (items as JSON, unknown fields kept).
pub type Listing = Arc<Vec<serde_json::Value>>;

/// The client of one MCP server.
pub struct ServerClient {
    pub(crate) description: ServerDescription,
    pub(crate) pool: Pool,
    pub(crate) resource_updates: tokio::sync::broadcast::Sender<Arc<str>>,
    /// Followers of each resource URI subscribed at the server.
    pub(crate) subscribed: Arc<Mutex<subscriptions::Subscribed>>,
    /// The session the subscriptions were made on.
    pub(crate) subscribed_on: Mutex<Option<std::sync::Weak<Session>>>,
    /// Sessions that belong to one client each (`owned.rs`).
    pub(crate) owned: owned::OwnedSessions,
    pub(crate) cache: Arc<ListCache<Listing>>,
    pub(crate) health: Mutex<Health>,
    pub(crate) info: Mutex<Option<SessionInfo>>,
    pub(crate) http: reqwest::Client,
    pub(crate) metrics: McpMetrics,
    pub(crate) prober: Option<ProberHandle>,
    pub(crate) allow_link_local: bool,
    pub(crate) elicitation: Elicitation,
    pub(crate) requests_relayed: bool,
    pub(crate) connecting: tokio::sync::Mutex<()>,
    pub(crate) monitor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    pub(crate) last_answer: LastAnswer,
    pub(crate) probes: ProbeCounters,
    /// Woken when a restart ends, for the calls that arrived meanwhile.
    pub(crate) restarted: tokio::sync::Notify,
    /// The last tool listing's input schemas (SEP-2243 headers, `transport/param_headers.rs`).
    pub(crate) tool_schemas: ToolSchemas,
    tool_filter: CompiledFilter,
    /// Removed or replaced in its registry: it publishes no more metrics, so that it neither
    /// brings back a removed server's series nor overwrites its successor's.
    retired: std::sync::atomic::AtomicBool,
}

impl ServerClient {
    /// A client for `description`; nothing connects until [`ServerClient::start`] (or a
    /// first call).
    pub fn new(description: ServerDescription, context: &Context) -> Arc<Self> {
        // A stdio server is one process. A stateless server needs no sessions beyond one (its
        // requests are independent HTTP POSTs over reqwest's connection pool): the pool
        // learns that from the first session (`connect_vacant`).
        let sessions = if description.transport() == Transport::Stdio {
            1
        } else {
            description.pool.size.max(1)
        };
        let pool = Pool::new(
            sessions,
            description.pool.max_in_flight.max(1),
            description.timeouts.connect,
        );
        let probes = ProbeCounters::new(&context.metrics, description.name.as_str());
        let client = Arc::new(Self {
            description,
            pool,
            cache: Arc::new(ListCache::default()),
            health: Mutex::new(Health::default()),
            info: Mutex::new(None),
            http: context.http.clone(),
            metrics: context.metrics.clone(),
            prober: context.prober.clone(),
            allow_link_local: context.allow_link_local,
            elicitation: context.elicitation,
            requests_relayed: context.requests_relayed,
            connecting: tokio::sync::Mutex::new(()),
            monitor: Mutex::new(None),
            last_answer: LastAnswer::default(),
            probes,
            restarted: tokio::sync::Notify::new(),
            tool_schemas: ToolSchemas::default(),
            tool_filter: CompiledFilter::default(),
            retired: std::sync::atomic::AtomicBool::new(false),
            resource_updates: tokio::sync::broadcast::channel(subscriptions::UPDATES_BUFFERED).0,
            subscribed: Arc::default(),
            subscribed_on: Mutex::default(),
            owned: owned::OwnedSessions::default(),
        });
        client.publish_health();
        client
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        self.description.name.as_str()
    }

    /// What the client was built from (secrets stay redacted when it is printed).
    pub fn description(&self) -> &ServerDescription {
        &self.description
    }

    fn ttl(&self, kind: ListKind) -> Duration {
        let ttls = &self.description.cache;
        match kind {
            ListKind::Tools => ttls.tools,
            ListKind::Resources | ListKind::ResourceTemplates => ttls.resources,
            ListKind::Prompts => ttls.prompts,
        }
    }

    /// Current health.
    pub fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Current state (cheaper than [`ServerClient::health`]).
    pub fn health_state(&self) -> HealthState {
        self.health.lock().unwrap_or_else(|p| p.into_inner()).state
    }

    /// What the server reported when the last session opened.
    pub fn info(&self) -> Option<SessionInfo> {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Process ids of stdio sessions (for tests and the API).
    pub fn process_ids(&self) -> Vec<u32> {
        self.pool
            .sessions()
            .iter()
            .filter_map(|s| s.process_id())
            .collect()
    }

    /// Pool occupancy.
    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    pub(crate) fn set_state(&self, state: HealthState) {
        self.health.lock().unwrap_or_else(|p| p.into_inner()).state = state;
        self.publish_health();
    }

    /// Stop publishing metrics (see `retired`).
    pub(crate) fn retire(&self) {
        self.retired
            .store(true, std::sync::atomic::Ordering::Release);
    }

    fn is_retired(&self) -> bool {
        self.retired.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn publish_health(&self) {
        if self.is_retired() {
            return;
        }
        let state = self.health.lock().unwrap_or_else(|p| p.into_inner()).state;
        for candidate in HealthState::ALL {
            self.metrics
                .health
                .with_label_values(&[self.name(), candidate.as_str()])
                .set(i64::from(candidate == state));
        }
    }

    fn session_options(&self) -> SessionOptions {
        SessionOptions {
            connect_timeout: self.description.timeouts.connect,
            // Room for the JSON-RPC envelope around a result at the limit.
            max_message_bytes: usize::try_from(self.description.max_result_bytes)
                .unwrap_or(usize::MAX)
                .saturating_add(16 * 1024),
            allow_link_local: self.allow_link_local,
            tool_schemas: self.tool_schemas.clone(),
        }
    }

    /// The tool filter of this server under the `global` one, compiled once.
    pub fn tool_filter(&self, global: &ToolGlobs) -> Arc<ToolFilter> {
        self.tool_filter.get(global, &self.description.tools)
    }

    fn events(&self) -> ClientEvents {
        let cache = Arc::downgrade(&self.cache);
        ClientEvents::new(
            Arc::from(self.name()),
            Arc::new(move |kind| {
                if let Some(cache) = cache.upgrade() {
                    cache.invalidate(kind);
                }
            }),
        )
        .with_elicitation(self.elicitation)
        .with_requests_relayed(self.requests_relayed)
        .with_resource_updates(self.resource_updates.clone())
    }

    /// Open sessions in every vacant slot. Concurrent callers share one attempt.
    pub async fn connect_vacant(&self) -> Result<(), McpError> {
        let _single_flight = self.connecting.lock().await;
        // Again after each session: a server that turned out legacy uses all the slots.
        while let Some(&index) = self.pool.vacant_slots().first() {
            let session = Session::open(
                &self.description,
                self.events(),
                &self.http,
                &self.session_options(),
            )
            .await?;
            *self.info.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.info().clone());
            let session = Arc::new(session);
            let stateless = session.info().stateless;
            if stateless {
                self.listen_for_changes(&session);
            }
            self.subscribe_again_if_lost(&session);
            // A stateless server's requests are independent POSTs: one session (and one
            // change stream) carries them all; more would only multiply streams and memory.
            let index = if stateless { 0 } else { index };
            let replaced = self.pool.install(index, session);
            for old in replaced.into_iter().chain(self.pool.set_single(stateless)) {
                close_when_unused(old);
            }
            if stateless {
                break;
            }
        }
        self.publish_pool();
        Ok(())
    }

    pub(crate) fn publish_pool(&self) {
        if self.is_retired() {
            return;
        }
        let stats = self.pool.stats();
        for (state, value) in [
            ("in_use", stats.in_use),
            ("idle", stats.idle),
            ("waiting", stats.waiting),
        ] {
            self.metrics
                .pool
                .with_label_values(&[self.name(), state])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// Run one request on a pooled session with a timeout. A timed-out request is dropped,
    /// which sends `notifications/cancelled` (`session::send_recorded`); a broken session is
    /// evicted.
    pub(crate) async fn request<T, F, Fut>(
        &self,
        method: &str,
        timeout: Duration,
        send: F,
    ) -> Result<T, McpError>
    where
        F: FnOnce(SharedSession) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        self.request_pausable(method, timeout, None, None, send)
            .await
    }

    /// [`Self::request`], with the time `clock` counts as waiting for the client added to
    /// `timeout`; on the `owned` session of one client when there is one, else on a pooled
    /// one.
    pub(crate) async fn request_pausable<T, F, Fut>(
        &self,
        method: &str,
        timeout: Duration,
        clock: Option<&AskClock>,
        owned: Option<SharedSession>,
        send: F,
    ) -> Result<T, McpError>
    where
        F: FnOnce(SharedSession) -> Fut,
        Fut: Future<Output = Result<T, rmcp::ServiceError>>,
    {
        self.check_accepts_calls(timeout).await?;
        let (session, lease) = match owned {
            Some(owned) => (owned, None),
            None => {
                let lease = self.lend().await?;
                (lease.session().clone(), Some(lease))
            }
        };
        let started = Instant::now();
        let outcome = match questions::within(timeout, clock, send(session.clone())).await {
            Some(Ok(value)) => Ok(value),
            Some(Err(e)) => Err(self.service_error(method, e)),
            None => Err(McpError::Timeout {
                server: self.name().to_owned(),
                method: method.to_owned(),
                timeout,
            }),
        };
        self.count_request(method, started, &outcome);
        // Over Streamable HTTP each request is a POST of its own: one that failed (a lost
        // connection, a garbled answer) leaves the session as it was, unless rmcp closed it.
        let broken = |e: &McpError| match self.description.transport() {
            Transport::StreamableHttp => session.is_closed(),
            _ => e.breaks_session() || session.is_closed(),
        };
        if let (Err(e), Some(lease)) = (&outcome, &lease)
            && broken(e)
            && let Some(old) = self.pool.evict(lease.index(), &session)
        {
            tracing::warn!(server = %self.name(), "session broke during `{method}`: {e}; it will be replaced");
            close_when_unused(old);
        }
        drop(lease);
        self.publish_pool();
        outcome
    }

    /// Fail fast unless the server takes calls; a restart under way is waited for (within
    /// the call's time) rather than failing a call that would work a moment later.
    async fn check_accepts_calls(&self, timeout: Duration) -> Result<(), McpError> {
        let mut health = self.health();
        if health.state == HealthState::Restarting {
            let _ = tokio::time::timeout(timeout, self.restart_finished()).await;
            health = self.health();
        }
        if !health.accepts_calls() {
            return Err(McpError::Unavailable {
                server: self.name().to_owned(),
                state: health.state,
                detail: health.last_error,
            });
        }
        Ok(())
    }

    /// A pooled session for one request.
    async fn lend(&self) -> Result<crate::pool::Lease<'_>, McpError> {
        match self.pool.acquire().await {
            Ok(lease) => Ok(lease),
            Err(AcquireError::NoSession) => {
                // Starting, or every session just broke: try once, bounded by the connect timeout.
                self.connect_vacant().await?;
                self.pool.acquire().await.map_err(|e| self.acquire_error(e))
            }
            Err(e) => Err(self.acquire_error(e)),
        }
    }

    fn count_request<T>(&self, method: &str, started: Instant, outcome: &Result<T, McpError>) {
        let label = match outcome {
            Ok(_) => {
                self.last_answer.record();
                "ok"
            }
            Err(e) => e.code(),
        };
        self.metrics
            .calls
            .with_label_values(&[self.name(), method, label])
            .inc();
        self.metrics
            .duration
            .with_label_values(&[self.name(), method])
            .observe(started.elapsed().as_secs_f64());
    }

    fn acquire_error(&self, error: AcquireError) -> McpError {
        match error {
            AcquireError::Exhausted { capacity, waited } => McpError::PoolExhausted {
                server: self.name().to_owned(),
                capacity,
                waited,
            },
            AcquireError::NoSession => McpError::Unavailable {
                server: self.name().to_owned(),
                state: self.health().state,
                detail: Some("no open session".to_owned()),
            },
        }
    }

    pub(crate) fn service_error(&self, method: &str, error: rmcp::ServiceError) -> McpError {
        if let rmcp::ServiceError::McpError(data) = &error
            && data.code.0 == RESULT_TOO_LARGE
        {
            return McpError::TooLarge {
                server: self.name().to_owned(),
                method: method.to_owned(),
                limit: self.description.max_result_bytes,
            };
        }
        McpError::from_service(
            self.name(),
            method,
            error,
            self.description.max_result_bytes,
        )
    }

    /// A list, from the cache or the server (every page), for `principal` (an API key id).
    pub async fn list(
        &self,
        kind: ListKind,
        principal: &str,
    ) -> Result<(Listing, Lookup), McpError> {
        let timeout = self.description.timeouts.call;
        let result = self
            .cache
            .get_or_load(kind, principal, self.ttl(kind), || async {
                let method = list_method(kind);
                self.request(method, timeout, |session| async move {
                    let listing = list_all(&session, kind).await?;
                    Ok(self.screen_tools(&session, kind, listing))
                })
                .await
            })
            .await;
        if let Ok((_, lookup)) = &result {
            let label = if *lookup == Lookup::Hit {
                "hit"
            } else {
                "miss"
            };
            self.metrics
                .cache
                .with_label_values(&[kind.as_str(), label])
                .inc();
        }
        result
    }
}

/// Close a session once no call holds it any more.
pub(crate) fn close_when_unused(session: Arc<Session>) {
    tokio::spawn(async move {
        let mut session = session;
        for _ in 0..600 {
            match Arc::try_unwrap(session) {
                Ok(owned) => {
                    owned.close().await;
                    return;
                }
                Err(shared) => {
                    session = shared;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        tracing::debug!("a replaced session was still in use after a minute; leaving it to drop");
    });
}
