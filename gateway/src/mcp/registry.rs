//! The set of MCP servers a gateway replica uses. Every discovery source (the config file
//! now, `McpServer` resources next) feeds it the same [`ServerConfig`]s; applying a new set
//! starts added servers, stops removed ones, restarts changed ones, and leaves unchanged
//! ones — and their sessions — alone.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use super::server::{ClientSettings, ServerClient};
use crate::{
    config::{McpConfig, ServerConfig},
    metrics::Metrics,
};

/// What [`Registry::apply`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// Servers started.
    pub added: Vec<String>,
    /// Servers stopped and removed.
    pub removed: Vec<String>,
    /// Servers whose configuration changed, restarted with it.
    pub changed: Vec<String>,
    /// Servers left as they were.
    pub unchanged: Vec<String>,
}

/// The servers, by name.
pub struct Registry {
    servers: RwLock<BTreeMap<String, Arc<ServerClient>>>,
    http: reqwest::Client,
    metrics: Metrics,
}

impl Registry {
    /// An empty registry; `http` is shared by every HTTP-based session (keep-alive, HTTP/2).
    pub fn new(metrics: Metrics) -> Self {
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .expect("the TLS backend initializes");
        Self {
            servers: RwLock::default(),
            http,
            metrics,
        }
    }

    /// One server.
    pub fn get(&self, name: &str) -> Option<Arc<ServerClient>> {
        self.servers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Every server, by name.
    pub fn all(&self) -> Vec<Arc<ServerClient>> {
        self.servers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Make the registry hold exactly `mcp.servers`. Enabled servers start in the background.
    pub async fn apply(&self, mcp: &McpConfig, grace: Duration) -> Applied {
        let mut applied = Applied::default();
        let mut to_stop = Vec::new();
        let mut to_start = Vec::new();
        {
            let mut servers = self.servers.write().unwrap_or_else(|p| p.into_inner());
            let wanted: BTreeMap<&str, &ServerConfig> =
                mcp.servers.iter().map(|s| (s.name.as_str(), s)).collect();
            let names: Vec<String> = servers.keys().cloned().collect();
            for name in names {
                if !wanted.contains_key(name.as_str())
                    && let Some(old) = servers.remove(&name)
                {
                    applied.removed.push(name);
                    to_stop.push(old);
                }
            }
            for (name, config) in wanted {
                let settings = ClientSettings::new(mcp, config);
                match servers.get(name) {
                    Some(existing)
                        if existing.config() == config && existing.settings == settings =>
                    {
                        applied.unchanged.push(name.to_owned());
                        continue;
                    }
                    Some(_) => applied.changed.push(name.to_owned()),
                    None => applied.added.push(name.to_owned()),
                }
                let client = ServerClient::new(
                    config.clone(),
                    settings,
                    self.http.clone(),
                    self.metrics.clone(),
                );
                if let Some(old) = servers.insert(name.to_owned(), client.clone()) {
                    to_stop.push(old);
                }
                if config.enabled && mcp.enabled {
                    to_start.push(client);
                } else {
                    client.set_state(super::health::HealthState::Stopped);
                }
            }
        }
        for client in to_start {
            client.start();
        }
        for old in to_stop {
            tokio::spawn(async move { old.stop(grace).await });
        }
        applied
    }

    /// Stop every server (shutdown).
    pub async fn shutdown(&self, grace: Duration) {
        let servers: Vec<_> =
            std::mem::take(&mut *self.servers.write().unwrap_or_else(|p| p.into_inner()))
                .into_values()
                .collect();
        futures::future::join_all(servers.iter().map(|s| s.stop(grace))).await;
    }
}
