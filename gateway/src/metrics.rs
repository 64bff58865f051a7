//! Prometheus metrics of the gateway, the MCP client's among them. Labels are bounded: routes are templates (never raw
//! paths), servers and tools come from configuration, never from request bodies.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

/// Every metric family, registered in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by route template, method and status.
    pub http_requests: IntCounterVec,
    /// HTTP request latency by route template and method.
    pub http_duration: HistogramVec,
    /// The MCP client's families (`llamagate_mcp_*`), registered here.
    pub mcp: McpMetrics,
    /// Tool-loop rounds per chat request.
    pub toolloop_rounds: HistogramVec,
    /// Tool calls per chat request.
    pub toolloop_calls: HistogramVec,
    /// Upstream LLM latency by outcome.
    pub upstream_duration: HistogramVec,
}

use llamagate_mcp::{McpMetrics, metrics::LATENCY_BUCKETS};

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
        let counts = &[1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0];
        Self {
            mcp: McpMetrics::register(&registry).expect("the MCP families register once"),
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
