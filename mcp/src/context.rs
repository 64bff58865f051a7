//! What every server client of a process shares: the HTTP connection pool, the metric
//! families and, when one runs, the shared health prober.

use std::time::Duration;

use crate::{
    client_handler::Elicitation,
    health::prober::{Prober, ProberHandle},
    metrics::McpMetrics,
};

/// Shared by the clients of one registry (or one CLI command); cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub(crate) http: reqwest::Client,
    pub(crate) metrics: McpMetrics,
    pub(crate) prober: Option<ProberHandle>,
    pub(crate) allow_link_local: bool,
    pub(crate) elicitation: Elicitation,
    pub(crate) requests_relayed: bool,
}

impl Context {
    /// Clients recording into `metrics`, each probing its servers itself until
    /// [`Context::with_prober`] gives them the shared prober.
    pub fn new(metrics: McpMetrics) -> Self {
        Self {
            http: shared_http_client(false),
            metrics,
            prober: None,
            allow_link_local: false,
            elicitation: Elicitation::Decline,
            requests_relayed: false,
        }
    }

    /// Let servers be reached at link-local and cloud metadata addresses (refused by
    /// default: see [`crate::address_guard`]).
    pub fn with_link_local_allowed(mut self, allowed: bool) -> Self {
        if allowed != self.allow_link_local {
            self.http = shared_http_client(allowed);
            self.allow_link_local = allowed;
        }
        self
    }

    /// Servers' elicitation requests are answered as `elicitation` says (declined by default).
    pub fn with_elicitation(mut self, elicitation: Elicitation) -> Self {
        self.elicitation = elicitation;
        self
    }

    /// Sessions declare sampling and elicitation, and each call that brings an
    /// [`crate::Asker`] answers the server's requests itself (the gateway's `/mcp`).
    pub fn with_requests_relayed(mut self, relayed: bool) -> Self {
        self.requests_relayed = relayed;
        self
    }

    /// Healthy Streamable HTTP servers are probed by `prober` from now on.
    pub fn with_prober(mut self, prober: &Prober) -> Self {
        self.prober = Some(prober.handle());
        self
    }

    /// The metric families.
    pub fn metrics(&self) -> &McpMetrics {
        &self.metrics
    }
}

/// Idle connections are dropped after this long: before the keep-alive timeouts servers
/// commonly use (5 s in Node and uvicorn), so that a connection is not reused just as the
/// server closes it.
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(4);

/// One HTTP client for every HTTP-based session of the process (keep-alive, HTTP/2), whose
/// resolver leaves out refused addresses unless `allow_link_local`.
fn shared_http_client(allow_link_local: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder();
    let builder = if allow_link_local {
        builder
    } else {
        builder
            .dns_resolver(crate::address_guard::GuardedResolver::shared())
            .redirect(crate::address_guard::redirect_policy())
    };
    builder
        .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
        .tcp_nodelay(true)
        .build()
        // Only a TLS backend that cannot initialize fails here; without it nothing works.
        .unwrap_or_else(|e| panic!("the HTTP client cannot start: {e}"))
}
