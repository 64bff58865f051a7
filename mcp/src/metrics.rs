//! Prometheus metrics of the MCP client, registered into a registry the caller owns, so the
//! gateway and the operator each expose them on their own `/metrics`. Labels are bounded:
//! servers come from configuration or the cluster, methods and outcomes are fixed sets.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Latency buckets of MCP requests, in seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// The client's metric families.
#[derive(Clone)]
pub struct McpMetrics {
    /// MCP requests by server, method and outcome.
    pub(crate) calls: IntCounterVec,
    /// MCP request latency by server and method.
    pub(crate) duration: HistogramVec,
    /// Sessions per server by state (`in_use`, `idle`, `waiting`).
    pub(crate) pool: IntGaugeVec,
    /// Cache lookups by kind and result.
    pub(crate) cache: IntCounterVec,
    /// 1 for the current health state of each server, 0 for the others.
    pub(crate) health: IntGaugeVec,
    /// Health probes by server and outcome (`ok`, `failed`, `skipped`).
    pub(crate) probes: IntCounterVec,
}

impl McpMetrics {
    /// Create the families and register them into `registry` (whose prefix, if any, they
    /// take: the gateway's is `llamagate`).
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok::<_, prometheus::Error>(metric)
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok::<_, prometheus::Error>(metric)
        };
        let duration = HistogramVec::new(
            HistogramOpts::new("mcp_request_duration_seconds", "MCP request latency")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["server", "method"],
        )?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            calls: counter(
                "mcp_requests_total",
                "MCP requests by server, method and outcome",
                &["server", "method", "outcome"],
            )?,
            duration,
            pool: gauge(
                "mcp_pool_sessions",
                "MCP sessions by server and state",
                &["server", "state"],
            )?,
            cache: counter(
                "mcp_cache_lookups_total",
                "MCP list cache lookups by kind and result",
                &["kind", "result"],
            )?,
            health: gauge(
                "mcp_server_health",
                "1 for the current health state of each MCP server",
                &["server", "state"],
            )?,
            probes: counter(
                "mcp_probes_total",
                "MCP health probes by server and outcome (skipped: traffic proved the server alive)",
                &["server", "outcome"],
            )?,
        })
    }

    /// Families registered nowhere (tools and tests that expose no metrics).
    pub fn unregistered() -> Self {
        Self::register(&Registry::new()).expect("fresh registry takes every family")
    }

    /// Forget the gauges and probe counters of `server` (it was removed), so that
    /// `/metrics` does not keep reporting the health of a server that no longer exists.
    /// Request counters stay: they are history.
    pub(crate) fn forget_server(&self, server: &str) {
        for state in crate::health::HealthState::ALL {
            let _ = self.health.remove_label_values(&[server, state.as_str()]);
        }
        for state in ["in_use", "idle", "waiting"] {
            let _ = self.pool.remove_label_values(&[server, state]);
        }
        for outcome in ["ok", "failed", "skipped"] {
            let _ = self.probes.remove_label_values(&[server, outcome]);
        }
    }
}
