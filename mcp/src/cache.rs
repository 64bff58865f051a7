//! TTL cache of one server's list results (tools, resources, templates, prompts).
//!
//! * A server's `ttlMs` hint is honoured but capped by the configured TTL; without a hint the
//!   configured TTL applies.
//! * `cacheScope: private` results are stored per principal (API key), never shared.
//! * Concurrent misses of one list are coalesced into one upstream request: the loader runs
//!   under the list's async lock, and waiters find the fresh value when they get the lock.
//! * `invalidate` (a `list_changed` notification, a restart) drops the value and makes a load
//!   that started before it unable to store its now-stale result, and tells whoever follows
//!   [`ListCache::changes`] (the `/mcp` endpoint's change streams).

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

/// Which list a cache entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    /// `tools/list`
    Tools,
    /// `resources/list`
    Resources,
    /// `resources/templates/list`
    ResourceTemplates,
    /// `prompts/list`
    Prompts,
}

impl ListKind {
    /// Label used in metrics and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Resources => "resources",
            ListKind::ResourceTemplates => "resource_templates",
            ListKind::Prompts => "prompts",
        }
    }
}

/// Who may reuse a result, as the server declared it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheScope {
    /// Any caller (also: the server said nothing).
    #[default]
    Shared,
    /// Only the caller it was fetched for.
    Private,
}

/// A loaded list with the server's caching hints.
#[derive(Debug, Clone)]
pub struct Loaded<V> {
    /// The list.
    pub value: V,
    /// The server's `ttlMs`, if it sent one.
    pub ttl_hint: Option<Duration>,
    /// The server's `cacheScope`.
    pub scope: CacheScope,
}

/// Whether a lookup was answered from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Fresh value found.
    Hit,
    /// Loaded from the server.
    Miss,
}

#[derive(Debug)]
struct Stored<V> {
    value: V,
    expires: Instant,
    stored_at: Instant,
}

type Slot<V> = Arc<tokio::sync::Mutex<Option<Stored<V>>>>;

/// The cache of one server (public for the micro-benchmark of a lookup, `benches/`).
#[derive(Debug)]
pub struct ListCache<V> {
    shared: Mutex<HashMap<ListKind, Slot<V>>>,
    private: Mutex<HashMap<(ListKind, String), Stored<V>>>,
    generation: AtomicU64,
    changes: tokio::sync::broadcast::Sender<ListKind>,
}

impl<V: Clone> Default for ListCache<V> {
    fn default() -> Self {
        Self {
            shared: Mutex::default(),
            private: Mutex::default(),
            generation: AtomicU64::new(0),
            // A follower that falls this far behind is told it lagged and re-lists.
            changes: tokio::sync::broadcast::channel(16).0,
        }
    }
}

impl<V: Clone> ListCache<V> {
    /// A fresh value of `kind` for `principal`, or the result of `load`, which is then stored
    /// for at most `max_ttl`.
    pub async fn get_or_load<E, F, Fut>(
        &self,
        kind: ListKind,
        principal: &str,
        max_ttl: Duration,
        load: F,
    ) -> Result<(V, Lookup), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Loaded<V>, E>>,
    {
        if let Some(value) = self.private_hit(kind, principal) {
            return Ok((value, Lookup::Hit));
        }
        let slot = self.slot(kind);
        let mut guard = slot.lock().await;
        let now = Instant::now();
        if let Some(stored) = guard.as_ref().filter(|s| s.expires > now) {
            return Ok((stored.value.clone(), Lookup::Hit));
        }
        // A private result may have been stored by a load we waited for.
        if let Some(value) = self.private_hit(kind, principal) {
            return Ok((value, Lookup::Hit));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let loaded = load().await?;
        let ttl = loaded.ttl_hint.map_or(max_ttl, |hint| hint.min(max_ttl));
        let now = Instant::now();
        let stored = Stored {
            value: loaded.value.clone(),
            expires: now + ttl,
            stored_at: now,
        };
        if !ttl.is_zero() && self.generation.load(Ordering::Acquire) == generation {
            match loaded.scope {
                CacheScope::Shared => *guard = Some(stored),
                CacheScope::Private => {
                    self.private
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert((kind, principal.to_owned()), stored);
                }
            }
        }
        Ok((loaded.value, Lookup::Miss))
    }

    /// Drop the cached `kind` (every principal's), e.g. on `notifications/tools/list_changed`.
    pub fn invalidate(&self, kind: ListKind) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        // No follower is not an error.
        let _ = self.changes.send(kind);
        let slot = self
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kind)
            .cloned();
        if let Some(slot) = slot {
            match slot.try_lock() {
                Ok(mut guard) => *guard = None,
                // A load holds the lock: give later readers a new slot; the generation
                // check keeps the load from storing its stale result.
                Err(_) => {
                    self.shared
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&kind);
                }
            }
        }
        self.private
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(k, _), _| *k != kind);
    }

    /// Drop everything (restart, reconnect to a different server).
    pub fn clear(&self) {
        for kind in [
            ListKind::Tools,
            ListKind::Resources,
            ListKind::ResourceTemplates,
            ListKind::Prompts,
        ] {
            self.invalidate(kind);
        }
    }

    /// Age of the shared entry of `kind`, if one is fresh (for the management API).
    pub fn age(&self, kind: ListKind) -> Option<Duration> {
        let slot = self
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kind)
            .cloned()?;
        let guard = slot.try_lock().ok()?;
        let now = Instant::now();
        guard
            .as_ref()
            .filter(|s| s.expires > now)
            .map(|s| now - s.stored_at)
    }

    /// Every invalidation from now on (a `list_changed` from the server, a restart).
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<ListKind> {
        self.changes.subscribe()
    }

    /// How much longer the value `principal` would get for `kind` stays fresh, and whether
    /// it is private to them: `None` when nothing fresh is stored (the next lookup loads).
    pub fn freshness(&self, kind: ListKind, principal: &str) -> Option<(Duration, CacheScope)> {
        let now = Instant::now();
        let private = self.private.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stored) = private.get(&(kind, principal.to_owned()))
            && stored.expires > now
        {
            return Some((stored.expires - now, CacheScope::Private));
        }
        drop(private);
        let slot = self
            .shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kind)
            .cloned()?;
        let guard = slot.try_lock().ok()?;
        guard
            .as_ref()
            .filter(|s| s.expires > now)
            .map(|s| (s.expires - now, CacheScope::Shared))
    }

    fn slot(&self, kind: ListKind) -> Slot<V> {
        self.shared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(kind)
            .or_default()
            .clone()
    }

    fn private_hit(&self, kind: ListKind, principal: &str) -> Option<V> {
        let now = Instant::now();
        let mut private = self.private.lock().unwrap_or_else(|p| p.into_inner());
        let key = (kind, principal.to_owned());
        match private.get(&key) {
            Some(stored) if stored.expires > now => Some(stored.value.clone()),
            Some(_) => {
                private.remove(&key);
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
