//! State shared by every request handler.

use std::sync::{
    Arc, RwLock,
    atomic::{AtomicBool, Ordering},
};

use crate::{config::Config, mcp::registry::Registry, metrics::Metrics};

/// Cheap to clone; everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: RwLock<Arc<Config>>,
    metrics: Metrics,
    registry: Registry,
    ready: AtomicBool,
}

impl AppState {
    /// State for a gateway running `config`; not ready until [`AppState::set_ready`].
    pub fn new(config: Config, metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(Inner {
                config: RwLock::new(Arc::new(config)),
                registry: Registry::new(metrics.clone()),
                metrics,
                ready: AtomicBool::new(false),
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

    /// Replace the configuration (after it was validated).
    pub fn set_config(&self, config: Config) {
        *self
            .inner
            .config
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(config);
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
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Mark the gateway ready (or not, while shutting down).
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }
}
