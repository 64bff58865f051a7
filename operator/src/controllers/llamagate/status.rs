//! The status of a `LlamaGate` as a pure function of what the reconcile saw: its
//! Deployment's replicas and availability, and the servers it uses.

use k8s_openapi::{
    api::apps::v1::DeploymentStatus,
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use llamagate_crds::{
    LlamaGateStatus,
    conditions::types::{AVAILABLE, READY},
    llamagate::SelectedServers,
};

/// What one reconcile of a gateway found.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// `metadata.generation` of the resource.
    pub generation: Option<i64>,
    /// The pods the gateway should have (`spec.replicas`, or the HPA's choice).
    pub desired: i32,
    /// The Deployment's status, once it has one.
    pub deployment: Option<DeploymentStatus>,
    /// The in-cluster endpoint.
    pub endpoint: String,
    /// McpServers selected, and how many of them are ready.
    pub selected: i32,
    pub ready: i32,
    /// Why the spec cannot be used, when it cannot.
    pub invalid: Option<String>,
}

/// The next status of a gateway.
pub fn next_status(
    previous: &LlamaGateStatus,
    seen: &Observation,
    now: Timestamp,
) -> LlamaGateStatus {
    let mut conditions = previous.conditions.clone();
    let set = |conditions: &mut Vec<Condition>,
               type_: &str,
               status: &str,
               reason: &str,
               message: String| {
        let condition = Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            observed_generation: seen.generation,
            last_transition_time: Time(now),
        };
        llamagate_crds::conditions::upsert(conditions, condition);
    };
    let deployment = seen.deployment.clone().unwrap_or_default();
    let replicas = deployment.replicas.unwrap_or(0);
    let ready_replicas = deployment.ready_replicas.unwrap_or(0);
    if let Some(problem) = &seen.invalid {
        set(
            &mut conditions,
            READY,
            "False",
            "InvalidSpec",
            problem.clone(),
        );
    } else {
        let available = deployment
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Available");
        match available {
            Some(c) if c.status == "True" => set(
                &mut conditions,
                AVAILABLE,
                "True",
                "MinimumReplicasAvailable",
                "the gateway Deployment has available pods".to_owned(),
            ),
            Some(c) => set(
                &mut conditions,
                AVAILABLE,
                "False",
                c.reason.as_deref().unwrap_or("Unavailable"),
                c.message
                    .clone()
                    .unwrap_or_else(|| "the gateway Deployment has no available pods".to_owned()),
            ),
            None => set(
                &mut conditions,
                AVAILABLE,
                "False",
                "Progressing",
                "the gateway Deployment has not reported availability yet".to_owned(),
            ),
        }
        let message = format!("{ready_replicas} of {} replicas ready", seen.desired);
        if seen.desired == 0 {
            set(
                &mut conditions,
                READY,
                "False",
                "ScaledToZero",
                "the gateway has no replicas".to_owned(),
            );
        } else if ready_replicas >= seen.desired {
            set(&mut conditions, READY, "True", "AllReplicasReady", message);
        } else {
            set(&mut conditions, READY, "False", "ReplicasNotReady", message);
        }
    }
    conditions.sort_by_key(|c| usize::from(c.type_ != AVAILABLE));
    LlamaGateStatus {
        observed_generation: seen.generation,
        conditions,
        replicas,
        ready_replicas,
        endpoint: Some(seen.endpoint.clone()),
        mcp_servers: SelectedServers {
            selected: seen.selected,
            ready: seen.ready,
            summary: Some(format!("{}/{}", seen.ready, seen.selected)),
        },
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::DeploymentCondition;

    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn rolled_out(ready: i32) -> Observation {
        Observation {
            generation: Some(2),
            desired: 3,
            deployment: Some(DeploymentStatus {
                replicas: Some(3),
                ready_replicas: Some(ready),
                conditions: Some(vec![DeploymentCondition {
                    type_: "Available".to_owned(),
                    status: "True".to_owned(),
                    ..DeploymentCondition::default()
                }]),
                ..DeploymentStatus::default()
            }),
            endpoint: "http://gw.default.svc:80/v1".to_owned(),
            selected: 4,
            ready: 3,
            invalid: None,
        }
    }

    fn condition<'a>(status: &'a LlamaGateStatus, type_: &str) -> &'a Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn ready_when_every_wanted_replica_is_ready() {
        let partial = next_status(&LlamaGateStatus::default(), &rolled_out(2), at(0));
        assert_eq!(condition(&partial, READY).reason, "ReplicasNotReady");
        assert_eq!(condition(&partial, READY).message, "2 of 3 replicas ready");
        assert_eq!(condition(&partial, AVAILABLE).status, "True");
        let full = next_status(&partial, &rolled_out(3), at(10));
        assert_eq!(condition(&full, READY).status, "True");
        assert_eq!(full.ready_replicas, 3);
        assert_eq!(full.mcp_servers.summary.as_deref(), Some("3/4"));
        assert_eq!(
            full.endpoint.as_deref(),
            Some("http://gw.default.svc:80/v1")
        );
        assert_eq!(
            next_status(&full, &rolled_out(3), at(99)),
            full,
            "steady: no write"
        );
    }

    #[test]
    fn a_fresh_deployment_is_progressing_and_an_invalid_spec_says_why() {
        let fresh = Observation {
            desired: 1,
            ..Observation::default()
        };
        let status = next_status(&LlamaGateStatus::default(), &fresh, at(0));
        assert_eq!(condition(&status, AVAILABLE).reason, "Progressing");
        assert_eq!(condition(&status, READY).status, "False");
        let invalid = Observation {
            invalid: Some("spec.upstream.timeout: bad".to_owned()),
            ..fresh
        };
        let status = next_status(&status, &invalid, at(5));
        assert_eq!(condition(&status, READY).reason, "InvalidSpec");
    }
}
