//! The `LlamaGate` controller: apply a gateway's ServiceAccount, Role, RoleBinding,
//! ConfigMap, Deployment, Service and (when asked for) HPA and PDB; remove an HPA or PDB
//! the spec no longer asks for; and write its status (replicas, readiness, endpoint, the
//! servers it uses) only when that changed.

pub mod controller;
pub mod selection;
pub mod status;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use k8s_openapi::{
    api::{
        autoscaling::v2::HorizontalPodAutoscaler, core::v1::ConfigMap,
        policy::v1::PodDisruptionBudget,
    },
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::{controller::Action, reflector::Store},
};
use llamagate_crds::{LlamaGate, McpServer, client::referenced_secrets, conditions::types::READY};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use self::status::{Observation, next_status};
use crate::{
    context::{Context, FIELD_MANAGER},
    controllers::{
        apply::{apply, delete_if_present},
        events::{publish, transitions},
        mcpserver::jittered,
    },
    error::{Error, Result},
    resources::llamagate as build,
};

/// Name of this controller in metrics and logs.
pub const CONTROLLER: &str = "llamagate";

/// A gateway is looked at again this often even when nothing it watches changed.
const RESYNC: Duration = Duration::from_secs(300);

/// What the gateway reconciles share beyond the operator's context.
pub struct GatewayContext {
    pub base: Arc<Context>,
    pub servers: Store<McpServer>,
    pub config_maps: Store<ConfigMap>,
    pub autoscalers: Store<HorizontalPodAutoscaler>,
    pub budgets: Store<PodDisruptionBudget>,
}

/// Reconcile one gateway (the entry point the controller runtime calls).
pub async fn reconcile(gateway: Arc<LlamaGate>, ctx: Arc<GatewayContext>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_gateway(&gateway, &ctx).await;
    ctx.base.metrics.reconciled(CONTROLLER, started.elapsed());
    if let Err(error) = &result {
        ctx.base.metrics.failed(CONTROLLER, error);
        tracing::warn!(gateway = %gateway.name_any(), namespace = gateway.namespace().unwrap_or_default(), %error, "reconcile failed");
    }
    result
}

/// What the runtime does after a failed reconcile: try again soon.
pub fn error_policy(_gateway: Arc<LlamaGate>, _error: &Error, _ctx: Arc<GatewayContext>) -> Action {
    Action::requeue(jittered(Duration::from_secs(5)))
}

async fn reconcile_gateway(gateway: &LlamaGate, ctx: &GatewayContext) -> Result<Action> {
    let namespace = gateway.namespace().ok_or(Error::MissingField {
        kind: "LlamaGate",
        field: "metadata.namespace",
    })?;
    let servers = selection::selected_servers(&ctx.servers, gateway);
    let ready = servers
        .iter()
        .filter(|s| {
            s.status
                .as_ref()
                .is_some_and(|st| llamagate_crds::conditions::is_true(&st.conditions, READY))
        })
        .count();
    let mut seen = Observation {
        generation: gateway.metadata.generation,
        endpoint: build::endpoint(gateway),
        selected: i32::try_from(servers.len()).unwrap_or(i32::MAX),
        ready: i32::try_from(ready).unwrap_or(i32::MAX),
        ..Observation::default()
    };
    match gateway.spec.validate() {
        Err(problems) => seen.invalid = Some(problems.to_string()),
        Ok(()) => apply_objects(ctx, &namespace, gateway, &servers, &mut seen).await?,
    }
    let previous = gateway.status.clone().unwrap_or_default();
    let next = next_status(&previous, &seen, Timestamp::now());
    if next != previous {
        let api: Api<LlamaGate> = Api::namespaced(ctx.base.client.clone(), &namespace);
        let body = json!({
            "apiVersion": LlamaGate::api_version(&()),
            "kind": LlamaGate::kind(&()),
            "metadata": {"name": gateway.name_any(), "namespace": namespace},
            "status": next,
        });
        let params = PatchParams::apply(FIELD_MANAGER).force();
        api.patch_status(&gateway.name_any(), &params, &Patch::Apply(&body))
            .await?;
        ctx.base.metrics.wrote("status");
        publish(
            &ctx.base,
            gateway,
            &transitions(&previous.conditions, &next.conditions),
        )
        .await;
    }
    Ok(Action::requeue(jittered(RESYNC)))
}

/// Apply every object of the gateway; note the Deployment's state in `seen`.
async fn apply_objects(
    ctx: &GatewayContext,
    namespace: &str,
    gateway: &LlamaGate,
    servers: &[Arc<McpServer>],
    seen: &mut Observation,
) -> Result<()> {
    let base = &ctx.base;
    let secrets: BTreeSet<String> = servers
        .iter()
        .flat_map(|server| referenced_secrets(&server.spec))
        .map(|(name, _)| name)
        .collect();
    apply(
        base,
        namespace,
        &build::service_account(gateway),
        None,
        "serviceaccount",
    )
    .await?;
    apply(
        base,
        namespace,
        &build::role(gateway, &secrets),
        None,
        "role",
    )
    .await?;
    apply(
        base,
        namespace,
        &build::role_binding(gateway),
        None,
        "rolebinding",
    )
    .await?;
    let config_map = build::config_map(gateway);
    apply(
        base,
        namespace,
        &config_map,
        Some(&ctx.config_maps),
        "configmap",
    )
    .await?;
    let hash = config_hash(&build::gateway_config(gateway));
    let deployment = build::deployment(gateway, &base.settings.bridge.image, &hash);
    let applied = apply(
        base,
        namespace,
        &deployment,
        Some(&base.owned.deployments),
        "deployment",
    )
    .await?;
    apply(
        base,
        namespace,
        &build::service(gateway),
        Some(&base.owned.services),
        "service",
    )
    .await?;
    let name = gateway.name_any();
    match build::autoscaler(gateway) {
        Some(hpa) => {
            apply(base, namespace, &hpa, Some(&ctx.autoscalers), "autoscaler").await?;
        }
        None => delete_if_present(base, namespace, &name, &ctx.autoscalers, "autoscaler").await?,
    }
    match build::disruption_budget(gateway) {
        Some(pdb) => {
            apply(
                base,
                namespace,
                &pdb,
                Some(&ctx.budgets),
                "disruptionbudget",
            )
            .await?;
        }
        None => delete_if_present(base, namespace, &name, &ctx.budgets, "disruptionbudget").await?,
    }
    let applied = applied.unwrap_or(deployment);
    seen.desired = match (&gateway.spec.autoscaling, gateway.spec.replicas) {
        // With autoscaling the HPA sets the Deployment's replicas.
        (Some(scaling), _) => applied
            .spec
            .as_ref()
            .and_then(|s| s.replicas)
            .unwrap_or(scaling.min_replicas),
        (None, replicas) => replicas.unwrap_or(1),
    };
    seen.deployment = applied.status;
    Ok(())
}

/// A short hash of the gateway configuration: a changed configuration rolls the pods.
fn config_hash(config: &str) -> String {
    Sha256::digest(config.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
