//! The bridge's sessions: one child per downstream session (a Streamable HTTP session or a
//! WebSocket), a warm spare so that a new session does not wait for the command's cold
//! start, a cap, and idle sessions reaped.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use llamagate_mcp::StdioCommand;

use super::child::Child;

/// How the bridge runs its children.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// The stdio server's command.
    pub command: StdioCommand,
    /// Sessions at once (HTTP and WebSocket together).
    pub max_sessions: usize,
    /// A session unused this long is closed.
    pub idle_timeout: Duration,
    /// Longest wait for one answer of a child.
    pub request_timeout: Duration,
    /// Largest message from a child.
    pub max_message_bytes: usize,
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The cap is reached.
    #[error("the bridge serves at most {0} sessions at once; close one or retry later")]
    Full(usize),
    /// The command could not be started.
    #[error("{0}")]
    Spawn(String),
}

/// One session.
pub struct Session {
    pub child: Arc<Child>,
    last_used: Mutex<Instant>,
    /// Listeners (a GET stream, a WebSocket) and requests in flight keep a session alive
    /// whatever its idle time.
    busy: std::sync::atomic::AtomicUsize,
}

/// Marks a session busy while it lives.
pub struct Busy(Arc<Session>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0
            .busy
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.0.touch();
    }
}

impl Session {
    /// Note that the session was used now.
    pub fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// The session is in use (a request in flight, a listener attached) until the guard
    /// drops; it is never reaped meanwhile.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.touch();
        Busy(self.clone())
    }

    fn idle_for(&self) -> Duration {
        if self.busy.load(std::sync::atomic::Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        self.last_used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }
}

/// Every session, by id.
pub struct Sessions {
    settings: SessionSettings,
    open: Mutex<HashMap<String, Arc<Session>>>,
    /// Places taken by opens under way.
    reserved: Mutex<usize>,
    spare: tokio::sync::Mutex<Option<Arc<Child>>>,
}

impl Sessions {
    /// No sessions yet; [`Sessions::refill_spare`] starts the warm spare.
    pub fn new(settings: SessionSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            open: Mutex::default(),
            reserved: Mutex::new(0),
            spare: tokio::sync::Mutex::new(None),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// Sessions open now.
    pub fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// A new child (not one of a session), for a readiness check or the spare.
    pub fn spawn_child(&self) -> Result<Arc<Child>, OpenError> {
        Child::spawn(&self.settings.command, self.settings.max_message_bytes)
            .map_err(|e| OpenError::Spawn(e.to_string()))
    }

    /// Start a spare child unless one is waiting.
    pub async fn refill_spare(&self) {
        let mut spare = self.spare.lock().await;
        if spare.as_ref().is_some_and(|child| child.is_alive()) {
            return;
        }
        match self.spawn_child() {
            Ok(child) => *spare = Some(child),
            Err(e) => tracing::warn!("no warm spare: {e}"),
        }
    }

    /// Open a session under `id`: the warm spare's child if it is alive, else a new one.
    pub async fn open(self: &Arc<Self>, id: &str) -> Result<Arc<Session>, OpenError> {
        // The place is taken under the lock that counts, so concurrent opens never pass the
        // cap; it is given back if no child can be had.
        {
            let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
            if self.count() + *reserved >= self.settings.max_sessions {
                return Err(OpenError::Full(self.settings.max_sessions));
            }
            *reserved += 1;
        }
        let release = || {
            let mut reserved = self.reserved.lock().unwrap_or_else(|p| p.into_inner());
            *reserved = reserved.saturating_sub(1);
        };
        let spare = self.spare.lock().await.take();
        let child = match spare.filter(|child| child.is_alive()) {
            Some(child) => child,
            None => match self.spawn_child() {
                Ok(child) => child,
                Err(e) => {
                    release();
                    return Err(e);
                }
            },
        };
        let this = self.clone();
        tokio::spawn(async move { this.refill_spare().await });
        let session = Arc::new(Session {
            child,
            last_used: Mutex::new(Instant::now()),
            busy: Default::default(),
        });
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_owned(), session.clone());
        release();
        Ok(session)
    }

    /// The session `id`, if it is open and its child alive.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        let session = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()?;
        session.child.is_alive().then_some(session)
    }

    /// Close the session `id` and end its child. False when there was none.
    pub async fn close(&self, id: &str) -> bool {
        let session = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        match session {
            Some(session) => {
                session.child.terminate().await;
                true
            }
            None => false,
        }
    }

    /// Close sessions idle past the timeout, and those whose child has exited.
    pub async fn reap(&self) {
        let timeout = self.settings.idle_timeout;
        let stale: Vec<String> = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, s)| !s.child.is_alive() || s.idle_for() >= timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            tracing::info!(session = %id, "closing an idle or ended session");
            self.close(&id).await;
        }
    }

    /// End every child (shutdown).
    pub async fn close_all(&self) {
        let ids: Vec<String> = self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        for id in ids {
            self.close(&id).await;
        }
        if let Some(spare) = self.spare.lock().await.take() {
            spare.terminate().await;
        }
    }
}
