//! The cluster source of the MCP registry: `McpServer` resources of one namespace (and
//! label selector) that the operator has verified (`status.url`), with credentials from the
//! Secrets they reference, each Secret watched by name. Every change is applied through the
//! registry's `Cluster` source, so the file's servers are never touched; a server whose
//! `llamagate.io/restarted-at` annotation changes has its sessions dropped and re-opened.
//!
//! A replica never starts a process from what it reads here: `llamagate_crds::client`
//! produces remote descriptions only. When a watch breaks, the last known set keeps serving
//! and the source says it is stale until the watch (retried with backoff) is back.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret as SecretObject;
use kube::{
    Api, Client,
    runtime::{WatchStreamExt, watcher},
};
use llamagate_crds::{
    McpServer, RESTARTED_AT_ANNOTATION,
    client::{DescribeError, SecretValues, describe, referenced_secrets, secret_values},
};
use llamagate_mcp::{Secret, ServerDescription, Source};
use serde::Serialize;
use tokio::sync::Notify;

use crate::{config::McpConfig, state::AppState};

/// What `/v1/mcp/servers` says of the cluster source.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClusterStatus {
    /// `syncing` until the first full list, then `synced`; `stale` while a watch is broken
    /// (the last known servers keep serving).
    pub state: &'static str,
    /// Servers taken from the cluster.
    pub servers: usize,
    /// `McpServer`s left out, and why (not verified yet, a Secret missing).
    pub skipped: BTreeMap<String, String>,
    /// The last watch error, while stale.
    pub error: Option<String>,
}

/// What the watches have seen.
#[derive(Default)]
struct View {
    servers: BTreeMap<String, McpServer>,
    servers_synced: bool,
    secrets: BTreeMap<String, BTreeMap<String, Secret>>,
    error: Option<String>,
}

struct Shared {
    view: Mutex<View>,
    changed: Notify,
}

/// Watch the cluster and keep the registry's cluster source in step, until the process ends.
pub async fn run(client: Client, namespace: String, selector: Option<String>, state: AppState) {
    let shared = Arc::new(Shared {
        view: Mutex::default(),
        changed: Notify::new(),
    });
    let servers: Api<McpServer> = Api::namespaced(client.clone(), &namespace);
    let mut config = watcher::Config::default();
    if let Some(selector) = &selector {
        config = config.labels(selector);
    }
    tokio::spawn(watch_servers(watcher(servers, config), shared.clone()));
    let secrets: Api<SecretObject> = Api::namespaced(client, &namespace);
    let mut secret_watches: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
    let mut applied_restarts: BTreeMap<String, Option<String>> = BTreeMap::new();
    loop {
        shared.changed.notified().await;
        // Changes often come in bursts (a list, a Secret and its server): apply them once.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (wanted_secrets, plan) = {
            let view = shared.view.lock().unwrap_or_else(|p| p.into_inner());
            (secret_names(&view), plan(&view, &state.config().mcp))
        };
        sync_secret_watches(&secrets, &wanted_secrets, &mut secret_watches, &shared);
        let Some(plan) = plan else { continue };
        apply(&state, plan, &mut applied_restarts).await;
    }
}

/// Every Secret the watched servers reference.
fn secret_names(view: &View) -> BTreeSet<String> {
    view.servers
        .values()
        .flat_map(|server| referenced_secrets(&server.spec))
        .map(|(name, _)| name)
        .collect()
}

/// Start a watch for each newly referenced Secret, stop those no longer referenced.
fn sync_secret_watches(
    api: &Api<SecretObject>,
    wanted: &BTreeSet<String>,
    watches: &mut BTreeMap<String, tokio::task::JoinHandle<()>>,
    shared: &Arc<Shared>,
) {
    watches.retain(|name, task| {
        let keep = wanted.contains(name);
        if !keep {
            task.abort();
            let mut view = shared.view.lock().unwrap_or_else(|p| p.into_inner());
            view.secrets.remove(name);
        }
        keep
    });
    for name in wanted {
        if !watches.contains_key(name) {
            let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
            let stream = watcher(api.clone(), config);
            let task = tokio::spawn(watch_secret(name.clone(), stream, shared.clone()));
            watches.insert(name.clone(), task);
        }
    }
}

/// What the registry's cluster source should hold, and what it skipped; `None` until the
/// first full list of servers.
struct Plan {
    servers: Vec<ServerDescription>,
    /// Every applied server's restart annotation, `None` for one without.
    restarted_at: BTreeMap<String, Option<String>>,
    status: ClusterStatus,
}

fn plan(view: &View, mcp: &McpConfig) -> Option<Plan> {
    if !view.servers_synced {
        return None;
    }
    let values: SecretValues = view
        .secrets
        .iter()
        .flat_map(|(secret, keys)| {
            keys.iter()
                .map(move |(key, value)| ((secret.clone(), key.clone()), value.clone()))
        })
        .collect();
    let mut servers = Vec::new();
    let mut restarted_at = BTreeMap::new();
    let mut skipped = BTreeMap::new();
    for (name, server) in &view.servers {
        match cluster_description(server, &values, mcp) {
            Ok(description) => {
                let at = server
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(RESTARTED_AT_ANNOTATION));
                restarted_at.insert(description.name.to_string(), at.cloned());
                servers.push(description);
            }
            Err(why) => {
                skipped.insert(name.clone(), why);
            }
        }
    }
    let status = ClusterStatus {
        state: if view.error.is_some() {
            "stale"
        } else {
            "synced"
        },
        servers: servers.len(),
        skipped,
        error: view.error.clone(),
    };
    Some(Plan {
        servers,
        restarted_at,
        status,
    })
}

/// A verified server as the client's description, with the gateway's cache and limits.
fn cluster_description(
    server: &McpServer,
    secrets: &SecretValues,
    mcp: &McpConfig,
) -> Result<ServerDescription, String> {
    let url = server
        .status
        .as_ref()
        .and_then(|status| status.url.as_deref())
        .ok_or("not verified by the operator yet (no status.url)")?;
    let mut description = describe(server, url, secrets).map_err(|e| match e {
        DescribeError::SecretNotFound { .. } => format!("SecretNotFound: {e}"),
        DescribeError::Invalid { .. } => e.to_string(),
    })?;
    description.cache.tools = mcp.cache.tool_definitions_ttl;
    description.cache.resources = mcp.cache.resource_metadata_ttl;
    description.cache.prompts = mcp.cache.prompt_templates_ttl;
    description.max_result_bytes = mcp.limits.max_tool_result_bytes.as_u64();
    description.enabled = mcp.enabled;
    Ok(description)
}

async fn apply(
    state: &AppState,
    plan: Plan,
    applied_restarts: &mut BTreeMap<String, Option<String>>,
) {
    let grace = state.config().server.shutdown_grace;
    let applied = state.registry().apply(Source::Cluster, plan.servers, grace);
    for conflict in &applied.conflicts {
        tracing::warn!(server = %conflict.name, held_by = %conflict.held_by, "an McpServer's name is taken; not registered");
    }
    if !(applied.added.is_empty() && applied.removed.is_empty() && applied.changed.is_empty()) {
        tracing::info!(added = ?applied.added, removed = ?applied.removed, changed = ?applied.changed, "MCP servers from the cluster");
    }
    // A changed restart annotation on a server that is otherwise unchanged: drop and
    // re-open its sessions (an added or changed one has new sessions anyway).
    // A server seen before without the annotation counts too: the first restart adds it.
    for (name, at) in &plan.restarted_at {
        let Some(at) = at else { continue };
        let seen_before = applied_restarts.get(name);
        if seen_before.is_some_and(|before| before.as_ref() != Some(at))
            && applied.unchanged.contains(name)
            && let Some(client) = state.registry().get(name)
        {
            tracing::info!(server = %name, "restarted-at changed; re-opening its sessions");
            let _ = client.restart(grace.min(Duration::from_secs(5))).await;
        }
    }
    *applied_restarts = plan.restarted_at;
    state.set_cluster_status(plan.status);
}

/// Fold watcher events into the view: a full list replaces the set, then changes apply.
async fn watch_servers(
    events: impl Stream<Item = Result<watcher::Event<McpServer>, watcher::Error>> + Send,
    shared: Arc<Shared>,
) {
    let mut events = std::pin::pin!(events.default_backoff());
    let mut listing: Option<BTreeMap<String, McpServer>> = None;
    while let Some(event) = events.next().await {
        let mut view = shared.view.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            Ok(watcher::Event::Init) => listing = Some(BTreeMap::new()),
            Ok(watcher::Event::InitApply(server)) => {
                if let (Some(listing), Some(name)) =
                    (listing.as_mut(), server.metadata.name.clone())
                {
                    listing.insert(name, server);
                }
            }
            Ok(watcher::Event::InitDone) => {
                view.servers = listing.take().unwrap_or_default();
                view.servers_synced = true;
                view.error = None;
            }
            Ok(watcher::Event::Apply(server)) => {
                if let Some(name) = server.metadata.name.clone() {
                    view.servers.insert(name, server);
                }
                view.error = None;
            }
            Ok(watcher::Event::Delete(server)) => {
                if let Some(name) = &server.metadata.name {
                    view.servers.remove(name);
                }
            }
            Err(e) => {
                tracing::warn!("the McpServer watch broke (retrying with backoff): {e}");
                view.error = Some(e.to_string());
            }
        }
        drop(view);
        shared.changed.notify_one();
    }
}

/// Fold one Secret's watch into the view.
async fn watch_secret(
    name: String,
    events: impl Stream<Item = Result<watcher::Event<SecretObject>, watcher::Error>> + Send,
    shared: Arc<Shared>,
) {
    let mut events = std::pin::pin!(events.default_backoff());
    // A re-list after a broken watch reports what exists, not what was deleted meanwhile: a
    // Secret the list does not bring back is gone.
    let mut listed = false;
    while let Some(event) = events.next().await {
        let values = match event {
            Ok(watcher::Event::Apply(secret)) => Some(secret_values(&secret)),
            Ok(watcher::Event::InitApply(secret)) => {
                listed = true;
                Some(secret_values(&secret))
            }
            Ok(watcher::Event::Delete(_)) => None,
            Ok(watcher::Event::Init) => {
                listed = false;
                continue;
            }
            Ok(watcher::Event::InitDone) if !listed => None,
            Ok(watcher::Event::InitDone) => continue,
            Err(e) => {
                tracing::warn!(secret = %name, "a Secret watch broke (retrying with backoff): {e}");
                continue;
            }
        };
        let mut view = shared.view.lock().unwrap_or_else(|p| p.into_inner());
        match values {
            Some(values) => view.secrets.insert(name.clone(), values),
            None => view.secrets.remove(&name),
        };
        drop(view);
        shared.changed.notify_one();
    }
}
