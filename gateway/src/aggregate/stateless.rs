//! The 2026-07-28 era of `/mcp`: stateless requests. Each request carries its protocol
//! version, the client's capabilities and (a SHOULD) its identity in `params._meta`, and its
//! method and name again in `Mcp-Method`/`Mcp-Name` headers, which must agree with the body
//! (a proxy may route on the headers; a disagreement is refused, never guessed). There is
//! no session: `server/discover` says what the gateway offers, and every result says its
//! `resultType` and, for lists and reads, how long it may be cached and by whom.

use axum::http::{HeaderMap, StatusCode};
use llamagate_mcp::param_headers;
use serde_json::{Map, Value, json};

use super::{VERSIONS, catalog::View, rpc::RpcError};

/// The stateless revision.
pub const VERSION: &str = "2026-07-28";

/// `HeaderMismatch`: a routing header is missing or disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// `MissingRequiredClientCapability`: the request needs a capability the client lacks.
pub const MISSING_CAPABILITY: i64 = -32021;
/// `UnsupportedProtocolVersion`.
pub const UNSUPPORTED_VERSION: i64 = -32022;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// Methods of the session era that the stateless one removed.
const REMOVED: [&str; 5] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Every version this endpoint speaks, newest first (what `server/discover` and a version
/// error list).
pub fn supported_versions() -> Vec<&'static str> {
    std::iter::once(VERSION).chain(VERSIONS).collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{fffd}"))
}

/// True when a request belongs to the stateless era: it has no session, and its
/// `MCP-Protocol-Version` is not a session-era one (absent only for `initialize`, the
/// session era's first message).
pub fn applies(headers: &HeaderMap, method: &str) -> bool {
    if headers.contains_key("mcp-session-id") {
        return false;
    }
    match header(headers, "mcp-protocol-version") {
        Some(version) => !VERSIONS.contains(&version.trim()),
        None => method != "initialize",
    }
}

fn bad_request(code: i64, message: impl Into<String>) -> RpcError {
    RpcError::http(StatusCode::BAD_REQUEST, code, message)
}

/// What a checked stateless request declared.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    /// `clientCapabilities`: what the gateway may ask of this client.
    pub capabilities: Map<String, Value>,
    /// The `Mcp-Param-*` headers sent (lower-case names), checked against the called
    /// tool's arguments.
    pub param_headers: Vec<(String, String)>,
}

/// Check a stateless request's version, `_meta` and routing headers, in the order the
/// spec gives them; the error names what to send.
pub fn check(headers: &HeaderMap, method: &str, params: &Value) -> Result<Declared, RpcError> {
    let version = header(headers, "mcp-protocol-version").map(str::trim).ok_or_else(|| {
        bad_request(
            HEADER_MISMATCH,
            "the `MCP-Protocol-Version` header is missing: a 2026-07-28 client sends it with every request; a 2025-era client sends `initialize` first and then its `Mcp-Session-Id`",
        )
    })?;
    let meta = params.get("_meta").and_then(Value::as_object);
    let missing: Vec<&str> = [META_VERSION, META_CAPABILITIES]
        .into_iter()
        .filter(|key| meta.and_then(|m| m.get(*key)).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(bad_request(
            super::rpc::INVALID_PARAMS,
            format!(
                "`params._meta` lacks {}: a 2026-07-28 request carries its protocol version and the client's capabilities in every request",
                missing.join(" and ")
            ),
        ));
    }
    let meta = meta.expect("checked above");
    let declared = meta[META_VERSION].as_str().unwrap_or("");
    if declared != version {
        return Err(bad_request(
            HEADER_MISMATCH,
            format!(
                "`MCP-Protocol-Version: {version:.40}` disagrees with `params._meta[\"{META_VERSION}\"]` (`{declared:.40}`): send the same version in both"
            ),
        ));
    }
    if version != VERSION {
        return Err(bad_request(
            UNSUPPORTED_VERSION,
            format!("protocol version `{version:.40}` is not supported here"),
        )
        .with_data(json!({"supported": supported_versions(), "requested": version})));
    }
    check_routing_headers(headers, method, params)?;
    let capabilities = meta[META_CAPABILITIES]
        .as_object()
        .cloned()
        .ok_or_else(|| {
            bad_request(
                super::rpc::INVALID_PARAMS,
                format!("`params._meta[\"{META_CAPABILITIES}\"]` must be an object"),
            )
        })?;
    let param_headers = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("mcp-param-"))
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or("\u{fffd}").trim().to_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    Ok(Declared {
        capabilities,
        param_headers,
    })
}

/// SEP-2243: each `Mcp-Param-*` header the tool's schema asks for (`expected`, from the
/// call's arguments) is sent, and decodes to the same value; one missing, undecodable or
/// different is refused with -32020 (HTTP 400).
pub fn check_param_headers(
    declared: &Declared,
    expected: &[(axum::http::HeaderName, axum::http::HeaderValue)],
) -> Result<(), RpcError> {
    for (name, value) in expected {
        let want = value.to_str().ok().and_then(param_headers::decode);
        let sent = declared
            .param_headers
            .iter()
            .find(|(sent, _)| sent == name.as_str())
            .map(|(_, value)| param_headers::decode(value));
        match sent {
            Some(got) if got.is_some() && got == want => {}
            None => {
                return Err(bad_request(
                    HEADER_MISMATCH,
                    format!(
                        "the `{name}` header is missing: this tool's schema asks for its argument in it too"
                    ),
                ));
            }
            Some(_) => {
                return Err(bad_request(
                    HEADER_MISMATCH,
                    format!(
                        "the `{name}` header disagrees with its argument (or is not valid `=?base64?…?=`)"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `Mcp-Method` always, `Mcp-Name` for the methods that name a tool, prompt or resource:
/// present and equal to the body (values case-sensitive, surrounding whitespace ignored,
/// `=?base64?…?=` decoded).
fn check_routing_headers(
    headers: &HeaderMap,
    method: &str,
    params: &Value,
) -> Result<(), RpcError> {
    let sent = header(headers, "mcp-method").map(str::trim);
    if sent != Some(method) {
        return Err(bad_request(
            HEADER_MISMATCH,
            match sent {
                None => {
                    format!("the `Mcp-Method` header is missing: send `Mcp-Method: {method:.80}`")
                }
                Some(other) => format!(
                    "`Mcp-Method: {other:.80}` disagrees with the body's method `{method:.80}`"
                ),
            },
        ));
    }
    let field = match method {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return Ok(()),
    };
    let Some(expected) = params.get(field).and_then(Value::as_str) else {
        // The method's own checks name the missing field.
        return Ok(());
    };
    let sent = header(headers, "mcp-name").map(|v| param_headers::decode(v.trim()));
    match sent {
        Some(Some(name)) if name == expected => Ok(()),
        None => Err(bad_request(
            HEADER_MISMATCH,
            format!("the `Mcp-Name` header is missing: send `params.{field}` in it too"),
        )),
        Some(_) => Err(bad_request(
            HEADER_MISMATCH,
            format!("the `Mcp-Name` header disagrees with `params.{field}`"),
        )),
    }
}

/// A method the stateless era removed or never had: HTTP 404 with -32601.
pub fn unknown_method(method: &str) -> RpcError {
    let message = if REMOVED.contains(&method) {
        format!("`{method}` is not part of protocol version {VERSION} (it has no sessions)")
    } else {
        format!("`{method:.80}` is not a method this endpoint serves")
    };
    RpcError::http(StatusCode::NOT_FOUND, super::rpc::METHOD_NOT_FOUND, message)
}

fn server_info() -> Value {
    json!({"name": "llamagate", "title": "LlamaGate", "version": env!("CARGO_PKG_VERSION")})
}

/// The capabilities of a view, both eras (`listChanged` reaches clients on their change
/// streams: GET for sessions, `subscriptions/listen` here).
pub fn capabilities() -> Value {
    json!({
        "tools": {"listChanged": true},
        "prompts": {"listChanged": true},
        "resources": {"listChanged": true},
        "completions": {},
    })
}

/// `server/discover`.
pub fn discover(view: &View) -> Value {
    json!({
        "supportedVersions": supported_versions(),
        "capabilities": capabilities(),
        "instructions": super::dispatch::instructions(view),
        "ttlMs": 0,
        "cacheScope": "private",
    })
}

/// How long a result may be cached, and by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheHint {
    /// `ttlMs`.
    pub ttl_ms: u64,
    /// `cacheScope: private`.
    pub private: bool,
}

impl CacheHint {
    /// Not to be reused.
    pub const NONE: CacheHint = CacheHint {
        ttl_ms: 0,
        private: true,
    };
}

/// A stateless result as the client gets it: `resultType` (kept when an upstream said
/// `input_required`), the gateway named in `_meta`, and the caching hint of lists and reads
/// (an upstream's own hint on a read is kept).
pub fn finish(mut result: Value, hint: Option<CacheHint>) -> Value {
    let Some(object) = result.as_object_mut() else {
        return result;
    };
    object
        .entry("resultType")
        .or_insert_with(|| json!("complete"));
    if let Some(hint) = hint {
        object.entry("ttlMs").or_insert_with(|| json!(hint.ttl_ms));
        object
            .entry("cacheScope")
            .or_insert_with(|| json!(if hint.private { "private" } else { "public" }));
    }
    let meta = object
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert(META_SERVER_INFO.into(), server_info());
    }
    result
}

#[cfg(test)]
#[path = "stateless_tests.rs"]
mod tests;
