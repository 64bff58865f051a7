//! What a reconcile learns about one `McpServer`: its Secrets, its owned objects (applied
//! when their body changed or they are missing), whether its pods are available, and how
//! it answers a one-shot MCP probe.

use std::{collections::BTreeSet, time::Duration};

use k8s_openapi::api::{apps::v1::Deployment, core::v1::Secret as SecretObject};
use kube::Api;
use llamagate_crds::{
    McpServer,
    client::{DescribeError, SecretValues, describe, referenced_secrets, secret_values},
    mcpserver::ManagedDeployment,
};
use llamagate_mcp::probe_once;
use sha2::{Digest, Sha256};

use super::status::{Observation, kind_reason};
use crate::{
    context::Context, controllers::apply::apply, error::Result, resources::mcpserver as build,
};

/// Every `(Secret, key)` the server uses: its auth, and its pods' environment.
pub fn used_secrets(server: &McpServer) -> BTreeSet<(String, String)> {
    let mut used: BTreeSet<_> = referenced_secrets(&server.spec).into_iter().collect();
    let env = server.spec.deployment.iter().flat_map(|d| d.env.iter());
    for var in env {
        if let Some(selector) = var
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
        {
            used.insert((selector.name.clone(), selector.key.clone()));
        }
    }
    used
}

/// The values of the Secrets the server uses, read now; missing ones are left out.
pub async fn read_secrets(
    ctx: &Context,
    namespace: &str,
    server: &McpServer,
) -> Result<SecretValues> {
    let api: Api<SecretObject> = Api::namespaced(ctx.client.clone(), namespace);
    let used = used_secrets(server);
    let names: BTreeSet<&String> = used.iter().map(|(name, _)| name).collect();
    let mut values = SecretValues::new();
    for name in names {
        let Some(secret) = api.get_opt(name).await? else {
            continue;
        };
        for (key, value) in secret_values(&secret) {
            if used.contains(&(name.clone(), key.clone())) {
                values.insert((name.clone(), key), value);
            }
        }
    }
    Ok(values)
}

/// A short hash of the Secret values a managed server's pods use, so a rotation rolls
/// them; `None` when they use none. The values themselves never leave this function.
pub fn secrets_hash(values: &SecretValues) -> Option<String> {
    if values.is_empty() {
        return None;
    }
    let mut digest = Sha256::new();
    for ((name, key), value) in values {
        for part in [name.as_str(), key.as_str(), value.expose()] {
            digest.update(part.len().to_le_bytes());
            digest.update(part.as_bytes());
        }
    }
    let hex: String = digest.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(hex)
}

/// Observe `server`: apply its owned objects if it is managed, then probe it unless it
/// cannot be (pods not available, a Secret missing, a field unusable).
pub async fn observe(
    ctx: &Context,
    namespace: &str,
    server: &McpServer,
    timeout: Duration,
) -> Result<Observation> {
    let secrets = read_secrets(ctx, namespace, server).await?;
    let url = match (&server.spec.deployment, &server.spec.url) {
        (Some(managed), _) => {
            let deployment = apply_managed(ctx, namespace, server, managed, &secrets).await?;
            if let Some((reason, message)) = unavailable(&deployment) {
                return Ok(Observation::NotAvailable { reason, message });
            }
            build::service_url(server, managed)
        }
        (None, Some(url)) => url.clone(),
        (None, None) => {
            return Ok(Observation::Blocked {
                reason: "InvalidSpec",
                message: "set spec.url or spec.deployment".to_owned(),
            });
        }
    };
    let description = match describe(server, &url, &secrets) {
        Ok(description) => description,
        Err(error @ DescribeError::SecretNotFound { .. }) => {
            return Ok(Observation::Blocked {
                reason: "SecretNotFound",
                message: format!("{error}: create it and the server is probed again"),
            });
        }
        Err(error @ DescribeError::Invalid { .. }) => {
            return Ok(Observation::Blocked {
                reason: "InvalidSpec",
                message: error.to_string(),
            });
        }
    };
    let report = probe_once(&description, &ctx.mcp, timeout).await;
    let outcome = report
        .failure
        .as_ref()
        .map_or("ready", |f| kind_reason(f.kind));
    ctx.metrics.probed(outcome);
    Ok(Observation::Probed {
        url,
        report: Box::new(report),
    })
}

/// Apply the Deployment and Service of a managed server; the Deployment as the API now
/// has it (status included).
async fn apply_managed(
    ctx: &Context,
    namespace: &str,
    server: &McpServer,
    managed: &ManagedDeployment,
    secrets: &SecretValues,
) -> Result<Deployment> {
    let hash = secrets_hash(secrets);
    let deployment = build::deployment(server, managed, &ctx.settings.bridge, hash.as_deref());
    let service = build::service(server, managed);
    apply(
        ctx,
        namespace,
        &service,
        Some(&ctx.owned.services),
        "service",
    )
    .await?;
    let deployments = Some(&ctx.owned.deployments);
    let applied = apply(ctx, namespace, &deployment, deployments, "deployment").await?;
    Ok(applied.unwrap_or(deployment))
}

/// Why the Deployment has no available pods, as `(reason, message)`; `None` when it has.
fn unavailable(deployment: &Deployment) -> Option<(String, String)> {
    let status = deployment.status.as_ref();
    let available = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Available"));
    match available {
        Some(condition) if condition.status == "True" => None,
        Some(condition) => Some((
            condition
                .reason
                .clone()
                .unwrap_or_else(|| "Unavailable".to_owned()),
            condition
                .message
                .clone()
                .unwrap_or_else(|| "the Deployment has no available pods".to_owned()),
        )),
        None => Some((
            "Progressing".to_owned(),
            "the Deployment has not reported availability yet".to_owned(),
        )),
    }
}
