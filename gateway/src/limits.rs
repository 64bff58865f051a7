//! Runtime protection of the HTTP surface: token-bucket rate limits (global and per API
//! key, with `Retry-After`), bounded concurrency per route group (503 when full, never an
//! unbounded queue), and a timeout on producing the response head.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use axum::{
    extract::{DefaultBodyLimit, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tower::{Layer, ServiceExt};

use crate::{
    auth::{Keys, presented_key},
    config::Config,
    error::ApiError,
    state::AppState,
};

type Direct = RateLimiter<governor::state::NotKeyed, governor::state::InMemoryState, DefaultClock>;
type Keyed = RateLimiter<[u8; 16], DefaultKeyedStateStore<[u8; 16]>, DefaultClock>;

/// The limiters of one configuration.
pub struct Limits {
    global: Option<Direct>,
    per_key: Option<Keyed>,
    chat: Arc<Semaphore>,
    mcp: Arc<Semaphore>,
    request_timeout: Duration,
    max_body_bytes: usize,
}

fn quota(rate: f64, burst: u32) -> Option<Quota> {
    if rate <= 0.0 {
        return None;
    }
    let burst = NonZeroU32::new(burst.max(1)).expect("at least one");
    Quota::with_period(Duration::from_secs_f64(1.0 / rate)).map(|q| q.allow_burst(burst))
}

impl Limits {
    /// Limiters for `config`.
    pub fn new(config: &Config) -> Self {
        let rate = &config.rate_limit;
        Self {
            global: quota(rate.requests_per_second, rate.burst).map(RateLimiter::direct),
            per_key: quota(rate.per_key_requests_per_second, rate.per_key_burst)
                .map(RateLimiter::dashmap),
            chat: Arc::new(Semaphore::new(config.server.max_concurrent_requests)),
            mcp: Arc::new(Semaphore::new(config.server.max_concurrent_requests)),
            request_timeout: config.server.request_timeout,
            max_body_bytes: usize::try_from(config.server.max_body_bytes.as_u64())
                .unwrap_or(usize::MAX),
        }
    }

    /// True when `new` changes any setting [`Limits::new`] reads from `old`.
    pub fn settings_differ(old: &Config, new: &Config) -> bool {
        old.rate_limit != new.rate_limit || old.server != new.server
    }

    /// Keys with a per-key bucket now (bounded by the configured keys).
    pub fn tracked_keys(&self) -> usize {
        self.per_key.as_ref().map_or(0, RateLimiter::len)
    }

    fn check_rate(&self, request: &mut Request, keys: &Keys) -> Result<(), ApiError> {
        // Only a refusal needs the clock (making one reads the CPU's features: not per request).
        let refused = |not_until: governor::NotUntil<_>, whose: &str| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                message: format!(
                    "{whose} rate limit reached; retry in {} s",
                    wait.as_secs().max(1)
                ),
                retry_after_secs: wait.as_secs_f64().ceil() as u64,
            }
        };
        if let Some(global) = &self.global
            && let Err(not_until) = global.check()
        {
            return Err(refused(not_until, "the gateway's"));
        }
        if let Some(per_key) = &self.per_key
            && let Some(identity) = key_identity(request, keys)
            && let Err(not_until) = per_key.check_key(&identity)
        {
            return Err(refused(not_until, "this API key's"));
        }
        Ok(())
    }
}

/// The bucket of an authenticated key: a digest of its principal's name (buckets never hold
/// a key). Only configured keys get buckets, so their number is bounded by the
/// configuration: a request with a key that does not authenticate has none (it is refused
/// with 401 anyway), and an open gateway (no keys) has no per-key limit. The principal is
/// left in the request for the handler, which then need not authenticate again.
fn key_identity(request: &mut Request, keys: &Keys) -> Option<[u8; 16]> {
    let principal = keys.authenticate(presented_key(request.headers())?)?;
    let digest = Sha256::digest(principal.name.as_bytes());
    request.extensions_mut().insert(principal);
    let mut identity = [0u8; 16];
    identity.copy_from_slice(&digest[..16]);
    Some(identity)
}

/// Rate limits, the body limit, concurrency bounds and the response-head timeout for
/// `/v1/*`, all read from the limits in force now (a reload replaces them).
pub async fn protect(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/v1/") {
        return next.run(request).await;
    }
    let chat = path.starts_with("/v1/chat/") || path == "/v1/models";
    let limits = state.limits();
    if let Err(refused) = limits.check_rate(&mut request, &state.keys()) {
        return refused.into_response();
    }
    let group = if chat { &limits.chat } else { &limits.mcp };
    let Ok(_permit) = group.clone().try_acquire_owned() else {
        return ApiError::Unavailable {
            code: "too_many_requests_in_flight",
            message: "the gateway is serving server.max_concurrent_requests requests of this kind; retry shortly".into(),
        }
        .into_response();
    };
    // The body limit of the configuration in force: extractors read it from the request.
    let limited = DefaultBodyLimit::max(limits.max_body_bytes).layer(next);
    match tokio::time::timeout(limits.request_timeout, limited.oneshot(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(infallible)) => match infallible {},
        Err(_) => ApiError::Timeout {
            code: "request_timeout",
            message: format!(
                "the request took longer than server.request_timeout ({:?})",
                limits.request_timeout
            ),
        }
        .into_response(),
    }
}
