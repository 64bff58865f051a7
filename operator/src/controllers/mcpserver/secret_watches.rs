//! Watches of the Secrets that servers reference, one per Secret by name (a field selector),
//! so the operator needs no right to list every Secret of a namespace. A created, changed or
//! deleted Secret reconciles the servers that use it at once: a missing Secret's condition
//! clears, a rotated token is used, a managed server's pods roll.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
};

use futures::{Stream, StreamExt, channel::mpsc};
use k8s_openapi::api::core::v1::Secret as SecretObject;
use kube::{
    Api, Client, ResourceExt,
    runtime::{
        WatchStreamExt,
        reflector::{ObjectRef, Store},
        watcher,
    },
};
use llamagate_crds::McpServer;
use tokio::task::JoinHandle;

use super::observe::used_secrets;

type Key = (String, String);

/// The open per-Secret watches, and where their changes go.
#[derive(Clone)]
pub struct SecretWatches {
    client: Client,
    servers: Store<McpServer>,
    changes: mpsc::UnboundedSender<SecretObject>,
    open: Arc<Mutex<BTreeMap<Key, AbortOnDrop>>>,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SecretWatches {
    /// Watches for servers in `servers`, and the stream of changed Secrets they produce.
    pub fn new(
        client: Client,
        servers: Store<McpServer>,
    ) -> (
        Self,
        impl Stream<Item = Result<SecretObject, watcher::Error>> + Send + 'static,
    ) {
        let (changes, stream) = mpsc::unbounded();
        let watches = Self {
            client,
            servers,
            changes,
            open: Arc::default(),
        };
        (watches, stream.map(Ok))
    }

    /// Make sure the Secrets `names` of `namespace` are watched; close the watches of
    /// Secrets no server uses any more.
    pub fn watch(&self, namespace: &str, names: impl Iterator<Item = String>) {
        let mut wanted: BTreeSet<Key> = names.map(|name| (namespace.to_owned(), name)).collect();
        for server in self.servers.state() {
            let namespace = server.namespace().unwrap_or_default();
            wanted.extend(
                used_secrets(&server)
                    .into_iter()
                    .map(|(name, _)| (namespace.clone(), name)),
            );
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|key, _| wanted.contains(key));
        for key in wanted {
            if let std::collections::btree_map::Entry::Vacant(vacant) = open.entry(key) {
                let key = vacant.key().clone();
                let task = tokio::spawn(forward(self.client.clone(), key, self.changes.clone()));
                vacant.insert(AbortOnDrop(task));
            }
        }
    }

    /// How many Secrets are watched.
    pub fn len(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// True when no Secret is watched.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Forward the changes of one Secret. The initial listing is not a change (the server's own
/// reconcile has just read it), so only events after it are forwarded.
async fn forward(
    client: Client,
    (namespace, name): Key,
    changes: mpsc::UnboundedSender<SecretObject>,
) {
    let api: Api<SecretObject> = Api::namespaced(client, &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let secret = match event {
            Ok(watcher::Event::Apply(secret) | watcher::Event::Delete(secret)) => secret,
            Ok(_) => continue,
            Err(error) => {
                tracing::debug!(secret = %name, %namespace, %error, "Secret watch interrupted");
                continue;
            }
        };
        if changes.unbounded_send(secret).is_err() {
            return;
        }
    }
}

/// The servers of `store` that use `secret`.
pub fn servers_using(store: &Store<McpServer>, secret: &SecretObject) -> Vec<ObjectRef<McpServer>> {
    let namespace = secret.namespace().unwrap_or_default();
    let name = secret.name_any();
    store
        .state()
        .iter()
        .filter(|server| server.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|server| used_secrets(server).iter().any(|(used, _)| *used == name))
        .map(|server| ObjectRef::from_obj(server.as_ref()))
        .collect()
}
