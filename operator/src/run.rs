//! The operator process: endpoints, leader election, and the controllers while leading.

use std::net::SocketAddr;

use kube::Client;
use tokio::sync::watch;

use crate::{
    context::Settings,
    controllers::{llamagate, mcpserver::controller},
    error::{Error, Result},
    http::{self, Health},
    leader::{LeaderElector, Timings},
    metrics::Metrics,
};

/// How long the controllers may take to finish after SIGTERM.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// How the operator runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Watch one namespace, or every namespace when `None`.
    pub namespace: Option<String>,
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    pub listen: SocketAddr,
    /// Lease to lead through, as `(namespace, name)`; `None` runs without election.
    pub lease: Option<(String, String)>,
    pub timings: Timings,
    pub settings: Settings,
}

/// Run until SIGTERM or Ctrl-C (then `Ok`), or until leadership is lost (then an error:
/// the process exits, and restarts as a candidate with fresh caches).
pub async fn run(client: Client, options: Options) -> Result<()> {
    let metrics = Metrics::new();
    let health = Health::default();
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| Error::Settings(format!("cannot listen on {}: {e}", options.listen)))?;
    let (stop, stopped) = watch::channel(false);
    let endpoints = http::app(metrics.clone(), health.clone());
    let mut serve_stop = stopped.clone();
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = serve_stop.wait_for(|stop| *stop).await;
        };
        if let Err(error) = axum::serve(listener, endpoints)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("stopping: the controllers finish the reconciles under way");
        let _ = stop.send(true);
    });
    let mut elector = match &options.lease {
        Some((namespace, name)) => Some(LeaderElector::new(
            client.clone(),
            namespace,
            name,
            &options.settings.instance,
            options.timings,
        )?),
        None => None,
    };
    if let Some(elector) = elector.as_mut() {
        // A replica standing by is ready once the API answers.
        health.set_ready(true);
        tracing::info!(identity = elector.identity(), "waiting for the lease");
        let mut stopped = stopped.clone();
        tokio::select! {
            () = elector.acquire() => {}
            _ = stopped.wait_for(|stop| *stop) => return Ok(()),
        }
        tracing::info!(identity = elector.identity(), "leading");
    }
    metrics.set_leader(true);
    health.set_ready(true);
    let stop_signal = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let servers = controller::run(
        client.clone(),
        options.namespace.clone(),
        options.settings.clone(),
        metrics.clone(),
        stop_signal(stopped.clone()),
    );
    let gateways = llamagate::controller::run(
        client,
        options.namespace.clone(),
        options.settings.clone(),
        metrics.clone(),
        stop_signal(stopped.clone()),
    );
    let mut stopping = stopped.clone();
    let controllers = async move {
        // Reconciles under way may finish, within bounds: the lease is released either way,
        // long before the pod's grace period ends.
        let overdue = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            _ = async { tokio::join!(servers, gateways) } => tracing::info!("the controllers stopped"),
            () = overdue => tracing::warn!("reconciles still under way after {SHUTDOWN_GRACE:?}; stopping anyway"),
        }
    };
    let outcome = match elector.as_mut() {
        Some(elector) => tokio::select! {
            () = controllers => Ok(()),
            lost = elector.hold() => Err(lost),
        },
        None => {
            controllers.await;
            Ok(())
        }
    };
    metrics.set_leader(false);
    if outcome.is_ok()
        && let Some(elector) = elector.as_mut()
        && let Err(error) = elector.release().await
    {
        tracing::warn!(%error, "cannot release the lease; another replica leads once it expires");
    }
    outcome
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
