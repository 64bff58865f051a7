//! The checks every `/mcp` request passes before its message is read: the endpoint is on,
//! a browser's origin is allowed, the body is JSON within the limit, a session-era version
//! header is one this endpoint speaks.

use axum::{
    body::Bytes,
    http::{HeaderMap, StatusCode, header},
};

use super::{
    VERSIONS,
    rpc::{INVALID_REQUEST, RpcError},
};
use crate::{config::EndpointConfig, state::AppState};

/// DNS rebinding: a browser's request carries `Origin`; only localhost origins and the
/// configured ones may use the endpoint. Clients that are not browsers send none.
pub fn check_origin(headers: &HeaderMap, config: &EndpointConfig) -> Result<(), RpcError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("");
    let host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    if local || config.allowed_origins.iter().any(|o| o == origin) {
        return Ok(());
    }
    Err(RpcError::http(
        StatusCode::FORBIDDEN,
        INVALID_REQUEST,
        format!("origin `{origin:.100}` is not allowed; add it to mcp.endpoint.allowed_origins"),
    ))
}

pub fn check_enabled(state: &AppState) -> Result<(), RpcError> {
    if state.config().mcp.endpoint.enabled {
        Ok(())
    } else {
        Err(RpcError::http(
            StatusCode::NOT_FOUND,
            INVALID_REQUEST,
            "the MCP endpoint is off (mcp.endpoint.enabled: false)",
        ))
    }
}

pub fn check_version_header(headers: &HeaderMap) -> Result<(), RpcError> {
    match headers
        .get("mcp-protocol-version")
        .map(|v| v.to_str().unwrap_or(""))
    {
        Some(version) if !VERSIONS.contains(&version) => Err(RpcError::http(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            format!(
                "`MCP-Protocol-Version: {version:.40}` is not supported here; supported: {}",
                VERSIONS.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// The limits every body route keeps: `server.max_body_bytes` (413) and JSON (415).
pub fn check_body(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<(), RpcError> {
    let limit = state.config().server.max_body_bytes.as_u64();
    if body.len() as u64 > limit {
        return Err(RpcError::http(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            format!("the body is larger than server.max_body_bytes ({limit} bytes)"),
        ));
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(RpcError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            "send the JSON-RPC message with `Content-Type: application/json`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_origins_other_than_localhost_and_the_configured_are_refused() {
        let config = EndpointConfig {
            allowed_origins: vec!["https://app.example.com".into()],
            ..Default::default()
        };
        let with = |origin: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ORIGIN, origin.parse().unwrap());
            check_origin(&headers, &config)
        };
        assert!(check_origin(&HeaderMap::new(), &config).is_ok());
        for ok in [
            "http://localhost:3000",
            "http://127.0.0.1",
            "http://[::1]:8080",
            "https://app.example.com",
        ] {
            assert!(with(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "null",
            "https://app.example.com.evil",
        ] {
            assert_eq!(
                with(bad).unwrap_err().status,
                StatusCode::FORBIDDEN,
                "{bad}"
            );
        }
    }
}
