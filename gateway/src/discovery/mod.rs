//! Where MCP servers come from besides the configuration file (the registry's `File`
//! source, `config/describe.rs`): `McpServer` resources of a Kubernetes cluster.

pub mod cluster;

use kube::{Client, Config as KubeConfig, config::KubeConfigOptions};

use crate::{config::KubernetesDiscoveryConfig, state::AppState};

/// Start the cluster source when `discovery.kubernetes` is configured. Fails when no client
/// can be made (no kubeconfig, no in-cluster credentials), naming why.
pub async fn start(state: &AppState) -> anyhow::Result<()> {
    let Some(kubernetes) = state.config().discovery.kubernetes.clone() else {
        return Ok(());
    };
    let client = client(&kubernetes).await?;
    let namespace = kubernetes
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    tracing::info!(%namespace, selector = kubernetes.selector.as_deref().unwrap_or(""), "watching McpServers");
    state.expect_cluster_source();
    tokio::spawn(cluster::run(
        client,
        namespace,
        kubernetes.selector.clone(),
        state.clone(),
    ));
    Ok(())
}

/// A client from `kubeconfig` when given, else in-cluster credentials or `KUBECONFIG`.
async fn client(kubernetes: &KubernetesDiscoveryConfig) -> anyhow::Result<Client> {
    let config = match &kubernetes.kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                anyhow::anyhow!("discovery.kubernetes.kubeconfig `{}`: {e}", path.display())
            })?;
            KubeConfig::from_custom_kubeconfig(file, &KubeConfigOptions::default()).await?
        }
        None => KubeConfig::infer().await.map_err(|e| {
            anyhow::anyhow!(
                "discovery.kubernetes: no in-cluster credentials and no kubeconfig ({e}); set discovery.kubernetes.kubeconfig"
            )
        })?,
    };
    Ok(Client::try_from(config)?)
}
