//! One MCP server as the rest of the gateway sees it: its sessions, its cache, its health,
//! and every operation of the protocol with timeouts, size limits and clear errors.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{
    cache::{ListCache, ListKind, Lookup},
    error::McpError,
    events::ClientEvents,
    health::{Health, HealthState, LastAnswer, ProbeCounters},
    lists::{list_all, list_method},
    pool::{AcquireError, Pool, PoolStats},
    session::{Session, SessionInfo, SessionOptions, SharedSession},
    transport::RESULT_TOO_LARGE,
};
use crate::{
    config::{McpConfig, ServerConfig, Transport},
    metrics::Metrics,
};

/// Settings of a server client taken from the global `mcp` section.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSettings {
    /// Connect/handshake timeout and pool acquire timeout.
    pub connection_timeout: Duration,
    /// Default timeout of one call.
    pub call_timeout: Duration,
    /// Time between probes.
    pub health_check_interval: Duration,
    /// Timeout of one probe.
    pub health_check_timeout: Duration,
    /// Failed probes before unhealthy.
    pub failure_threshold: u32,
    /// Sessions per legacy server.
    pub pool_size: usize,
    /// Requests per session.
    pub max_in_flight: usize,
    /// Largest result accepted.
    pub max_result_bytes: u64,
    /// TTLs of the list caches.
    pub tools_ttl: Duration,
    /// `resources/list` and templates.
    pub resources_ttl: Duration,
    /// `prompts/list`.
    pub prompts_ttl: Duration,
}

impl ClientSettings {
    /// Settings for `server` from the global section, with the server's own overrides.
    pub fn new(mcp: &McpConfig, server: &ServerConfig) -> Self {
        Self {
            connection_timeout: mcp.connection_timeout,
            call_timeout: server.timeout.unwrap_or(mcp.limits.tool_timeout),
            health_check_interval: mcp.health_check_interval,
            health_check_timeout: mcp.health_check_timeout,
            failure_threshold: mcp.health_failure_threshold,
            pool_size: server
                .connection_pool_size
                .unwrap_or(mcp.connection_pool_size),
            max_in_flight: mcp.max_in_flight_per_session,
            max_result_bytes: mcp.limits.max_tool_result_bytes.as_u64(),
            tools_ttl: mcp.cache.tool_definitions_ttl,
            resources_ttl: mcp.cache.resource_metadata_ttl,
            prompts_ttl: mcp.cache.prompt_templates_ttl,
        }
    }

    fn ttl(&self, kind: ListKind) -> Duration {
        match kind {
            ListKind::Tools => self.tools_ttl,
            ListKind::Resources | ListKind::ResourceTemplates => self.resources_ttl,
            ListKind::Prompts => self.prompts_ttl,
        }
    }
}

/// A cached list, as the server returned it (items as JSON, unknown fields kept).
pub type Listing = Arc<Vec<serde_json::Value>>;

/// The client of one MCP server.
pub struct ServerClient {
    pub(crate) config: ServerConfig,
    pub(crate) settings: ClientSettings,
    pub(crate) pool: Pool,
    pub(crate) cache: Arc<ListCache<Listing>>,
    pub(crate) health: Mutex<Health>,
    pub(crate) info: Mutex<Option<SessionInfo>>,
    pub(crate) http: reqwest::Client,
    pub(crate) metrics: Metrics,
    pub(crate) connecting: tokio::sync::Mutex<()>,
    pub(crate) monitor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    pub(crate) last_answer: LastAnswer,
    pub(crate) probes: ProbeCounters,
}

impl ServerClient {
    /// A client for `config`; nothing connects until [`ServerClient::start`].
    pub fn new(
        config: ServerConfig,
        settings: ClientSettings,
        http: reqwest::Client,
        metrics: Metrics,
    ) -> Arc<Self> {
        // A stdio server is one process; a stateless server needs no sessions beyond one
        // (its requests are independent HTTP POSTs over reqwest's connection pool).
        let sessions = if config.transport == Transport::Stdio {
            1
        } else {
            settings.pool_size
        };
        let pool = Pool::new(
            sessions,
            settings.max_in_flight,
            settings.connection_timeout,
        );
        let probes = ProbeCounters::new(&metrics, &config.name);
        let client = Arc::new(Self {
            config,
            settings,
            pool,
            cache: Arc::new(ListCache::default()),
            health: Mutex::new(Health::default()),
            info: Mutex::new(None),
            http,
            metrics,
            connecting: tokio::sync::Mutex::new(()),
            monitor: Mutex::new(None),
            last_answer: LastAnswer::default(),
            probes,
        });
        client.publish_health();
        client
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The server's configuration (secrets stay redacted when it is printed).
    pub fn config(&self) -> &ServerConfig {
        &self.config
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

    /// Drop every cached list (benchmarks and restarts).
    pub fn cache_clear(&self) {
        self.cache.clear();
    }

    /// Age of each cached list.
    pub fn cache_ages(&self) -> Vec<(ListKind, Duration)> {
        [
            ListKind::Tools,
            ListKind::Resources,
            ListKind::ResourceTemplates,
            ListKind::Prompts,
        ]
        .into_iter()
        .filter_map(|kind| self.cache.age(kind).map(|age| (kind, age)))
        .collect()
    }

    pub(crate) fn set_state(&self, state: HealthState) {
        self.health.lock().unwrap_or_else(|p| p.into_inner()).state = state;
        self.publish_health();
    }

    pub(crate) fn publish_health(&self) {
        let state = self.health.lock().unwrap_or_else(|p| p.into_inner()).state;
        for candidate in HealthState::ALL {
            self.metrics
                .mcp_health
                .with_label_values(&[self.name(), candidate.as_str()])
                .set(i64::from(candidate == state));
        }
    }

    fn session_options(&self) -> SessionOptions {
        SessionOptions {
            connect_timeout: self.settings.connection_timeout,
            // Room for the JSON-RPC envelope around a result at the limit.
            max_message_bytes: usize::try_from(self.settings.max_result_bytes)
                .unwrap_or(usize::MAX)
                .saturating_add(16 * 1024),
        }
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
    }

    /// Open sessions in every vacant slot. Concurrent callers share one attempt.
    pub async fn connect_vacant(&self) -> Result<(), McpError> {
        let _single_flight = self.connecting.lock().await;
        for index in self.pool.vacant_slots() {
            let session = Session::open(
                &self.config,
                self.events(),
                &self.http,
                &self.session_options(),
            )
            .await?;
            *self.info.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.info().clone());
            let session = Arc::new(session);
            if session.info().stateless {
                self.listen_for_changes(&session);
            }
            if let Some(old) = self.pool.install(index, session) {
                close_when_unused(old);
            }
        }
        self.publish_pool();
        Ok(())
    }

    /// Stateless (2026-07-28) servers send `list_changed` only on a `subscriptions/listen`
    /// stream; keep one open per session and invalidate the cache from it.
    fn listen_for_changes(&self, session: &Arc<Session>) {
        use rmcp::model::{ServerNotification, SubscriptionFilter};
        let peer = session.peer().clone();
        let cache = Arc::downgrade(&self.cache);
        let server = self.name().to_owned();
        tokio::spawn(async move {
            let filter = SubscriptionFilter::builder()
                .tools_list_changed()
                .resources_list_changed()
                .prompts_list_changed()
                .build();
            let mut subscription = match peer.listen(filter).await {
                Ok(subscription) => subscription,
                Err(e) => {
                    tracing::debug!(server = %server, "no change subscription: {e}");
                    return;
                }
            };
            while let Ok(Some(notification)) = subscription.next().await {
                let Some(cache) = cache.upgrade() else { return };
                match notification {
                    ServerNotification::ToolListChangedNotification(_) => {
                        cache.invalidate(ListKind::Tools)
                    }
                    ServerNotification::PromptListChangedNotification(_) => {
                        cache.invalidate(ListKind::Prompts)
                    }
                    ServerNotification::ResourceListChangedNotification(_) => {
                        cache.invalidate(ListKind::Resources);
                        cache.invalidate(ListKind::ResourceTemplates);
                    }
                    _ => {}
                }
            }
        });
    }

    pub(crate) fn publish_pool(&self) {
        let stats = self.pool.stats();
        for (state, value) in [
            ("in_use", stats.in_use),
            ("idle", stats.idle),
            ("waiting", stats.waiting),
        ] {
            self.metrics
                .mcp_pool
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
        let health = self.health();
        if !health.accepts_calls() {
            return Err(McpError::Unavailable {
                server: self.name().to_owned(),
                state: health.state,
                detail: health.last_error,
            });
        }
        let lease = match self.pool.acquire().await {
            Ok(lease) => lease,
            Err(AcquireError::NoSession) => {
                // Starting, or every session just broke: try once, bounded by the connect timeout.
                self.connect_vacant().await?;
                self.pool
                    .acquire()
                    .await
                    .map_err(|e| self.acquire_error(e))?
            }
            Err(e) => return Err(self.acquire_error(e)),
        };
        let started = Instant::now();
        let session = lease.session().clone();
        let outcome = match tokio::time::timeout(timeout, send(session)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.service_error(method, e)),
            Err(_) => Err(McpError::Timeout {
                server: self.name().to_owned(),
                method: method.to_owned(),
                timeout,
            }),
        };
        let label = match &outcome {
            Ok(_) => {
                self.last_answer.record();
                "ok"
            }
            Err(e) => e.code(),
        };
        self.metrics
            .mcp_calls
            .with_label_values(&[self.name(), method, label])
            .inc();
        self.metrics
            .mcp_duration
            .with_label_values(&[self.name(), method])
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = &outcome
            && (e.breaks_session() || lease.session().is_closed())
        {
            let broken = lease.session().clone();
            if let Some(old) = self.pool.evict(lease.index(), &broken) {
                tracing::warn!(server = %self.name(), "session broke during `{method}`: {e}; it will be replaced");
                close_when_unused(old);
            }
        }
        drop(lease);
        self.publish_pool();
        outcome
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
                limit: self.settings.max_result_bytes,
            };
        }
        McpError::from_service(self.name(), method, error, self.settings.max_result_bytes)
    }

    /// A list, from the cache or the server (every page), for `principal` (an API key id).
    pub async fn list(
        &self,
        kind: ListKind,
        principal: &str,
    ) -> Result<(Listing, Lookup), McpError> {
        let timeout = self.settings.call_timeout;
        let result = self
            .cache
            .get_or_load(kind, principal, self.settings.ttl(kind), || async {
                let method = list_method(kind);
                self.request(method, timeout, |session| async move {
                    list_all(&session, kind).await
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
                .mcp_cache
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
