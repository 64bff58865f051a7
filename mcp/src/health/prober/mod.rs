//! The shared prober: steady-state health probes of every healthy Streamable HTTP server of
//! the process, from one thread: `server/discover` for stateless (2026-07-28) servers, `ping`
//! on one of its sessions for a legacy one.
//!
//! Why a shared thread: with hundreds of servers probed every second, a probe costs far
//! more in waking threads than in its HTTP exchange. A task per server wakes the runtime's
//! workers for each probe; here the probes due in the same tick (a tenth of the interval, at
//! most 100 ms) leave together from one current-thread runtime, each over a kept-alive
//! connection of its own, while the server's monitor task sleeps until a probe fails.
//! Connecting, backoff, legacy sessions and the other transports stay with the per-server
//! monitor task (`lifecycle.rs`), which takes over again when a probe fails. A server whose
//! calls were answered within the interval is not probed at all (passive health).

use std::{collections::HashMap, sync::Weak, time::Duration};

use futures::{FutureExt, StreamExt, stream::FuturesUnordered};
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_util::time::DelayQueue;

use crate::{
    error::McpError,
    health::{HealthState, jittered},
    server::ServerClient,
};

mod target;
pub(crate) mod wire;

use target::{ProbeError, Target, exchange};

/// Why the prober gave a server back to its monitor task.
#[derive(Debug)]
pub(crate) enum Handback {
    /// A probe failed: the monitor records it and reconnects with backoff.
    Failed(McpError),
    /// The server is up but has sessions to replace, or stopped: the monitor decides.
    Resume,
}

/// A server handed to the prober by its monitor task.
pub(crate) struct Watch {
    client: Weak<ServerClient>,
    target: Target,
    interval: Duration,
    timeout: Duration,
    handback: oneshot::Sender<Handback>,
}

impl Watch {
    /// A watch of `client`, or `None` when the server cannot be probed here (its URL or
    /// headers are unusable: the monitor task keeps probing it itself).
    pub(crate) fn new(
        client: &std::sync::Arc<ServerClient>,
    ) -> Option<(Self, oneshot::Receiver<Handback>)> {
        let stateless = client.info().is_some_and(|info| info.stateless);
        let target = Target::new(client.name(), client.description.remote()?, stateless)?;
        let (handback, receiver) = oneshot::channel();
        let watch = Self {
            client: std::sync::Arc::downgrade(client),
            target,
            interval: client.description.health.interval,
            timeout: client.description.health.timeout,
            handback,
        };
        Some((watch, receiver))
    }

    /// The monitor task is gone (the server stopped or was removed): stop probing it.
    fn abandoned(&self) -> bool {
        self.handback.is_closed() || self.client.strong_count() == 0
    }
}

/// Watches the prober takes before a monitor hand-over is refused (the monitor then probes
/// its server itself for a round): a bound on what a flood of hand-overs can queue.
const QUEUE: usize = 4096;

/// The shared prober: a thread of its own, running until [`Prober::stop`] or drop. Servers
/// reach it through the [`Context`](crate::Context) they were built with; without one (or
/// once it stopped) each server's monitor probes it itself.
pub struct Prober {
    handle: ProberHandle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Where monitors hand their servers to a running [`Prober`].
#[derive(Clone)]
pub(crate) struct ProberHandle(mpsc::Sender<Watch>);

impl ProberHandle {
    /// Hand `watch` over. False when the prober stopped or its queue is full: then the
    /// caller keeps probing the server itself.
    pub(crate) fn hand_over(&self, watch: Watch) -> bool {
        self.0.try_send(watch).is_ok()
    }
}

impl Prober {
    /// Start the prober thread.
    pub fn start() -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let (stop, stopped) = oneshot::channel();
        // The runtime is built on the new thread: dropping one inside the caller's async
        // context (if building failed halfway) would panic.
        let thread = std::thread::Builder::new()
            .name("mcp-prober".to_owned())
            .spawn(move || {
                // I/O and timers only: the signal and child-process drivers would be
                // serviced on every wake-up of this thread, for nothing.
                match tokio::runtime::Builder::new_current_thread()
                    .enable_io()
                    .enable_time()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(async move {
                        tokio::select! {
                            () = run(receiver) => {}
                            _ = stopped => {}
                        }
                    }),
                    Err(e) => tracing::warn!(
                        "shared health prober not started ({e}); each server's monitor probes it"
                    ),
                }
            })?;
        Ok(Self {
            handle: ProberHandle(sender),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(crate) fn handle(&self) -> ProberHandle {
        self.handle.clone()
    }

    /// Stop probing and wait for the thread to end. Every watched server goes back to its
    /// own monitor.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A watched server and its connection (boxed: entries move in and out of futures).
struct Entry {
    watch: Box<Watch>,
    connection: Option<wire::Connection>,
}

/// The prober's loop: wait for the next tick, probe every server due in it concurrently,
/// schedule the healthy ones again and give the others back to their monitor tasks.
async fn run(mut incoming: mpsc::Receiver<Watch>) {
    // The prober's own client is guarded like the sessions' (`address_guard`): a redirect
    // or a name that resolves to a metadata address is refused here too.
    let Ok(pooled) = reqwest::Client::builder()
        .dns_resolver(crate::address_guard::GuardedResolver::shared())
        .redirect(crate::address_guard::redirect_policy())
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(90))
        .build()
    else {
        // Without a TLS backend nothing can be probed here; dropping `incoming` makes
        // every monitor task keep its server.
        return;
    };
    let epoch = Instant::now();
    let mut waiting: DelayQueue<Entry> = DelayQueue::new();
    let mut probing = FuturesUnordered::new();
    loop {
        tokio::select! {
            Some(watch) = incoming.recv() => {
                let at = next_probe(epoch, watch.interval);
                let watch = Box::new(watch);
                waiting.insert_at(Entry { watch, connection: None }, at);
            }
            Some(first) = waiting.next() => {
                // Everything else due in this tick too, so that it goes out in one batch.
                let mut due = vec![first.into_inner()];
                while let Some(Some(more)) = waiting.next().now_or_never() {
                    due.push(more.into_inner());
                }
                let mut batches: HashMap<Duration, Vec<Entry>> = HashMap::new();
                for entry in due {
                    match on_due(entry) {
                        Due::Probe(entry) => {
                            batches.entry(entry.watch.timeout).or_default().push(entry);
                        }
                        Due::Again(entry) => {
                            let at = next_probe(epoch, entry.watch.interval);
                            waiting.insert_at(entry, at);
                        }
                        Due::Done => {}
                    }
                }
                for (timeout, entries) in batches {
                    probing.push(probe_batch(entries, timeout, pooled.clone()));
                }
            }
            Some(settled) = probing.next() => {
                for (entry, outcome) in settled {
                    if let Some(entry) = settle(entry, outcome) {
                        let at = next_probe(epoch, entry.watch.interval);
                        waiting.insert_at(entry, at);
                    }
                }
            }
            // Nothing watched, nothing under way, and nobody left to hand servers over.
            else => return,
        }
    }
}

/// When to probe next: the jittered interval from now, rounded up to the tick grid so
/// that servers due close together are probed in one wake-up.
fn next_probe(epoch: Instant, interval: Duration) -> Instant {
    // Validation caps the interval; the cap here keeps `DelayQueue` (which panics past about
    // two years) safe from any other caller.
    let interval = interval.min(crate::description::MAX_HEALTH_CHECK_INTERVAL);
    let tick = (interval / 10).clamp(Duration::from_millis(1), Duration::from_millis(100));
    let since_epoch = (Instant::now() + jittered(interval)) - epoch;
    let ticks = since_epoch.as_nanos().div_ceil(tick.as_nanos());
    let offset = u64::try_from(ticks.saturating_mul(tick.as_nanos())).unwrap_or(u64::MAX);
    epoch + Duration::from_nanos(offset)
}

/// What to do with a server whose time has come.
enum Due {
    Probe(Entry),
    Again(Entry),
    Done,
}

/// Probe the server, unless it is gone or calls answered within the interval stand in for
/// the probe (passive health).
fn on_due(mut entry: Entry) -> Due {
    if entry.watch.abandoned() {
        return Due::Done;
    }
    let Some(client) = entry.watch.client.upgrade() else {
        return Due::Done;
    };
    if !client.last_answer.within(entry.watch.interval) {
        if entry.watch.target.needs_session() {
            // A legacy server is pinged on one of its sessions; without one, its monitor
            // reconnects.
            let Some(session) = client.pool.any_session() else {
                let _ = entry.watch.handback.send(Handback::Resume);
                return Due::Done;
            };
            let version = &session.info().protocol_version;
            entry
                .watch
                .target
                .use_session(session.http_session_id(), version);
        }
        return Due::Probe(entry);
    }
    client.probes.skipped.inc();
    client.record_success(None);
    keep_or_give_back(entry, &client, Handback::Resume).map_or(Due::Done, Due::Again)
}

/// Record a probe's outcome; returns the entry when it stays with the prober.
fn settle(entry: Entry, outcome: Outcome) -> Option<Entry> {
    if entry.watch.abandoned() {
        return None;
    }
    let client = entry.watch.client.upgrade()?;
    match outcome {
        Outcome::Answered(latency) => {
            client.probes.ok.inc();
            client.record_success(Some(latency));
            keep_or_give_back(entry, &client, Handback::Resume)
        }
        // Not a failure of the server: its monitor replaces the session (rmcp
        // re-initializes it on its own next request).
        Outcome::SessionExpired => {
            let _ = entry.watch.handback.send(Handback::Resume);
            None
        }
        Outcome::Failed(error) => {
            client.probes.failed.inc();
            // The monitor task may have just gone; then there is nobody left to tell.
            let _ = entry.watch.handback.send(Handback::Failed(error));
            None
        }
    }
}

/// How one probe of a batch ended.
enum Outcome {
    Answered(Duration),
    SessionExpired,
    Failed(McpError),
}

/// A healthy server with all its sessions stays; any other goes back to its monitor, which
/// reconnects what is missing.
fn keep_or_give_back(entry: Entry, client: &ServerClient, handback: Handback) -> Option<Entry> {
    if client.health_state() == HealthState::Healthy && client.pool.vacant_slots().is_empty() {
        return Some(entry);
    }
    let _ = entry.watch.handback.send(handback);
    None
}

/// Probe `entries` (servers sharing a timeout) concurrently under one deadline.
///
/// One timer for the batch, not one per probe: arming a timer wakes the runtime's driver,
/// which with hundreds of probes a second costs as much as the probes' own reads.
async fn probe_batch(
    mut entries: Vec<Entry>,
    timeout: Duration,
    pooled: reqwest::Client,
) -> Vec<(Entry, Outcome)> {
    let started = Instant::now();
    let mut answers: Vec<Option<Result<Duration, ProbeError>>> = Vec::new();
    answers.resize_with(entries.len(), || None);
    {
        let pooled = &pooled;
        let mut exchanges: FuturesUnordered<_> = entries
            .iter_mut()
            .enumerate()
            .map(|(index, entry)| async move {
                let Entry { watch, connection } = entry;
                let answer = exchange(&mut watch.target, connection, pooled).await;
                (index, answer.map(|()| started.elapsed()))
            })
            .collect();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = exchanges.next() => match next {
                    Some((index, answer)) => answers[index] = Some(answer),
                    None => break,
                },
                () = &mut deadline => break,
            }
        }
        // Dropping `exchanges` here ends the probes still under way.
    }
    entries
        .into_iter()
        .zip(answers)
        .map(|(mut entry, answer)| {
            let server = entry.watch.target.server.clone();
            let method = entry.watch.target.method_name().to_owned();
            let outcome = match answer {
                Some(Ok(latency)) => Outcome::Answered(latency),
                Some(Err(ProbeError::SessionExpired)) => Outcome::SessionExpired,
                Some(Err(ProbeError::Failed(detail))) => Outcome::Failed(McpError::Transport {
                    server,
                    method,
                    detail,
                }),
                None => Outcome::Failed(McpError::Timeout {
                    server,
                    method,
                    timeout,
                }),
            };
            if !matches!(outcome, Outcome::Answered(_)) {
                // A connection that failed or timed out mid-exchange is not reused.
                entry.connection = None;
            }
            (entry, outcome)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_due_close_together_share_a_tick() {
        let epoch = Instant::now();
        let interval = Duration::from_secs(1);
        for _ in 0..100 {
            let at = next_probe(epoch, interval) - epoch;
            assert_eq!(at.as_nanos() % 100_000_000, 0, "{at:?} is off the grid");
            assert!(
                at >= Duration::from_millis(900) && at <= Duration::from_millis(1200),
                "{at:?}"
            );
        }
    }
}
