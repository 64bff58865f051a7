//! Sessions of one server. Legacy servers get `size` initialized sessions, each carrying up
//! to `max_in_flight` concurrent requests (multiplexed by JSON-RPC id); a stateless server
//! or a stdio process is one session, which carries all of the pool's permits (`size ×
//! max_in_flight` for a stateless server: its requests are independent POSTs). A call waits at most `acquire_timeout` for a slot,
//! then fails with "pool exhausted": there is no unbounded queue.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::session::SharedSession;

struct Slot {
    session: Mutex<Option<SharedSession>>,
    in_flight: AtomicUsize,
}

/// The session pool of one server.
pub struct Pool {
    slots: Vec<Slot>,
    /// The slots in use: all of them, or only the first once the server proved stateless.
    active: AtomicUsize,
    capacity: Semaphore,
    total_permits: usize,
    waiting: AtomicUsize,
    acquire_timeout: Duration,
}

/// Why no session could be had.
#[derive(Debug, PartialEq, Eq)]
pub enum AcquireError {
    /// Every call slot stayed busy for the whole acquire timeout.
    Exhausted { capacity: usize, waited: Duration },
    /// No session is open (the server is down or not yet connected).
    NoSession,
}

/// A session lent to one call; dropping it returns the slot.
pub struct Lease<'a> {
    session: SharedSession,
    slot: &'a Slot,
    index: usize,
    _permit: SemaphorePermit<'a>,
}

impl Lease<'_> {
    /// The leased session.
    pub fn session(&self) -> &SharedSession {
        &self.session
    }

    /// Index of the session in the pool (to drop it when it broke).
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.slot.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Occupancy of a pool, for metrics and the API.
#[derive(Debug, Clone, Copy, serde::Serialize, PartialEq, Eq)]
pub struct PoolStats {
    /// Sessions open.
    pub sessions: usize,
    /// Sessions the pool aims to keep open.
    pub size: usize,
    /// Requests in flight.
    pub in_use: usize,
    /// Free call slots on open sessions.
    pub idle: usize,
    /// Calls waiting for a slot.
    pub waiting: usize,
}

impl Pool {
    /// A pool of `size` sessions with `max_in_flight` requests each.
    pub fn new(size: usize, max_in_flight: usize, acquire_timeout: Duration) -> Self {
        let size = size.max(1);
        let total_permits = size * max_in_flight.max(1);
        Self {
            slots: (0..size)
                .map(|_| Slot {
                    session: Mutex::new(None),
                    in_flight: AtomicUsize::new(0),
                })
                .collect(),
            active: AtomicUsize::new(size),
            capacity: Semaphore::new(total_permits),
            total_permits,
            waiting: AtomicUsize::new(0),
            acquire_timeout,
        }
    }

    /// Lend the least busy open session.
    pub async fn acquire(&self) -> Result<Lease<'_>, AcquireError> {
        if self.open_sessions() == 0 {
            return Err(AcquireError::NoSession);
        }
        self.waiting.fetch_add(1, Ordering::AcqRel);
        let permit = tokio::time::timeout(self.acquire_timeout, self.capacity.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(AcquireError::Exhausted {
                    capacity: self.total_permits,
                    waited: self.acquire_timeout,
                });
            }
        };
        let chosen = self
            .active_slots()
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| {
                let session = slot
                    .session
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()?;
                (!session.is_closed()).then_some((index, slot, session))
            })
            .min_by_key(|(_, slot, _)| slot.in_flight.load(Ordering::Acquire));
        let (index, slot, session) = chosen.ok_or(AcquireError::NoSession)?;
        slot.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(Lease {
            session,
            slot,
            index,
            _permit: permit,
        })
    }

    /// Put `session` in slot `index`, returning what was there.
    pub fn install(&self, index: usize, session: SharedSession) -> Option<SharedSession> {
        self.slots[index]
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .replace(session)
    }

    /// Remove the session of slot `index` if it is still `broken` (another task may already
    /// have replaced it).
    pub fn evict(&self, index: usize, broken: &SharedSession) -> Option<SharedSession> {
        let mut guard = self.slots[index]
            .session
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_some_and(|s| Arc::ptr_eq(s, broken)) {
            guard.take()
        } else {
            None
        }
    }

    fn active_slots(&self) -> &[Slot] {
        let active = self
            .active
            .load(Ordering::Acquire)
            .clamp(1, self.slots.len());
        &self.slots[..active]
    }

    /// Use one session (`single`: a stateless server) or all `size`; the sessions of the
    /// slots given up, to be closed.
    pub fn set_single(&self, single: bool) -> Vec<SharedSession> {
        let active = if single { 1 } else { self.slots.len() };
        self.active.store(active, Ordering::Release);
        self.slots[active..]
            .iter()
            .filter_map(|slot| {
                slot.session
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
            })
            .collect()
    }

    /// Slots in use whose session is missing or closed.
    pub fn vacant_slots(&self) -> Vec<usize> {
        self.active_slots()
            .iter()
            .enumerate()
            .filter(|(_, slot)| {
                slot.session
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .is_none_or(|s| s.is_closed())
            })
            .map(|(index, _)| index)
            .collect()
    }

    /// Number of open sessions.
    pub fn open_sessions(&self) -> usize {
        self.active_slots().len() - self.vacant_slots().len()
    }

    /// Any open session (for probes).
    pub fn any_session(&self) -> Option<SharedSession> {
        self.sessions().into_iter().next()
    }

    /// Every open session.
    pub fn sessions(&self) -> Vec<SharedSession> {
        self.active_slots()
            .iter()
            .filter_map(|slot| {
                slot.session
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone()
            })
            .filter(|s| !s.is_closed())
            .collect()
    }

    /// Take every session out (restart, stop).
    pub fn take_all(&self) -> Vec<SharedSession> {
        self.slots
            .iter()
            .filter_map(|slot| {
                slot.session
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
            })
            .collect()
    }

    /// Wait until no request is in flight, at most `grace`. Returns true when drained.
    pub async fn drain(&self, grace: Duration) -> bool {
        let total = u32::try_from(self.total_permits).unwrap_or(u32::MAX);
        match tokio::time::timeout(grace, self.capacity.acquire_many(total)).await {
            Ok(Ok(all)) => {
                drop(all);
                true
            }
            _ => false,
        }
    }

    /// Current occupancy.
    pub fn stats(&self) -> PoolStats {
        let sessions = self.open_sessions();
        let in_use: usize = self
            .slots
            .iter()
            .map(|s| s.in_flight.load(Ordering::Acquire))
            .sum();
        let size = self.active_slots().len();
        let per_session = self.total_permits / size;
        PoolStats {
            sessions,
            size,
            in_use,
            idle: (sessions * per_session).saturating_sub(in_use),
            waiting: self.waiting.load(Ordering::Acquire),
        }
    }
}
