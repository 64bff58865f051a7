//! The wiring of the `LlamaGate` controller: gateways (on spec or annotation changes), the
//! objects they own, and the `McpServer`s of their namespaces (for the server counts and the
//! Secrets the gateway's Role may read).

use std::sync::Arc;

use futures::{Future, StreamExt};
use k8s_openapi::api::{
    apps::v1::Deployment,
    autoscaling::v2::HorizontalPodAutoscaler,
    core::v1::{ConfigMap, Service},
    policy::v1::PodDisruptionBudget,
};
use kube::{
    Client, ResourceExt,
    runtime::{
        Controller, Predicate, WatchStreamExt, predicates, reflector, reflector::ObjectRef,
        utils::PredicateConfig, watcher,
    },
};
use llamagate_crds::{LlamaGate, McpServer};

use super::{GatewayContext, error_policy, reconcile};
use crate::{
    context::{Context, Owned, Settings},
    controllers::mcpserver::controller::{MANAGED_BY, api},
    metrics::Metrics,
};

/// Run the controller until `shutdown` completes; `namespace` limits it to one namespace.
pub async fn run(
    client: Client,
    namespace: Option<String>,
    settings: Settings,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let namespace = namespace.as_deref();
    let owned_config = || watcher::Config::default().labels(MANAGED_BY);
    let (gateways, gateway_writer) = reflector::store();
    let gateway_events = watcher(
        api::<LlamaGate>(&client, namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(gateway_writer)
    .applied_objects()
    .predicate_filter(
        predicates::generation.combine(predicates::annotations),
        PredicateConfig::default(),
    );
    macro_rules! owned_stream {
        ($kind:ty) => {{
            let (store, writer) = reflector::store::<$kind>();
            let events = watcher(api::<$kind>(&client, namespace), owned_config())
                .default_backoff()
                .reflect(writer)
                .touched_objects();
            (store, events)
        }};
    }
    let (deployments, deployment_events) = owned_stream!(Deployment);
    let (services, service_events) = owned_stream!(Service);
    let (config_maps, config_map_events) = owned_stream!(ConfigMap);
    let (autoscalers, autoscaler_events) = owned_stream!(HorizontalPodAutoscaler);
    let (budgets, budget_events) = owned_stream!(PodDisruptionBudget);
    let (servers, server_writer) = reflector::store();
    let server_events = watcher(
        api::<McpServer>(&client, namespace),
        watcher::Config::default(),
    )
    .default_backoff()
    .reflect(server_writer)
    .touched_objects();
    let owned = Owned {
        deployments,
        services,
    };
    let ctx = Arc::new(GatewayContext {
        base: Context::new(client, metrics, settings, owned, None),
        servers,
        config_maps,
        autoscalers,
        budgets,
    });
    let store = gateways.clone();
    let shutdown = crate::controllers::after_first_list(shutdown, gateways.clone());
    Controller::for_stream(gateway_events, gateways)
        .owns_stream(deployment_events)
        .owns_stream(service_events)
        .owns_stream(config_map_events)
        .owns_stream(autoscaler_events)
        .owns_stream(budget_events)
        .watches_stream(server_events, move |server| gateways_of(&store, &server))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                tracing::debug!(%error, "LlamaGate controller");
            }
        })
        .await;
}

/// The gateways that may use `server`: those of its namespace.
fn gateways_of(
    store: &reflector::Store<LlamaGate>,
    server: &McpServer,
) -> Vec<ObjectRef<LlamaGate>> {
    let namespace = server.namespace();
    store
        .state()
        .iter()
        .filter(|gateway| gateway.namespace() == namespace)
        .map(|gateway| ObjectRef::from_obj(gateway.as_ref()))
        .collect()
}
