//! The status of an `McpServer` as a pure function of what the last status said and what
//! this reconcile observed, so that hysteresis, the write-only-on-change rule and every
//! condition's reason can be tested without a cluster or a server.
//!
//! Timing noise never makes a write: latency is rounded to a 1-2-5 step, and the timing
//! fields (`latency`, `lastProbeTime`) are refreshed only with another change or once the
//! refresh period (ten intervals, at least a minute) has passed. Condition messages hold no
//! timings for the same reason. `consecutiveFailures` counts up to the failure threshold and
//! stops there, so a server that stays down makes no writes either.

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use llamagate_crds::{
    McpServerStatus,
    conditions::types::{AVAILABLE, REACHABLE, READY, VERIFIED},
    mcpserver::ServerInfo,
};
use llamagate_mcp::{FailureKind, ProbeReport};

/// The timing fields are refreshed at least this far apart when nothing else changed.
pub const MIN_TIMING_REFRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// What one reconcile found out about the server.
#[derive(Debug, Clone)]
pub enum Observation {
    /// The server was probed at `url`.
    Probed {
        url: String,
        report: Box<ProbeReport>,
    },
    /// A managed server whose Deployment has no available pods: it is not probed.
    NotAvailable { reason: String, message: String },
    /// The server cannot be probed until its owner fixes something (a Secret is missing,
    /// a field is unusable); `reason` is the condition reason, `message` says the fix.
    Blocked {
        reason: &'static str,
        message: String,
    },
}

/// What the status is computed from besides the observation.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `metadata.generation` of the resource.
    pub generation: Option<i64>,
    /// `spec.healthCheck.failureThreshold`.
    pub failure_threshold: i32,
    /// Whether the operator runs the server (then `Available` is reported).
    pub managed: bool,
    /// How old the timing fields may grow when nothing else changes.
    pub timing_refresh: std::time::Duration,
}

impl Settings {
    /// The refresh period for probes `interval` apart: ten intervals, at least a minute.
    pub fn timing_refresh_for(interval: std::time::Duration) -> std::time::Duration {
        (interval * 10).max(MIN_TIMING_REFRESH)
    }
}

/// The next status of a server: `previous` updated with `observation` at `now`.
pub fn next_status(
    previous: &McpServerStatus,
    observation: &Observation,
    settings: Settings,
    now: Timestamp,
) -> McpServerStatus {
    let mut next = McpServerStatus {
        observed_generation: settings.generation,
        conditions: previous.conditions.clone(),
        ..McpServerStatus::default()
    };
    let mut list = std::mem::take(&mut next.conditions);
    let mut conditions = Conditions {
        list: &mut list,
        generation: settings.generation,
        now: Time(now),
    };
    match observation {
        Observation::Probed { url, report } => {
            if settings.managed {
                conditions.set(
                    AVAILABLE,
                    "True",
                    "MinimumReplicasAvailable",
                    "the Deployment has available pods",
                );
            }
            let fields = probed(previous, &mut conditions, url, report, settings);
            apply_fields(&mut next, fields);
        }
        Observation::NotAvailable { reason, message } => {
            conditions.set(AVAILABLE, "False", reason, message);
            not_probed(
                &mut conditions,
                "NotAvailable",
                "the Deployment has no available pods yet; the server is probed once it has",
            );
            next.url = None;
            next.server_info = previous.server_info.clone();
            next.protocol_version = previous.protocol_version.clone();
            next.last_probe_time = previous.last_probe_time.clone();
        }
        Observation::Blocked { reason, message } => {
            not_probed(&mut conditions, reason, message);
            next.url = previous.url.clone();
            next.server_info = previous.server_info.clone();
            next.protocol_version = previous.protocol_version.clone();
            next.last_probe_time = previous.last_probe_time.clone();
        }
    }
    next.conditions = list;
    if !settings.managed {
        next.conditions.retain(|c| c.type_ != AVAILABLE);
    }
    refresh_timing(previous, &mut next, observation, settings, now);
    next
}

/// The conditions of a server that was not probed this time: `Ready` says why.
fn not_probed(conditions: &mut Conditions<'_>, reason: &str, message: &str) {
    let why = "not probed: see the Ready condition";
    conditions.set(REACHABLE, "Unknown", "NotProbed", why);
    conditions.set(VERIFIED, "Unknown", "NotProbed", why);
    conditions.set(READY, "False", reason, message);
}

/// The fields a probe sets besides the conditions.
#[derive(Default)]
struct ProbedFields {
    url: Option<String>,
    server_info: Option<ServerInfo>,
    protocol_version: Option<String>,
    capabilities: std::collections::BTreeMap<String, bool>,
    tool_count: Option<i32>,
    resource_count: Option<i32>,
    prompt_count: Option<i32>,
    latency_ms: Option<i64>,
    consecutive_failures: i32,
}

fn apply_fields(next: &mut McpServerStatus, fields: ProbedFields) {
    next.url = fields.url;
    next.server_info = fields.server_info;
    next.protocol_version = fields.protocol_version;
    next.capabilities = fields.capabilities;
    next.tool_count = fields.tool_count;
    next.resource_count = fields.resource_count;
    next.prompt_count = fields.prompt_count;
    next.latency_ms = fields.latency_ms;
    next.latency = fields.latency_ms.map(|ms| format!("{ms}ms"));
    next.consecutive_failures = fields.consecutive_failures;
}

/// Conditions and fields after a probe, with hysteresis on `Ready`.
fn probed(
    previous: &McpServerStatus,
    conditions: &mut Conditions<'_>,
    url: &str,
    report: &ProbeReport,
    settings: Settings,
) -> ProbedFields {
    let mut fields = ProbedFields::default();
    let threshold = settings.failure_threshold.max(1);
    let reachable = report.reachable();
    match &report.failure {
        None => conditions.set(REACHABLE, "True", "Reached", "the server answered"),
        Some(failure) if !reachable => {
            conditions.set(
                REACHABLE,
                "False",
                kind_reason(failure.kind),
                &failure.message,
            );
        }
        Some(_) => conditions.set(REACHABLE, "True", "Reached", "the server answered"),
    }
    if let Some(findings) = &report.findings {
        let era = if findings.stateless {
            "stateless"
        } else {
            "session"
        };
        conditions.set(
            VERIFIED,
            "True",
            "ProtocolVersion",
            &format!(
                "the server speaks MCP {} ({era})",
                findings.protocol_version
            ),
        );
        // The endpoint is shown to gateways once it has been verified.
        fields.url = Some(url.to_owned());
        fields.server_info = findings.server_name.clone().map(|name| ServerInfo {
            name,
            version: findings.server_version.clone().unwrap_or_default(),
        });
        fields.protocol_version = Some(findings.protocol_version.clone());
        fields.capabilities = findings.capabilities.clone();
    } else {
        let failure = report.failure.as_ref();
        let reason = failure.map_or("ProtocolError", |f| kind_reason(f.kind));
        let message = failure.map_or("no MCP answer", |f| f.message.as_str());
        conditions.set(VERIFIED, "False", reason, message);
        // A verified endpoint stays shown while the same endpoint is down (gateways have
        // their own health checks); a new endpoint is shown only once verified.
        if previous.url.as_deref() == Some(url) {
            fields.url = previous.url.clone();
        }
        fields.server_info = previous.server_info.clone();
        fields.protocol_version = previous.protocol_version.clone();
        fields.capabilities = previous.capabilities.clone();
    }
    match &report.failure {
        None => {
            let findings = report.findings.as_ref();
            fields.tool_count = findings.and_then(|f| f.tool_count).map(count);
            fields.resource_count = findings.and_then(|f| f.resource_count).map(count);
            fields.prompt_count = findings.and_then(|f| f.prompt_count).map(count);
            fields.latency_ms = findings
                .and_then(|f| f.latency)
                .or(Some(report.elapsed))
                .map(|latency| bucket_ms(latency.as_millis()));
            conditions.set(READY, "True", "Verified", &ready_message(&fields));
        }
        Some(failure) => {
            // Nothing counted is shown for a server that failed: no stale tool count.
            fields.consecutive_failures = (previous.consecutive_failures + 1).min(threshold);
            let stays_ready = fields.consecutive_failures < threshold
                && llamagate_crds::conditions::is_true(&previous.conditions, READY);
            if !stays_ready {
                conditions.set(READY, "False", kind_reason(failure.kind), &failure.message);
            }
        }
    }
    fields
}

fn ready_message(fields: &ProbedFields) -> String {
    let part = |n: Option<i32>, what: &str| n.map(|n| format!("{n} {what}"));
    let parts: Vec<String> = [
        part(fields.tool_count, "tools"),
        part(fields.resource_count, "resources"),
        part(fields.prompt_count, "prompts"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "gateways may use the server".to_owned()
    } else {
        format!("gateways may use the server: {}", parts.join(", "))
    }
}

/// The condition reason of a failure kind.
pub fn kind_reason(kind: FailureKind) -> &'static str {
    match kind {
        FailureKind::Unreachable => "Unreachable",
        FailureKind::Unauthorized => "Unauthorized",
        FailureKind::Incompatible => "IncompatibleProtocol",
        FailureKind::Timeout => "Timeout",
        FailureKind::ServerError => "ServerError",
        FailureKind::ProtocolError => "ProtocolError",
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Round a latency to the nearest step of 1, 2, 5, 10, 20, 50, … ms (at least 1 ms), so
/// the jitter between two probes of a steady server does not change the status.
pub fn bucket_ms(millis: u128) -> i64 {
    let millis = i64::try_from(millis).unwrap_or(i64::MAX).max(1);
    let mut best = 1_i64;
    let mut decade = 1_i64;
    while decade <= millis.saturating_mul(10) && decade < i64::MAX / 10 {
        for step in [1, 2, 5] {
            let candidate = decade.saturating_mul(step);
            if ratio_distance(candidate, millis) < ratio_distance(best, millis) {
                best = candidate;
            }
        }
        decade *= 10;
    }
    best
}

/// How far apart two positive values are on a log scale (compared, never shown).
fn ratio_distance(a: i64, b: i64) -> f64 {
    ((a as f64) / (b as f64)).ln().abs()
}

/// Keep the previous timing fields unless something else changed or they are older than
/// the refresh period; a server that was not probed keeps its last probe time.
fn refresh_timing(
    previous: &McpServerStatus,
    next: &mut McpServerStatus,
    observation: &Observation,
    settings: Settings,
    now: Timestamp,
) {
    if !matches!(observation, Observation::Probed { .. }) {
        next.last_probe_time = previous.last_probe_time.clone();
        return;
    }
    let mut same = next.clone();
    same.last_probe_time = previous.last_probe_time.clone();
    same.latency_ms = previous.latency_ms;
    same.latency = previous.latency.clone();
    let refresh = i64::try_from(settings.timing_refresh.as_secs()).unwrap_or(i64::MAX);
    let fresh = previous
        .last_probe_time
        .as_ref()
        .is_some_and(|Time(at)| now.as_second() - at.as_second() < refresh);
    if same == *previous && fresh {
        *next = same;
    } else {
        next.last_probe_time = Some(Time(now));
    }
}

/// The condition list being updated, stamped with the generation and the time.
struct Conditions<'a> {
    list: &'a mut Vec<Condition>,
    generation: Option<i64>,
    now: Time,
}

impl Conditions<'_> {
    fn set(&mut self, type_: &str, status: &str, reason: &str, message: &str) {
        let condition = Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message: message.to_owned(),
            observed_generation: self.generation,
            last_transition_time: self.now.clone(),
        };
        llamagate_crds::conditions::upsert(self.list, condition);
        // A stable order keeps apply bodies byte-identical.
        self.list.sort_by_key(|c| condition_rank(&c.type_));
    }
}

fn condition_rank(type_: &str) -> usize {
    [AVAILABLE, REACHABLE, VERIFIED, READY]
        .iter()
        .position(|t| *t == type_)
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
