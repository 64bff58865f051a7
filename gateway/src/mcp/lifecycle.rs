//! Starting, monitoring, restarting and stopping a server.

use std::{sync::Arc, time::Duration};

use super::{
    health::{HealthState, backoff, jittered},
    server::{ServerClient, close_when_unused},
};

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
            let mut attempt = 0u32;
            loop {
                let Some(this) = client.upgrade() else { return };
                let delay = this.monitor_step(&mut attempt).await;
                drop(this);
                tokio::time::sleep(delay).await;
            }
        }));
    }

    /// One round of the monitor; returns how long to wait before the next one.
    async fn monitor_step(&self, attempt: &mut u32) -> Duration {
        let interval = self.settings.health_check_interval;
        if self.health().state == HealthState::Stopped {
            return interval;
        }
        if !self.pool.vacant_slots().is_empty()
            && let Err(error) = self.connect_vacant().await
        {
            *attempt += 1;
            self.record_failure(error.to_string());
            let delay = backoff(*attempt, interval);
            tracing::warn!(server = %self.name(), attempt = *attempt, retry_in_ms = delay.as_millis() as u64, "{error}");
            return delay;
        }
        *attempt = 0;
        match self.probe().await {
            Ok(latency) => {
                let was = self.health().state;
                self.health
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .succeeded(latency);
                if was != HealthState::Healthy {
                    tracing::info!(server = %self.name(), latency_ms = latency.as_secs_f64() * 1000.0, "MCP server healthy");
                }
                self.publish_health();
                jittered(interval)
            }
            Err(error) => {
                self.record_failure(error.to_string());
                // A probe that fails on an open session: replace the sessions on the next round.
                for session in self.pool.take_all() {
                    close_when_unused(session);
                }
                *attempt += 1;
                backoff(*attempt, interval)
            }
        }
    }

    fn record_failure(&self, error: String) {
        let threshold = self.settings.failure_threshold;
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
    pub async fn probe_now(&self) -> Result<Duration, super::error::McpError> {
        let outcome = self.probe().await;
        match &outcome {
            Ok(latency) => {
                self.health
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .succeeded(*latency);
                self.publish_health();
            }
            Err(error) => self.record_failure(error.to_string()),
        }
        outcome
    }

    /// Let in-flight calls finish for at most `grace`, then close every session, drop the
    /// cache and reconnect (a stdio server gets a new process).
    pub async fn restart(self: &Arc<Self>, grace: Duration) -> Result<(), super::error::McpError> {
        self.set_state(HealthState::Restarting);
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
        match reconnected {
            Ok(()) => {
                self.probe_now().await?;
            }
            Err(error) => {
                self.record_failure(error.to_string());
                self.start();
                return Err(error);
            }
        }
        self.start();
        Ok(())
    }

    /// Stop: no new calls, in-flight ones finish for at most `grace`, sessions close and a
    /// stdio process ends.
    pub async fn stop(&self, grace: Duration) {
        self.set_state(HealthState::Stopped);
        if let Some(task) = self
            .monitor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
        self.pool.drain(grace).await;
        for session in self.pool.take_all() {
            if let Ok(owned) = Arc::try_unwrap(session) {
                owned.close().await;
            }
        }
        self.cache.clear();
        self.publish_pool();
    }
}
