//! The operator's Prometheus metrics, served at `/metrics`.

use std::time::Duration;

use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::error::Error;

/// Every series the operator publishes. Labels are bounded: controller names, error labels
/// and probe outcomes, never object names.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    reconciles: IntCounterVec,
    errors: IntCounterVec,
    durations: HistogramVec,
    probes: IntCounterVec,
    writes: IntCounterVec,
    leader: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("llamagate_operator".to_owned()), None)
            .expect("a constant prefix is valid");
        let reconciles = IntCounterVec::new(
            Opts::new("reconciles_total", "Reconciles run, by controller."),
            &["controller"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "reconcile_errors_total",
                "Reconciles that failed, by controller and error.",
            ),
            &["controller", "error"],
        )
        .expect("valid metric");
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "reconcile_duration_seconds",
                "Time one reconcile took, probe included.",
            )
            .buckets(vec![
                0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ]),
            &["controller"],
        )
        .expect("valid metric");
        let probes = IntCounterVec::new(
            Opts::new(
                "probes_total",
                "MCP probes, by outcome (ready or the failure reason).",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let writes = IntCounterVec::new(
            Opts::new(
                "writes_total",
                "Writes to the API, by kind of object written.",
            ),
            &["object"],
        )
        .expect("valid metric");
        let leader =
            IntGauge::new("leader", "1 while this replica holds the lease.").expect("valid metric");
        for collector in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(durations.clone()),
            Box::new(probes.clone()),
            Box::new(writes.clone()),
            Box::new(leader.clone()),
        ] {
            registry
                .register(collector)
                .expect("metric names are distinct");
        }
        Self {
            registry,
            reconciles,
            errors,
            durations,
            probes,
            writes,
            leader,
        }
    }

    /// A reconcile of `controller` finished after `elapsed`.
    pub fn reconciled(&self, controller: &str, elapsed: Duration) {
        self.reconciles.with_label_values(&[controller]).inc();
        self.durations
            .with_label_values(&[controller])
            .observe(elapsed.as_secs_f64());
    }

    /// A reconcile of `controller` failed with `error`.
    pub fn failed(&self, controller: &str, error: &Error) {
        self.errors
            .with_label_values(&[controller, error.metric_label()])
            .inc();
    }

    /// A probe ended with `outcome` (`ready` or a condition reason).
    pub fn probed(&self, outcome: &str) {
        self.probes.with_label_values(&[outcome]).inc();
    }

    /// Probes so far, whatever their outcome (for tests and the benchmark).
    pub fn probes(&self) -> u64 {
        use prometheus::core::Collector;
        self.probes
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .map(|metric| metric.get_counter().get_value() as u64)
            .sum()
    }

    /// The operator wrote one `object` (`status`, `deployment`, `service`, `event`, …).
    pub fn wrote(&self, object: &str) {
        self.writes.with_label_values(&[object]).inc();
    }

    /// Writes of `object` so far (for tests and the benchmark).
    pub fn writes(&self, object: &str) -> u64 {
        self.writes.with_label_values(&[object]).get()
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The text exposition of every series.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}
