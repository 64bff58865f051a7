//! Prometheus metrics of the gateway. Labels are bounded: routes are templates (never raw
//! paths), servers and tools come from configuration, never from request bodies.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric family, registered in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route template, method and status.
    pub http_requests: IntCounterVec,
    /// HTTP request latency by route template and method.
    pub http_duration: HistogramVec,
    /// MCP requests by server, method and outcome.
    pub mcp_calls: IntCounterVec,
    /// MCP request latency by server and method.
    pub mcp_duration: HistogramVec,
    /// Sessions per server by state (`in_use`, `idle`, `waiting`).
    pub mcp_pool: IntGaugeVec,
    /// Cache lookups by kind (`tools`, `resources`, `resource_templates`, `prompts`) and result.
    pub mcp_cache: IntCounterVec,
    /// 1 for the current health state of each server, 0 for the others.
    pub mcp_health: IntGaugeVec,
    /// Health probes by server and outcome: `ok`, `failed`, or `skipped` because calls had
    /// just proved the server alive.
    pub mcp_probes: IntCounterVec,
    /// Tool-loop rounds per chat request.
    pub toolloop_rounds: HistogramVec,
    /// Tool calls per chat request.
    pub toolloop_calls: HistogramVec,
    /// Upstream LLM latency by outcome.
    pub upstream_duration: HistogramVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

impl Metrics {
    /// Create and register every family.
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("llamagate".to_owned()), None)
            .expect("static prefix is valid");
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("static metric definition");
            registry
                .register(Box::new(metric.clone()))
                .expect("metric registered once");
            metric
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: &[f64]| {
            let metric = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(buckets.to_vec()),
                labels,
            )
            .expect("static metric definition");
            registry
                .register(Box::new(metric.clone()))
                .expect("metric registered once");
            metric
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let metric =
                IntGaugeVec::new(Opts::new(name, help), labels).expect("static metric definition");
            registry
                .register(Box::new(metric.clone()))
                .expect("metric registered once");
            metric
        };
        let counts = &[1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0];
        Self {
            http_requests: counter(
                "http_requests_total",
                "HTTP requests by route, method and status",
                &["route", "method", "status"],
            ),
            http_duration: histogram(
                "http_request_duration_seconds",
                "HTTP request latency",
                &["route", "method"],
                LATENCY_BUCKETS,
            ),
            mcp_calls: counter(
                "mcp_requests_total",
                "MCP requests by server, method and outcome",
                &["server", "method", "outcome"],
            ),
            mcp_duration: histogram(
                "mcp_request_duration_seconds",
                "MCP request latency",
                &["server", "method"],
                LATENCY_BUCKETS,
            ),
            mcp_pool: gauge(
                "mcp_pool_sessions",
                "MCP sessions by server and state",
                &["server", "state"],
            ),
            mcp_cache: counter(
                "mcp_cache_lookups_total",
                "MCP list cache lookups by kind and result",
                &["kind", "result"],
            ),
            mcp_health: gauge(
                "mcp_server_health",
                "1 for the current health state of each MCP server",
                &["server", "state"],
            ),
            mcp_probes: counter(
                "mcp_probes_total",
                "MCP health probes by server and outcome (skipped: traffic proved the server alive)",
                &["server", "outcome"],
            ),
            toolloop_rounds: histogram(
                "toolloop_rounds",
                "Tool-loop rounds per chat request",
                &["stream"],
                counts,
            ),
            toolloop_calls: histogram(
                "toolloop_tool_calls",
                "MCP tool calls per chat request",
                &["stream"],
                counts,
            ),
            upstream_duration: histogram(
                "upstream_request_duration_seconds",
                "Upstream LLM latency",
                &["outcome"],
                LATENCY_BUCKETS,
            ),
            registry,
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding cannot fail");
        String::from_utf8(buffer).expect("prometheus text is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
