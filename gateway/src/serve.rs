//! `llamagate serve`: bind, serve, and shut down gracefully.

use std::{future::Future, net::SocketAddr};

use tokio::net::TcpListener;

use crate::{app::app, config::Config, metrics::Metrics, state::AppState};

/// A gateway bound to its address and ready to serve.
pub struct Gateway {
    listener: TcpListener,
    state: AppState,
}

impl Gateway {
    /// Bind `config.listen` and prepare the state. Fails with the address when the port is taken.
    pub async fn bind(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        warn_if_open(&config);
        let bound = listener.local_addr()?;
        let replica_url = config
            .mcp
            .endpoint
            .advertise_url
            .clone()
            .or_else(|| (!bound.ip().is_unspecified()).then(|| format!("http://{bound}")));
        let state = AppState::new(config, Metrics::new());
        if let Some(url) = replica_url {
            state.sessions().set_replica_url(url);
        }
        Ok(Self { listener, state })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Shared state, for embedding and tests.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serve until `shutdown` completes, then stop accepting, finish in-flight requests for up
    /// to `server.shutdown_grace`, and return.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Gateway { listener, state } = self;
        let grace = state.config().server.shutdown_grace;
        let addr = listener.local_addr()?;
        // Servers connect in the background: one that is down never blocks start-up.
        let applied = state.apply_file_servers();
        crate::discovery::start(&state).await?;
        tracing::info!(servers = applied.added.len(), "MCP servers registered");
        state.set_ready(true);
        spawn_reload_on_sighup(state.clone());
        tracing::info!(%addr, "llamagate listening");
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        let ready_state = state.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!(
                grace_secs = grace.as_secs(),
                "shutting down: no new connections, finishing in-flight requests"
            );
            ready_state.set_ready(false);
            let _ = stopping_tx.send(true);
        };
        let server = axum::serve(listener, app(state.clone())).with_graceful_shutdown(signal);
        let mut stopping = stopping_rx;
        tokio::select! {
            result = server => result?,
            () = async {
                let _ = stopping.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => tracing::warn!("shutdown grace period over; dropping requests still in flight"),
        }
        state
            .registry()
            .shutdown(grace.min(std::time::Duration::from_secs(5)))
            .await;
        tracing::info!("llamagate stopped");
        Ok(())
    }
}

fn warn_if_open(config: &Config) {
    if config.auth.keys.is_empty() && !config.listen.ip().is_loopback() {
        tracing::warn!(
            listen = %config.listen,
            "no API keys configured and listening beyond loopback: anyone who can reach this address can use the gateway; set auth.keys"
        );
    }
}

/// SIGHUP re-reads the configuration file, like `POST /v1/admin/reload`.
fn spawn_reload_on_sighup(state: AppState) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            match state.reload().await {
                Ok(_) => {}
                Err(error) => tracing::error!("reload on SIGHUP refused, nothing changed: {error}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("received SIGINT"),
        () = terminate => tracing::info!("received SIGTERM"),
    }
}
