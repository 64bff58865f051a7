//! The wiring of the `McpServer` controller: which watches trigger a reconcile.
//!
//! - `McpServer`s, on a change of generation or annotations (`llamagate.io/restarted-at`),
//!   not on the operator's own status writes, which would probe again at once;
//! - the Deployments and Services it owns (their changes, and `Available`);
//! - the Secrets servers use, one watch per Secret.

use std::sync::Arc;

use futures::{Future, StreamExt};
use k8s_openapi::api::{apps::v1::Deployment, core::v1::Service};
use kube::{
    Api, Client,
    runtime::{
        Controller, Predicate, WatchStreamExt, predicates, reflector, utils::PredicateConfig,
        watcher,
    },
};
use llamagate_crds::McpServer;

use super::{
    error_policy, reconcile,
    secret_watches::{SecretWatches, servers_using},
};
use crate::{
    context::{Context, Owned, Settings},
    metrics::Metrics,
};

/// Reconciles (and so probes) run at once at most; more wait their turn, so that 1,000
/// servers created together do not open 1,000 connections in the same instant.
pub const MAX_CONCURRENT_RECONCILES: u16 = 100;

/// Objects the operator creates carry this label; only those are watched.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by=llamagate-operator";

/// The API of `K` in `namespace`, or in every namespace.
pub fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Run the controller until `shutdown` completes; `namespace` limits it to one namespace.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    settings: Settings,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let namespace = namespace.as_deref();
    let (servers, server_writer) = reflector::store();
    let server_events = watcher(
        api::<McpServer>(&client, namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(server_writer)
    .applied_objects()
    .predicate_filter(
        predicates::generation.combine(predicates::annotations),
        PredicateConfig::default(),
    );
    let (deployments, deployment_writer) = reflector::store();
    let deployment_events = watcher(
        api::<Deployment>(&client, namespace),
        watcher::Config::default().labels(MANAGED_BY),
    )
    .default_backoff()
    .reflect(deployment_writer)
    .touched_objects();
    let (services, service_writer) = reflector::store();
    let service_events = watcher(
        api::<Service>(&client, namespace),
        watcher::Config::default().labels(MANAGED_BY),
    )
    .default_backoff()
    .reflect(service_writer)
    .touched_objects();
    let (secret_watches, secret_events) = SecretWatches::new(client.clone(), servers.clone());
    let owned = Owned {
        deployments,
        services,
    };
    let ctx = Context::new(client, metrics, settings, owned, Some(secret_watches));
    let store = servers.clone();
    let shutdown = crate::controllers::after_first_list(shutdown, servers.clone());
    Controller::for_stream(server_events, servers)
        .owns_stream(deployment_events)
        .owns_stream(service_events)
        .watches_stream(secret_events, move |secret| servers_using(&store, &secret))
        .with_config(
            kube::runtime::controller::Config::default().concurrency(MAX_CONCURRENT_RECONCILES),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, Arc::clone(&ctx))
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "McpServer controller");
            }
        })
        .await;
}
