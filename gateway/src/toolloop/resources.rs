//! `mcp_resource` content blocks: `{"type": "mcp_resource", "uri": "mcp://<server>/<uri>"}`
//! in a message is read (through the server) and replaced by its text, or by an `image_url`
//! data URL for an image blob, before the upstream sees the message.

use serde_json::{Map, Value, json};

use crate::{auth::Principal, error::ApiError, state::AppState};

/// Replace every `mcp_resource` block of `messages`.
pub async fn inline(
    state: &AppState,
    principal: &Principal,
    messages: &mut [Value],
) -> Result<(), ApiError> {
    for message in messages.iter_mut() {
        let Some(parts) = message.get_mut("content").and_then(Value::as_array_mut) else {
            continue;
        };
        for part in parts.iter_mut() {
            if part["type"] != "mcp_resource" {
                continue;
            }
            let uri = part["uri"].as_str().ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_mcp_resource",
                    "an `mcp_resource` block needs a `uri`",
                )
            })?;
            *part = read(state, principal, uri).await?;
        }
    }
    Ok(())
}

/// `mcp://<server>/<resource uri>` as (server, resource URI).
pub(crate) fn parse_reference(reference: &str) -> Result<(&str, &str), ApiError> {
    reference
        .strip_prefix("mcp://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(s, u)| !s.is_empty() && !u.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_mcp_resource",
                format!("`{reference}` is not mcp://<server>/<resource uri>"),
            )
        })
}

async fn read(state: &AppState, principal: &Principal, reference: &str) -> Result<Value, ApiError> {
    let (server_name, uri) = parse_reference(reference)?;
    let server =
        crate::policy::server_for(state.registry(), principal, server_name).ok_or_else(|| {
            ApiError::bad_request(
                "unknown_mcp_server",
                format!("{reference}: no MCP server named `{server_name}`"),
            )
        })?;
    let result =
        server
            .read_resource(uri, Map::new())
            .await
            .map_err(|e| match ApiError::from(e) {
                ApiError::BadRequest { message, .. } | ApiError::BadGateway { message, .. } => {
                    ApiError::bad_request(
                        "unreadable_mcp_resource",
                        format!("{reference}: {message}"),
                    )
                }
                other => other,
            })?;
    let contents = result["contents"].as_array().cloned().unwrap_or_default();
    let mut texts = Vec::new();
    for content in &contents {
        if let Some(text) = content["text"].as_str() {
            texts.push(text.to_owned());
        } else if let Some(blob) = content["blob"].as_str() {
            let mime = content["mimeType"]
                .as_str()
                .unwrap_or("application/octet-stream");
            if mime.starts_with("image/") && contents.len() == 1 {
                return Ok(
                    json!({"type": "image_url", "image_url": {"url": format!("data:{mime};base64,{blob}")}}),
                );
            }
            return Err(ApiError::bad_request(
                "unsupported_mcp_resource",
                format!(
                    "{reference} is binary ({mime}); only text and single images can be put in a message"
                ),
            ));
        }
    }
    Ok(json!({"type": "text", "text": texts.join("\n")}))
}
