//! The set of MCP servers a gateway replica uses, fed by several sources: the config file,
//! and `McpServer` resources of the cluster. Each source applies its own set: a change from
//! one never touches another's servers. Applying a set starts added servers, stops removed
//! ones, restarts changed ones, and leaves unchanged ones (and their sessions) alone.
//!
//! Names are unique across sources: a server whose name another source already holds is
//! refused (reported in [`Applied::conflicts`]) and the first holder keeps it.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, RwLock},
    time::Duration,
};

use serde::Serialize;

use crate::{
    context::Context, description::ServerDescription, health::HealthState, server::ServerClient,
};

/// Where a server came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The gateway's configuration file.
    File,
    /// `McpServer` resources of a Kubernetes cluster.
    Cluster,
}

impl Source {
    /// The name shown in the API and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::File => "file",
            Source::Cluster => "cluster",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name one source asked for that another source already holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The server name.
    pub name: String,
    /// The source that holds it.
    pub held_by: Source,
}

/// What [`Registry::apply`] changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// Servers started.
    pub added: Vec<String>,
    /// Servers stopped and removed.
    pub removed: Vec<String>,
    /// Servers whose description changed, restarted with it.
    pub changed: Vec<String>,
    /// Servers left as they were.
    pub unchanged: Vec<String>,
    /// Servers refused because another source holds their name (or the set named them
    /// twice).
    pub conflicts: Vec<Conflict>,
}

struct Entry {
    source: Source,
    client: Arc<ServerClient>,
}

/// The servers, by name.
pub struct Registry {
    servers: RwLock<BTreeMap<String, Entry>>,
    context: Context,
    /// Bumped whenever servers are added, removed or replaced.
    membership: tokio::sync::watch::Sender<u64>,
}

impl Registry {
    /// An empty registry whose clients share `context`.
    pub fn new(context: Context) -> Self {
        Self {
            servers: RwLock::default(),
            context,
            membership: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Changes when servers are added, removed or replaced (their lists changed with them).
    pub fn membership(&self) -> tokio::sync::watch::Receiver<u64> {
        self.membership.subscribe()
    }

    /// What the clients share.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// One server.
    pub fn get(&self, name: &str) -> Option<Arc<ServerClient>> {
        self.read().get(name).map(|entry| entry.client.clone())
    }

    /// The source of the server `name`.
    pub fn source_of(&self, name: &str) -> Option<Source> {
        self.read().get(name).map(|entry| entry.source)
    }

    /// Every server, by name.
    pub fn all(&self) -> Vec<Arc<ServerClient>> {
        self.read()
            .values()
            .map(|entry| entry.client.clone())
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>> {
        self.servers.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Make `source`'s servers exactly `servers`; other sources' servers are not touched.
    /// Enabled servers start in the background; stopped ones finish their calls for at most
    /// `grace`.
    pub fn apply(
        &self,
        source: Source,
        servers: Vec<ServerDescription>,
        grace: Duration,
    ) -> Applied {
        let mut applied = Applied::default();
        let mut to_stop = Vec::new();
        let mut to_start = Vec::new();
        {
            let mut held = self.servers.write().unwrap_or_else(|p| p.into_inner());
            let mut wanted: BTreeMap<String, ServerDescription> = BTreeMap::new();
            for server in servers {
                let name = server.name.as_str().to_owned();
                let taken_by = held
                    .get(&name)
                    .map(|entry| entry.source)
                    .filter(|holder| *holder != source)
                    .or_else(|| wanted.contains_key(&name).then_some(source));
                match taken_by {
                    Some(held_by) => applied.conflicts.push(Conflict { name, held_by }),
                    None => {
                        wanted.insert(name, server);
                    }
                }
            }
            let gone: Vec<String> = held
                .iter()
                .filter(|(name, entry)| entry.source == source && !wanted.contains_key(*name))
                .map(|(name, _)| name.clone())
                .collect();
            for name in gone {
                if let Some(old) = held.remove(&name) {
                    old.client.retire();
                    self.context.metrics.forget_server(&name);
                    applied.removed.push(name);
                    to_stop.push(old.client);
                }
            }
            for (name, description) in wanted {
                match held.get(&name) {
                    Some(existing) if existing.client.description() == &description => {
                        applied.unchanged.push(name);
                        continue;
                    }
                    Some(_) => applied.changed.push(name.clone()),
                    None => applied.added.push(name.clone()),
                }
                let enabled = description.enabled;
                let client = ServerClient::new(description, &self.context);
                let entry = Entry {
                    source,
                    client: client.clone(),
                };
                if let Some(old) = held.insert(name, entry) {
                    old.client.retire();
                    to_stop.push(old.client);
                }
                if enabled {
                    to_start.push(client);
                } else {
                    client.set_state(HealthState::Stopped);
                }
            }
        }
        if !(applied.added.is_empty() && applied.removed.is_empty() && applied.changed.is_empty()) {
            self.membership.send_modify(|generation| *generation += 1);
        }
        for old in to_stop {
            tokio::spawn(async move { old.stop(grace).await });
        }
        for client in to_start {
            client.start();
        }
        applied
    }

    /// Stop every server (shutdown).
    pub async fn shutdown(&self, grace: Duration) {
        let servers: Vec<_> =
            std::mem::take(&mut *self.servers.write().unwrap_or_else(|p| p.into_inner()))
                .into_values()
                .collect();
        futures::future::join_all(servers.iter().map(|entry| entry.client.stop(grace))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        McpMetrics,
        description::{Endpoint, RemoteEndpoint, RemoteTransport, ServerName},
    };

    fn server(name: &str, port: u16) -> ServerDescription {
        let url = format!("http://127.0.0.1:{port}/mcp");
        let endpoint = RemoteEndpoint::new(RemoteTransport::StreamableHttp, &url).unwrap();
        let mut description =
            ServerDescription::new(ServerName::new(name).unwrap(), Endpoint::Remote(endpoint));
        // Nothing listens there: keep them registered but not connecting.
        description.enabled = false;
        description
    }

    fn registry() -> Registry {
        Registry::new(Context::new(McpMetrics::unregistered()))
    }

    #[tokio::test]
    async fn a_source_never_touches_another_sources_servers() {
        let registry = registry();
        let grace = Duration::ZERO;
        let file = registry.apply(Source::File, vec![server("a", 1), server("b", 1)], grace);
        assert_eq!(file.added, ["a", "b"]);
        let before = registry.get("a").unwrap();
        let cluster = registry.apply(Source::Cluster, vec![server("c", 1)], grace);
        assert_eq!(
            (cluster.added, cluster.removed),
            (vec!["c".to_owned()], vec![])
        );
        let emptied = registry.apply(Source::Cluster, vec![], grace);
        assert_eq!(emptied.removed, ["c"]);
        assert!(
            Arc::ptr_eq(&before, &registry.get("a").unwrap()),
            "the file's server is the same client, sessions and all"
        );
        assert_eq!(registry.all().len(), 2);
        assert_eq!(registry.source_of("b"), Some(Source::File));
    }

    #[tokio::test]
    async fn a_name_held_by_another_source_is_refused() {
        let registry = registry();
        let grace = Duration::ZERO;
        registry.apply(Source::File, vec![server("shared", 1)], grace);
        let applied = registry.apply(
            Source::Cluster,
            vec![server("shared", 2), server("own", 2)],
            grace,
        );
        assert_eq!(
            applied.conflicts,
            [Conflict {
                name: "shared".to_owned(),
                held_by: Source::File
            }]
        );
        assert_eq!(applied.added, ["own"]);
        let kept = registry.get("shared").unwrap();
        assert_eq!(
            kept.description().shown_url().as_deref(),
            Some("http://127.0.0.1:1/mcp"),
            "the first holder keeps the name"
        );
    }

    #[tokio::test]
    async fn unchanged_servers_are_kept_and_changed_ones_replaced() {
        let registry = registry();
        let grace = Duration::ZERO;
        registry.apply(Source::File, vec![server("a", 1), server("b", 1)], grace);
        let a = registry.get("a").unwrap();
        let b = registry.get("b").unwrap();
        let applied = registry.apply(Source::File, vec![server("a", 1), server("b", 2)], grace);
        assert_eq!(
            (applied.unchanged, applied.changed),
            (vec!["a".to_owned()], vec!["b".to_owned()])
        );
        assert!(Arc::ptr_eq(&a, &registry.get("a").unwrap()));
        assert!(!Arc::ptr_eq(&b, &registry.get("b").unwrap()));
    }

    #[tokio::test]
    async fn a_name_twice_in_one_set_is_a_conflict() {
        let registry = registry();
        let applied = registry.apply(
            Source::Cluster,
            vec![server("x", 1), server("x", 2)],
            Duration::ZERO,
        );
        assert_eq!(applied.added, ["x"]);
        assert_eq!(applied.conflicts.len(), 1);
    }

    #[tokio::test]
    async fn a_removed_server_leaves_no_health_series_behind() {
        let registry_metrics = prometheus::Registry::new();
        let metrics = McpMetrics::register(&registry_metrics).unwrap();
        let registry = Registry::new(Context::new(metrics));
        registry.apply(Source::File, vec![server("gone", 1)], Duration::ZERO);
        let series = |name: &str| {
            registry_metrics
                .gather()
                .iter()
                .filter(|family| family.name() == "mcp_server_health")
                .flat_map(|family| family.get_metric().to_vec())
                .filter(|metric| {
                    metric
                        .get_label()
                        .iter()
                        .any(|label| label.name() == "server" && label.value() == name)
                })
                .count()
        };
        assert!(series("gone") > 0);
        registry.apply(Source::File, vec![], Duration::ZERO);
        // The old client's stop runs in the background; it must not publish again.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(series("gone"), 0);
    }
}
