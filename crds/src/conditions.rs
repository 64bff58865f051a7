//! Helpers for `metav1.Condition` lists: conditions are upserted by `type`, and
//! `lastTransitionTime` moves only when the status really changes, so a status patch that
//! repeats the same observation is a no-op.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types of an `McpServer`.
pub mod types {
    /// The operator reached the server's endpoint.
    pub const REACHABLE: &str = "Reachable";
    /// The endpoint answered as an MCP server (discover or initialize, then tools/list).
    pub const VERIFIED: &str = "Verified";
    /// Gateways may use the server.
    pub const READY: &str = "Ready";
    /// A managed server's Deployment has available pods.
    pub const AVAILABLE: &str = "Available";
}

/// Insert or update the condition of `condition.type_`, keeping `lastTransitionTime` when
/// the status did not change. Returns true when anything changed.
pub fn upsert(conditions: &mut Vec<Condition>, mut condition: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(existing) => {
            if existing.status == condition.status {
                condition.last_transition_time = existing.last_transition_time.clone();
            }
            let changed = existing.status != condition.status
                || existing.reason != condition.reason
                || existing.message != condition.message
                || existing.observed_generation != condition.observed_generation;
            *existing = condition;
            changed
        }
        None => {
            conditions.push(condition);
            true
        }
    }
}

/// Build a condition observed at `now`.
pub fn new(
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
    now: Time,
) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation,
        last_transition_time: now,
    }
}

/// True when the condition of `type_` is present with status `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}
