//! API keys and scopes. Keys come from configuration (plain or `sha256:` hashed) and are
//! compared as SHA-256 digests in constant time; they arrive as `Authorization: Bearer` or
//! `X-API-Key`. No keys configured means the gateway is open.

use std::sync::Arc;

use axum::{extract::FromRequestParts, http::request::Parts};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{
    config::{AuthConfig, Scope},
    error::ApiError,
    state::AppState,
};

/// A configured key, ready for comparison.
#[derive(Debug, Clone)]
struct KeyEntry {
    digest: [u8; 32],
    principal: Principal,
}

/// Who is calling and what they may do.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The key's name (or `key-<n>`), for logs and cache partitions; never the key.
    pub name: Arc<str>,
    /// Granted scopes.
    pub scopes: Vec<Scope>,
    /// Servers the key may use; `None` for all.
    pub servers: Option<Vec<String>>,
}

impl Principal {
    /// The principal of an open gateway (no keys configured).
    pub fn anonymous() -> Self {
        Self {
            name: Arc::from("anonymous"),
            scopes: Scope::all(),
            servers: None,
        }
    }

    /// 403 unless the principal has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this API key lacks the `{}` scope",
                scope_name(scope)
            )))
        }
    }

    /// Whether the key may see `server` (others look like 404).
    pub fn may_use(&self, server: &str) -> bool {
        self.servers
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|s| s == server))
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Chat => "chat",
        Scope::McpRead => "mcp:read",
        Scope::McpCall => "mcp:call",
        Scope::Admin => "admin",
    }
}

/// The configured keys.
#[derive(Debug, Clone, Default)]
pub struct Keys(Vec<KeyEntry>);

impl Keys {
    /// Prepare the keys of `auth`.
    pub fn new(auth: &AuthConfig) -> Self {
        let entries = auth
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let value = key.key.expose();
                let digest = match value.strip_prefix("sha256:").and_then(decode_hex) {
                    Some(digest) => digest,
                    None => Sha256::digest(value.as_bytes()).into(),
                };
                let name = key.name.clone().unwrap_or_else(|| format!("key-{i}"));
                KeyEntry {
                    digest,
                    principal: Principal {
                        name: Arc::from(name),
                        scopes: key.scopes.clone(),
                        servers: key.servers.clone(),
                    },
                }
            })
            .collect();
        Self(entries)
    }

    /// True when no keys are configured (the gateway is open).
    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// The principal of a presented key. Every entry is compared, so timing does not reveal
    /// which one matched.
    pub fn authenticate(&self, presented: &str) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for entry in &self.0 {
            if bool::from(entry.digest.ct_eq(&digest)) {
                found = Some(entry.principal.clone());
            }
        }
        found
    }
}

/// Every route's scope, checked in one place before any extractor reads the body: a key
/// without the scope gets 403 whatever it sends (the route table is the one the OpenAPI
/// document is generated from). The principal is left in the request for the handler.
pub async fn require_route_scope(
    axum::extract::State(state): axum::extract::State<AppState>,
    matched: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let scope = matched.and_then(|path| {
        crate::api::openapi::ROUTES
            .iter()
            .find(|route| {
                route.path == path.as_str()
                    && route.method.eq_ignore_ascii_case(request.method().as_str())
            })
            .and_then(|route| route.scope)
    });
    let Some(scope) = scope else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let principal = match Principal::from_request_parts(&mut parts, &state).await {
        Ok(principal) => principal,
        Err(refused) => return refused.into_response(),
    };
    if let Err(refused) = principal.require(scope) {
        return refused.into_response();
    }
    parts.extensions.insert(principal);
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// The key a request presents: `Authorization: Bearer <key>` (the scheme in any case, as
/// RFC 9110 says) or `X-API-Key: <key>`. The one parser of credentials: authentication and
/// the per-key rate limit both read the key through it.
pub fn presented_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, credentials) = v.trim_start().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(credentials.trim())
        });
    let api_key = || {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    bearer.or_else(api_key).filter(|key| !key.is_empty())
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let keys = state.keys();
        if keys.is_open() {
            return Ok(Principal::anonymous());
        }
        // The rate limiter authenticated the request already (`limits.rs`).
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let presented = presented_key(&parts.headers).ok_or_else(|| {
            ApiError::Unauthorized(
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
                    .into(),
            )
        })?;
        keys.authenticate(presented)
            .ok_or_else(|| ApiError::Unauthorized("the API key is not valid".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApiKeyConfig, Secret};

    fn keys() -> Keys {
        let hashed = format!("sha256:{:x}", Sha256::digest(b"hashed-key-0123456789"));
        Keys::new(&AuthConfig {
            keys: vec![
                ApiKeyConfig {
                    name: Some("reader".into()),
                    key: Secret::new("reader-key-0123456789"),
                    scopes: vec![Scope::McpRead],
                    servers: Some(vec!["time".into()]),
                },
                ApiKeyConfig {
                    name: None,
                    key: Secret::new(hashed),
                    scopes: Scope::all(),
                    servers: None,
                },
            ],
            keys_file: None,
        })
    }

    #[test]
    fn plain_and_hashed_keys_authenticate() {
        let keys = keys();
        let reader = keys.authenticate("reader-key-0123456789").unwrap();
        assert_eq!(&*reader.name, "reader");
        assert!(reader.may_use("time") && !reader.may_use("other"));
        assert!(reader.require(Scope::Admin).is_err());
        let admin = keys.authenticate("hashed-key-0123456789").unwrap();
        assert!(admin.require(Scope::Admin).is_ok());
        assert!(keys.authenticate("sha256:anything").is_none());
        assert!(keys.authenticate("").is_none());
    }

    #[test]
    fn one_parser_reads_every_form_of_a_presented_key() {
        let headers = |name: &str, value: &str| {
            let mut map = axum::http::HeaderMap::new();
            map.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
            map
        };
        for (name, value) in [
            ("authorization", "Bearer k1"),
            ("authorization", "bearer k1"),
            ("authorization", "BEARER   k1 "),
            ("x-api-key", " k1"),
        ] {
            assert_eq!(presented_key(&headers(name, value)), Some("k1"), "{value}");
        }
        for (name, value) in [
            ("authorization", "Basic azE6"),
            ("authorization", "Bearer "),
            ("authorization", "Bearerk1"),
            ("x-api-key", ""),
        ] {
            assert_eq!(presented_key(&headers(name, value)), None, "{value}");
        }
    }
}
