//! Starting, monitoring, restarting and stopping a server.

use std::{sync::Arc, time::Duration};

use tokio::sync::oneshot;

use super::{ServerClient, close_when_unused};
use crate::{
    description::Transport,
    error::McpError,
    health::{
        HealthState, backoff, jittered,
        prober::{Handback, Watch},
    },
};

/// What a monitor task carries from round to round.
#[derive(Debug, Default)]
struct Round {
    /// Failed connection attempts or probes in a row (for the backoff).
    attempt: u32,
    /// The shared prober just gave the server back with a failure.
    after_prober_failure: bool,
    /// Times the server's own probe succeeded right after the prober failed.
    disputes: u32,
}

/// Disputes after which a server is no longer handed to the shared prober.
const MAX_DISPUTES: u32 = 3;

/// What the monitor task does after a round.
enum Next {
    /// Run the next round after this delay.
    After(Duration),
    /// The shared prober watches the server until it gives it back.
    Watched(oneshot::Receiver<Handback>),
}

impl ServerClient {
    /// Start the health monitor: connect (with capped exponential backoff while the server is
    /// down), then probe at the jittered interval. Returns at once: a server that is down
    /// never blocks start-up or other servers.
    pub fn start(self: &Arc<Self>) {
        let mut monitor = self.monitor.lock().unwrap_or_else(|p| p.into_inner());
        if monitor.as_ref().is_some_and(|task| !task.is_finished()) {
            return;
        }
        {
            let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
            if matches!(health.state, HealthState::Stopped) {
                health.state = HealthState::Starting;
                health.consecutive_failures = 0;
            }
        }
        self.publish_health();
        let client = Arc::downgrade(self);
        *monitor = Some(tokio::spawn(async move {
            let mut round = Round::default();
            loop {
                // Only a weak reference is held between rounds, so that a removed server
                // ends its monitor.
                let Some(this) = client.upgrade() else { return };
                let next = this.monitor_step(&mut round).await;
                drop(this);
                let delay = match next {
                    Next::After(delay) => delay,
                    Next::Watched(handback) => {
                        let handback = handback.await;
                        let Some(this) = client.upgrade() else { return };
                        match handback {
                            Ok(Handback::Failed(error)) => {
                                round.after_prober_failure = true;
                                this.probe_failed(error, &mut round.attempt)
                            }
                            Ok(Handback::Resume) => Duration::ZERO,
                            Err(_) => {
                                tracing::warn!(server = %this.name(), "the shared health prober stopped; the server's own monitor probes it");
                                round.disputes = MAX_DISPUTES;
                                jittered(this.description.health.interval)
                            }
                        }
                    }
                };
                tokio::time::sleep(delay).await;
            }
        }));
    }

    /// Abort the monitor task (and so the shared prober's watch of the server).
    fn abort_monitor(&self) {
        let task = self
            .monitor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }

    /// One round of the monitor: connect if needed, probe, and say when to go on.
    async fn monitor_step(self: &Arc<Self>, round: &mut Round) -> Next {
        let attempt = &mut round.attempt;
        let checking_prober = std::mem::take(&mut round.after_prober_failure);
        let interval = self.description.health.interval;
        if self.health().state == HealthState::Stopped {
            return Next::After(interval);
        }
        if !self.pool.vacant_slots().is_empty()
            && let Err(error) = self.connect_vacant().await
        {
            *attempt += 1;
            self.record_failure(error.to_string());
            let delay = backoff(*attempt, interval);
            tracing::warn!(server = %self.name(), attempt = *attempt, retry_in_ms = delay.as_millis() as u64, "{error}");
            return Next::After(delay);
        }
        *attempt = 0;
        if self.last_answer.within(interval) {
            self.probes.skipped.inc();
            self.record_success(None);
        } else {
            match self.probe().await {
                Ok(latency) => {
                    self.probes.ok.inc();
                    self.record_success(Some(latency));
                    if checking_prober {
                        // The prober failed where this probe succeeds at once (a proxy or
                        // server quirk): after a few such disputes, stop handing it over.
                        round.disputes += 1;
                        if round.disputes == MAX_DISPUTES {
                            tracing::warn!(server = %self.name(), "the shared health prober keeps failing where the server's own probe succeeds; probing it from its own monitor");
                        }
                    }
                }
                Err(error) => {
                    self.probes.failed.inc();
                    return Next::After(self.probe_failed(error, attempt));
                }
            }
        }
        if round.disputes >= MAX_DISPUTES {
            return Next::After(jittered(interval));
        }
        self.hand_to_prober()
            .map_or(Next::After(jittered(interval)), Next::Watched)
    }

    /// A healthy Streamable HTTP server is probed from here on by the shared prober
    /// (`health/prober/`), when the context has one, which is far cheaper with many servers; the returned receiver says when
    /// it gives the server back.
    fn hand_to_prober(self: &Arc<Self>) -> Option<oneshot::Receiver<Handback>> {
        if self.description.transport() != Transport::StreamableHttp
            || self.info().is_none()
            || self.health().state != HealthState::Healthy
        {
            return None;
        }
        let prober = self.prober.as_ref()?;
        let (watch, handback) = Watch::new(self)?;
        prober.hand_over(watch).then_some(handback)
    }

    /// Record a failed probe and close the sessions (they are replaced on the next round);
    /// returns the backoff before that round.
    fn probe_failed(&self, error: McpError, attempt: &mut u32) -> Duration {
        self.record_failure(error.to_string());
        for session in self.pool.take_all() {
            close_when_unused(session);
        }
        *attempt += 1;
        backoff(*attempt, self.description.health.interval)
    }

    /// Record a successful probe, or (without a latency) calls answered in its place.
    /// Metrics are only touched when the state changes: with hundreds of servers probed
    /// every second that is most of a probe's cost.
    pub(crate) fn record_success(&self, latency: Option<Duration>) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let was = health.state;
        match latency {
            Some(latency) => health.succeeded(latency),
            None => health.alive(),
        }
        let now = health.state;
        drop(health);
        if was != now {
            if now == HealthState::Healthy {
                tracing::info!(server = %self.name(), "MCP server healthy");
            }
            self.publish_health();
        }
    }

    fn record_failure(&self, error: String) {
        let threshold = self.description.health.failure_threshold;
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let was = health.state;
        health.failed(error.clone(), threshold);
        let now = health.state;
        drop(health);
        if was != now {
            tracing::warn!(server = %self.name(), "MCP server {now}: {error}");
        }
        self.publish_health();
    }

    /// Probe now and record the outcome (the API's `?probe=true`).
    pub async fn probe_now(&self) -> Result<Duration, McpError> {
        let outcome = self.probe().await;
        match &outcome {
            Ok(latency) => {
                self.probes.ok.inc();
                self.record_success(Some(*latency));
            }
            Err(error) => {
                self.probes.failed.inc();
                self.record_failure(error.to_string());
            }
        }
        outcome
    }

    /// Let in-flight calls finish for at most `grace`, then close every session, drop the
    /// cache and reconnect (a stdio server gets a new process).
    pub async fn restart(self: &Arc<Self>, grace: Duration) -> Result<(), McpError> {
        self.set_state(HealthState::Restarting);
        // A new monitor takes over afterwards: the old one may be waiting on the shared
        // prober, or be mid-way through a reconnect of its own.
        self.abort_monitor();
        if !self.pool.drain(grace).await {
            tracing::warn!(server = %self.name(), "calls still in flight after {grace:?}; restarting anyway");
        }
        for session in self.pool.take_all() {
            close_when_unused(session);
        }
        self.cache.clear();
        let reconnected = self.connect_vacant().await;
        {
            let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
            health.state = HealthState::Starting;
            health.consecutive_failures = 0;
        }
        let outcome = match reconnected {
            Ok(()) => self.probe_now().await.map(drop),
            Err(error) => {
                self.record_failure(error.to_string());
                Err(error)
            }
        };
        self.start();
        self.restarted.notify_waiters();
        outcome
    }

    /// Returns once no restart is under way.
    pub(crate) async fn restart_finished(&self) {
        loop {
            let notified = self.restarted.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a restart that ends in between still wakes us.
            notified.as_mut().enable();
            if self.health().state != HealthState::Restarting {
                return;
            }
            notified.await;
        }
    }

    /// Stop: no new calls, in-flight ones finish for at most `grace`, sessions close and a
    /// stdio process ends.
    pub async fn stop(&self, grace: Duration) {
        self.set_state(HealthState::Stopped);
        self.abort_monitor();
        self.pool.drain(grace).await;
        for session in self.pool.take_all() {
            if let Ok(owned) = Arc::try_unwrap(session) {
                owned.close().await;
            }
        }
        // Clients' own sessions are theirs: let go here, not ended.
        self.owned.let_go_all();
        self.cache.clear();
        self.publish_pool();
    }
}
