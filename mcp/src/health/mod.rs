//! Health of one server: the state machine the monitor drives and the API reports.

use std::{
    fmt,
    sync::{
        OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use prometheus::IntCounter;
use serde::Serialize;

use crate::metrics::McpMetrics;

pub(crate) mod probe;
pub(crate) mod prober;

/// Where a server stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Registered, first connection not yet made.
    Starting,
    /// Probes succeed.
    Healthy,
    /// `failure_threshold` probes in a row failed: excluded from chat, direct calls fail fast.
    Unhealthy,
    /// Being restarted (sessions draining or reopening).
    Restarting,
    /// Stopped on purpose (`enabled: false`, `POST …/stop`, shutdown).
    Stopped,
}

impl HealthState {
    /// Every state, for metrics.
    pub const ALL: [HealthState; 5] = [
        HealthState::Starting,
        HealthState::Healthy,
        HealthState::Unhealthy,
        HealthState::Restarting,
        HealthState::Stopped,
    ];

    /// The name used in the API and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Starting => "starting",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
            HealthState::Restarting => "restarting",
            HealthState::Stopped => "stopped",
        }
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The health record of a server.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// Current state.
    pub state: HealthState,
    /// Probes (or connection attempts) that failed in a row.
    pub consecutive_failures: u32,
    /// The last failure, when the last probe failed.
    pub last_error: Option<String>,
    /// Seconds since the Unix epoch of the last successful probe.
    pub last_success_unix: Option<u64>,
    /// Round-trip time of the last successful probe.
    pub latency_ms: Option<f64>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            state: HealthState::Starting,
            consecutive_failures: 0,
            last_error: None,
            last_success_unix: None,
            latency_ms: None,
        }
    }
}

impl Health {
    /// Record a successful probe. A probe does not end a stop or a restart in progress:
    /// those states are left by whoever entered them.
    pub fn succeeded(&mut self, latency: Duration) {
        self.alive();
        self.latency_ms = Some(latency.as_secs_f64() * 1000.0);
    }

    /// Record proof of life without a latency (calls answered in place of a probe).
    pub fn alive(&mut self) {
        if !matches!(self.state, HealthState::Stopped | HealthState::Restarting) {
            self.state = HealthState::Healthy;
        }
        self.consecutive_failures = 0;
        self.last_error = None;
        self.last_success_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs());
    }

    /// Record a failed probe; the server turns unhealthy at `threshold` failures in a row.
    pub fn failed(&mut self, error: String, threshold: u32) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_error = Some(error);
        if self.consecutive_failures >= threshold && self.state != HealthState::Stopped {
            self.state = HealthState::Unhealthy;
        }
    }

    /// True when calls may be sent.
    pub fn accepts_calls(&self) -> bool {
        matches!(self.state, HealthState::Healthy | HealthState::Starting)
    }
}

/// When the server last answered a call. Passive health: a call answered within the probe
/// interval proves the server alive as well as a probe would, so busy servers are not
/// probed on top of their traffic.
#[derive(Debug, Default)]
pub(crate) struct LastAnswer(AtomicU64);

impl LastAnswer {
    /// A call was just answered.
    pub fn record(&self) {
        self.0.store(clock_millis().max(1), Ordering::Relaxed);
    }

    /// True when a call was answered less than `window` ago.
    pub fn within(&self, window: Duration) -> bool {
        let at = self.0.load(Ordering::Relaxed);
        at != 0 && u128::from(clock_millis().saturating_sub(at)) < window.as_millis()
    }
}

/// Milliseconds on a monotonic process clock (cheap to store in an atomic).
fn clock_millis() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The probe counters of one server, looked up once: probes are frequent.
#[derive(Debug, Clone)]
pub(crate) struct ProbeCounters {
    /// Probes answered.
    pub ok: IntCounter,
    /// Probes failed or timed out.
    pub failed: IntCounter,
    /// Probes not sent because calls had just proved the server alive.
    pub skipped: IntCounter,
}

impl ProbeCounters {
    /// The counters of `server`.
    pub fn new(metrics: &McpMetrics, server: &str) -> Self {
        let counter = |outcome: &str| metrics.probes.with_label_values(&[server, outcome]);
        Self {
            ok: counter("ok"),
            failed: counter("failed"),
            skipped: counter("skipped"),
        }
    }
}

/// Delay before reconnect attempt `attempt` (1-based): exponential from 500 ms, capped.
pub(crate) fn backoff(attempt: u32, cap: Duration) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    Duration::from_millis(500)
        .saturating_mul(1 << exponent)
        .min(cap)
}

/// `interval` moved by up to ±10%, so that many servers do not probe in lockstep.
pub(crate) fn jittered(interval: Duration) -> Duration {
    let factor = 0.9 + fastrand::f64() * 0.2;
    interval.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_turns_a_server_unhealthy_and_success_heals_it() {
        let mut health = Health::default();
        health.succeeded(Duration::from_millis(3));
        health.failed("timeout".into(), 3);
        health.failed("timeout".into(), 3);
        assert_eq!(health.state, HealthState::Healthy);
        health.failed("timeout".into(), 3);
        assert_eq!(health.state, HealthState::Unhealthy);
        assert!(!health.accepts_calls());
        health.succeeded(Duration::from_millis(1));
        assert_eq!(
            (health.state, health.consecutive_failures),
            (HealthState::Healthy, 0)
        );
    }

    #[test]
    fn a_probe_does_not_end_a_stop_or_a_restart() {
        for state in [HealthState::Stopped, HealthState::Restarting] {
            let mut health = Health {
                state,
                ..Health::default()
            };
            health.succeeded(Duration::from_millis(2));
            assert_eq!(health.state, state);
            assert_eq!(
                health.latency_ms,
                Some(2.0),
                "the latency is still recorded"
            );
        }
        let mut starting = Health::default();
        starting.succeeded(Duration::from_millis(2));
        assert_eq!(starting.state, HealthState::Healthy);
    }

    #[test]
    fn last_answer_is_recent_only_within_the_window() {
        let last = LastAnswer::default();
        assert!(!last.within(Duration::from_secs(3600)), "never answered");
        last.record();
        assert!(last.within(Duration::from_secs(60)));
        assert!(!last.within(Duration::ZERO));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let cap = Duration::from_secs(30);
        assert_eq!(backoff(1, cap), Duration::from_millis(500));
        assert_eq!(backoff(3, cap), Duration::from_secs(2));
        assert_eq!(backoff(40, cap), cap);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(10));
            assert!(
                d >= Duration::from_secs(9) && d <= Duration::from_secs(11),
                "{d:?}"
            );
        }
    }
}
