//! State shared by every request handler.

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicBool, Ordering},
};

use llamagate_mcp::{Applied, Context, Prober, Registry, Source};

use crate::{
    auth::Keys,
    config::{self, Config},
    discovery::cluster::ClusterStatus,
    limits::Limits,
    metrics::Metrics,
    toolloop::upstream::Upstream,
};

/// What a reload changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reloaded {
    /// The MCP servers of the file: added, removed, changed, unchanged.
    pub servers: Applied,
    /// Settings that changed in the file but apply only after a restart (kept as they
    /// were): `listen`, `log`, `discovery`.
    pub needs_restart: Vec<&'static str>,
}

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: RwLock<Arc<Config>>,
    metrics: Metrics,
    registry: Registry,
    /// Kept for its lifetime: the shared health prober stops when the state is dropped.
    _prober: Option<Prober>,
    limits: RwLock<Arc<Limits>>,
    upstream: RwLock<Upstream>,
    keys: RwLock<Arc<Keys>>,
    config_path: RwLock<Option<std::path::PathBuf>>,
    reloading: tokio::sync::Mutex<()>,
    ready: AtomicBool,
    /// The cluster source's state, when it runs.
    cluster: RwLock<Option<ClusterStatus>>,
    /// `/mcp` sessions (the sealing keys are read once, at start).
    sessions: crate::aggregate::Sessions,
}

impl AppState {
    /// State for a gateway running `config`; not ready until [`AppState::set_ready`].
    pub fn new(config: Config, metrics: Metrics) -> Self {
        let prober = Prober::start()
            .inspect_err(|e| {
                tracing::warn!(
                    "shared health prober not started ({e}); each server's monitor probes it"
                )
            })
            .ok();
        // With `/mcp` served, upstream sessions declare sampling and elicitation:
        // a 2025-era server's requests during a call go to the client that made it.
        let mut context = Context::new(metrics.mcp.clone())
            .with_link_local_allowed(config.mcp.allow_link_local_addresses)
            .with_requests_relayed(config.mcp.endpoint.enabled);
        if let Some(prober) = &prober {
            context = context.with_prober(prober);
        }
        let sessions = crate::aggregate::Sessions::new(&config.mcp.endpoint);
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(Arc::new(Keys::new(&config.auth))),
                upstream: RwLock::new(Upstream::new(&config.upstream)),
                limits: RwLock::new(Arc::new(Limits::new(&config))),
                config_path: RwLock::new(None),
                reloading: tokio::sync::Mutex::new(()),
                config: RwLock::new(Arc::new(config)),
                registry: Registry::new(context),
                _prober: prober,
                metrics,
                ready: AtomicBool::new(false),
                cluster: RwLock::new(None),
                sessions,
            }),
        }
    }

    /// The configuration in force now.
    pub fn config(&self) -> Arc<Config> {
        self.inner
            .config
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Rate limits and concurrency bounds in force now.
    pub fn limits(&self) -> Arc<Limits> {
        self.inner
            .limits
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The upstream LLM client (one connection pool for every request).
    pub fn upstream(&self) -> Upstream {
        self.inner
            .upstream
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The API keys in force now.
    pub fn keys(&self) -> Arc<Keys> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Remember the file the configuration came from, for reloads.
    pub fn set_config_path(&self, path: Option<std::path::PathBuf>) {
        *self
            .inner
            .config_path
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = path;
    }

    /// Re-read the configuration file (SIGHUP, `POST /v1/admin/reload`). A file with any
    /// problem changes nothing and the error says why. Everything applies at once (servers,
    /// keys, the upstream, rate limits, concurrency and body limits) except what
    /// [`Reloaded::needs_restart`] names: the listen address, log settings and discovery.
    pub async fn reload(&self) -> Result<Reloaded, String> {
        let _one_at_a_time = self.inner.reloading.lock().await;
        let path = self
            .inner
            .config_path
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let Some(path) = path else {
            return Err(
                "the gateway was started without --config; there is no file to reload".to_owned(),
            );
        };
        let mut config = config::load(&path).map_err(|e| e.to_string())?;
        let current = self.config();
        let mut needs_restart = Vec::new();
        if config.listen != current.listen {
            tracing::warn!(old = %current.listen, new = %config.listen, "`listen` changes need a restart; keeping the old address");
            config.listen = current.listen;
            needs_restart.push("listen");
        }
        if config.log != current.log {
            tracing::warn!("`log` changes need a restart; keeping the old log settings");
            config.log = current.log.clone();
            needs_restart.push("log");
        }
        if config.mcp.allow_link_local_addresses != current.mcp.allow_link_local_addresses {
            tracing::warn!(
                "`mcp.allow_link_local_addresses` changes need a restart; keeping the old setting"
            );
            config.mcp.allow_link_local_addresses = current.mcp.allow_link_local_addresses;
            needs_restart.push("mcp.allow_link_local_addresses");
        }
        if config.discovery != current.discovery {
            tracing::warn!("`discovery` changes need a restart; keeping the old sources");
            config.discovery = current.discovery.clone();
            needs_restart.push("discovery");
        }
        let applied = self.registry().apply(
            Source::File,
            config.mcp.descriptions(),
            config.server.shutdown_grace,
        );
        *self
            .inner
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(Keys::new(&config.auth));
        // Requests in flight keep the limits and the upstream client they started with.
        // Unchanged limits keep their buckets and their count of requests in flight.
        if Limits::settings_differ(&current, &config) {
            *self
                .inner
                .limits
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(Limits::new(&config));
        }
        *self
            .inner
            .upstream
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Upstream::new(&config.upstream);
        *self
            .inner
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
        tracing::info!(added = ?applied.added, removed = ?applied.removed, changed = ?applied.changed, "configuration reloaded");
        Ok(Reloaded {
            servers: applied,
            needs_restart,
        })
    }

    /// Register the servers of the configuration file (the registry's file source); they
    /// connect in the background.
    pub fn apply_file_servers(&self) -> Applied {
        let config = self.config();
        self.registry().apply(
            Source::File,
            config.mcp.descriptions(),
            config.server.shutdown_grace,
        )
    }

    /// The `/mcp` endpoint's sessions.
    pub fn sessions(&self) -> &crate::aggregate::Sessions {
        &self.inner.sessions
    }

    /// The MCP servers.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The metric families.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// True once configuration is loaded and every discovery source has synced.
    pub fn is_ready(&self) -> bool {
        let cluster_synced = self
            .cluster_status()
            .is_none_or(|status| status.state != "syncing");
        self.inner.ready.load(Ordering::Acquire) && cluster_synced
    }

    /// A cluster source runs: not ready until its first full sync.
    pub fn expect_cluster_source(&self) {
        *self
            .inner
            .cluster
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(ClusterStatus {
            state: "syncing",
            ..ClusterStatus::default()
        });
    }

    /// What the cluster source last applied.
    pub fn set_cluster_status(&self, status: ClusterStatus) {
        *self
            .inner
            .cluster
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(status);
    }

    /// The cluster source's state, when it runs.
    pub fn cluster_status(&self) -> Option<ClusterStatus> {
        self.inner
            .cluster
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Mark the gateway ready (or not, while shutting down).
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }
}
