//! Leader election through a `coordination.k8s.io` Lease, with fencing.
//!
//! As client-go does, a candidate judges a lease by when *it* last saw the lease record
//! change, never by the holder's timestamps, so clock skew between nodes does not matter.
//! A candidate takes the lease only after the record stayed unchanged for
//! `lease_duration`; the leader gives up (and stops reconciling) when it could not renew
//! within `renew_deadline` of its last renewal. With `renew_deadline < lease_duration`, an
//! old leader has stopped before a new one can start.

use std::time::Duration;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{Api, Client, api::PostParams};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// How long leases last and how often they are renewed.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    /// How long a lease holds after its last renewal, as candidates see it.
    pub lease_duration: Duration,
    /// The leader stops when it has not renewed for this long.
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl Default for Timings {
    /// client-go's defaults: 15 s, 10 s, 2 s.
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// One candidate for the lease `name` in `namespace`.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: Timings,
    /// The record last seen, and when this candidate saw it change.
    observed: Option<(Option<LeaseSpec>, Instant)>,
}

impl LeaderElector {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        identity: &str,
        timings: Timings,
    ) -> Result<Self> {
        if timings.renew_deadline >= timings.lease_duration {
            return Err(Error::Settings(
                "the renew deadline must be shorter than the lease duration".to_owned(),
            ));
        }
        Ok(Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
            identity: identity.to_owned(),
            timings,
            observed: None,
        })
    }

    /// This candidate's identity (`holderIdentity` while it leads).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Wait until this candidate holds the lease. API errors are retried.
    pub async fn acquire(&mut self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, lease = %self.name, "cannot read or write the lease")
                }
            }
            tokio::time::sleep(self.timings.retry_period).await;
        }
    }

    /// Renew the lease until renewal fails for `renew_deadline`, or another candidate holds
    /// it; then return why leadership was lost. The caller must stop reconciling at once.
    pub async fn hold(&mut self) -> Error {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.timings.retry_period).await;
            let deadline = renewed + self.timings.renew_deadline;
            match tokio::time::timeout_at(deadline, self.try_acquire_or_renew()).await {
                Ok(Ok(true)) => renewed = Instant::now(),
                Ok(Ok(false)) => {
                    return Error::LeadershipLost(format!(
                        "lease `{}` is held by another replica",
                        self.name
                    ));
                }
                Ok(Err(error)) if Instant::now() < deadline => {
                    tracing::warn!(%error, lease = %self.name, "cannot renew the lease; retrying");
                }
                Ok(Err(error)) => {
                    return Error::LeadershipLost(format!(
                        "lease `{}` not renewed within the deadline: {error}",
                        self.name
                    ));
                }
                Err(_) => {
                    return Error::LeadershipLost(format!(
                        "lease `{}` not renewed within the deadline",
                        self.name
                    ));
                }
            }
        }
    }

    /// Give the lease up (on shutdown) so that another replica can lead at once.
    pub async fn release(&mut self) -> Result<()> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        self.api
            .replace(&self.name, &PostParams::default(), &lease)
            .await?;
        Ok(())
    }

    /// One attempt: true when this candidate holds the lease afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool> {
        let now = MicroTime(Timestamp::now());
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.record(None, now)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => Ok(self.observe(created.spec)),
                Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(false),
                Err(error) => Err(error.into()),
            };
        };
        let current = lease.spec.clone().unwrap_or_default();
        let holder = current.holder_identity.clone().filter(|h| !h.is_empty());
        let ours = holder.as_deref() == Some(self.identity.as_str());
        if !ours {
            let seen_at = self.seen(&lease.spec);
            let duration = current
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map_or(self.timings.lease_duration, Duration::from_secs);
            if holder.is_some() && seen_at.elapsed() < duration {
                return Ok(false);
            }
        }
        lease.spec = Some(self.record(Some(&current).filter(|_| ours), now));
        if !ours {
            let spec = lease.spec.as_mut().expect("just set");
            spec.lease_transitions = Some(current.lease_transitions.unwrap_or(0) + 1);
        }
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(replaced) => Ok(self.observe(replaced.spec)),
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The record this candidate writes: itself as holder, renewed now.
    fn record(&self, ours: Option<&LeaseSpec>, now: MicroTime) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: i32::try_from(self.timings.lease_duration.as_secs()).ok(),
            acquire_time: Some(
                ours.and_then(|o| o.acquire_time.clone())
                    .unwrap_or_else(|| now.clone()),
            ),
            renew_time: Some(now),
            lease_transitions: Some(ours.and_then(|o| o.lease_transitions).unwrap_or(0)),
            ..LeaseSpec::default()
        }
    }

    /// Note a record this candidate wrote; true (it holds the lease).
    fn observe(&mut self, spec: Option<LeaseSpec>) -> bool {
        self.observed = Some((spec, Instant::now()));
        true
    }

    /// When this candidate first saw the record `spec` (now, if it differs from the last).
    fn seen(&mut self, spec: &Option<LeaseSpec>) -> Instant {
        match &self.observed {
            Some((seen, at)) if seen == spec => *at,
            _ => {
                let now = Instant::now();
                self.observed = Some((spec.clone(), now));
                now
            }
        }
    }
}
