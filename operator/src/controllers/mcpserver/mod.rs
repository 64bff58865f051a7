//! The `McpServer` controller: apply a managed server's objects, probe the server with the
//! MCP crate's one-shot probe, and write what it found into status (only when that changed),
//! with an Event for every condition that changed. Requeued at `healthCheck.interval`,
//! with jitter so that many servers do not probe in step.

pub mod controller;
pub mod observe;
pub mod secret_watches;
pub mod status;

use std::{sync::Arc, time::Duration};

use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::controller::Action,
};
use llamagate_crds::{McpServer, McpServerStatus};
use serde_json::json;
use tokio::time::Instant;

use self::status::{Observation, Settings, next_status};
use crate::{
    context::{Context, FIELD_MANAGER},
    controllers::events::{publish, transitions},
    error::{Error, Result},
};

/// Name of this controller in metrics and logs.
pub const CONTROLLER: &str = "mcpserver";

/// Probing is retried at this interval after an error of the operator's own (the API).
const ERROR_BACKOFF: Duration = Duration::from_secs(5);

/// Reconcile one server (the entry point the controller runtime calls).
pub async fn reconcile(server: Arc<McpServer>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_server(&server, &ctx).await;
    ctx.metrics.reconciled(CONTROLLER, started.elapsed());
    if let Err(error) = &result {
        ctx.metrics.failed(CONTROLLER, error);
        tracing::warn!(server = %server.name_any(), namespace = server.namespace().unwrap_or_default(), %error, "reconcile failed");
    }
    result
}

/// What the runtime does after a failed reconcile: try again soon.
pub fn error_policy(_server: Arc<McpServer>, _error: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(jittered(ERROR_BACKOFF))
}

async fn reconcile_server(server: &McpServer, ctx: &Context) -> Result<Action> {
    let namespace = server.namespace().ok_or(Error::MissingField {
        kind: "McpServer",
        field: "metadata.namespace",
    })?;
    let uid = server.uid().ok_or(Error::MissingField {
        kind: "McpServer",
        field: "metadata.uid",
    })?;
    if let Some(watches) = &ctx.secret_watches {
        watches.watch(
            &namespace,
            observe::used_secrets(server)
                .into_iter()
                .map(|(name, _)| name),
        );
    }
    let check = &server.spec.health_check;
    let interval = parse_or(&check.interval, Duration::from_secs(30));
    let timeout = parse_or(&check.timeout, Duration::from_secs(5)).min(interval);
    let observation = match server.spec.validate() {
        Err(problems) => Observation::Blocked {
            reason: "InvalidSpec",
            message: problems.to_string(),
        },
        Ok(()) => observe::observe(ctx, &namespace, server, timeout).await?,
    };
    let previous = ctx.last_status(&uid, server.status.as_ref());
    let settings = Settings {
        generation: server.metadata.generation,
        failure_threshold: check.failure_threshold,
        managed: server.spec.deployment.is_some(),
        timing_refresh: Settings::timing_refresh_for(interval),
    };
    let next = next_status(&previous, &observation, settings, Timestamp::now());
    if next != previous {
        write_status(ctx, &namespace, server, &next).await?;
        ctx.wrote_status(&uid, next.clone());
        publish(
            ctx,
            server,
            &transitions(&previous.conditions, &next.conditions),
        )
        .await;
    }
    Ok(Action::requeue(jittered(interval)))
}

/// Server-side apply of the status subresource: the whole status, owned by the operator.
async fn write_status(
    ctx: &Context,
    namespace: &str,
    server: &McpServer,
    status: &McpServerStatus,
) -> Result<()> {
    let api: Api<McpServer> = Api::namespaced(ctx.client.clone(), namespace);
    let body = status_body(server, status);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(&server.name_any(), &params, &Patch::Apply(&body))
        .await?;
    ctx.metrics.wrote("status");
    Ok(())
}

/// The apply body of a status: deterministic for the same status.
pub fn status_body(server: &McpServer, status: &McpServerStatus) -> serde_json::Value {
    json!({
        "apiVersion": McpServer::api_version(&()),
        "kind": McpServer::kind(&()),
        "metadata": {"name": server.name_any(), "namespace": server.namespace()},
        "status": status,
    })
}

/// A duration of the CRD (`30s`, `1m`); validation has already named a bad one.
fn parse_or(text: &str, default: Duration) -> Duration {
    llamagate_crds::duration::parse(text).unwrap_or(default)
}

/// `interval` ± 10 %, so that servers created together do not probe in step.
pub fn jittered(interval: Duration) -> Duration {
    let spread = interval.as_secs_f64() * 0.1;
    let offset = (fastrand::f64() * 2.0 - 1.0) * spread;
    Duration::from_secs_f64((interval.as_secs_f64() + offset).max(0.001))
}
