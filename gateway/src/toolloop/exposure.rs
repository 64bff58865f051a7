//! Which MCP tools a request shows the model, and as which functions. By default every
//! tool the exposure policy (`crate::policy`) shows the key, of every healthy server it may
//! use; `mcp://server` and `mcp://server/tool` references in `tools` narrow that to the
//! named ones. Client-defined functions pass through untouched.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use llamagate_mcp::{ServerClient, cache::ListKind, description::ToolGlobs};
use serde_json::{Value, json};

use super::naming::{NameTable, ToolRef};
use crate::{
    auth::Principal,
    error::ApiError,
    policy::{self, Listed, Source},
    state::AppState,
};

/// The tools of one request.
#[derive(Debug, Default)]
pub struct Exposure {
    /// Function names ↔ MCP tools.
    pub names: NameTable,
    /// Every tool of the request as the upstream sees it (client functions, then MCP ones).
    pub tools: Vec<Value>,
}

/// What an `mcp://` reference selects: a whole server or some of its tools.
type Selection = BTreeMap<String, Option<BTreeSet<String>>>;

fn parse_reference(uri: &str) -> Result<(String, Option<String>), ApiError> {
    let rest = uri.strip_prefix("mcp://").ok_or_else(|| {
        ApiError::bad_request(
            "invalid_mcp_reference",
            format!(
                "`{uri}` is not an mcp:// reference; use mcp://<server> or mcp://<server>/<tool>"
            ),
        )
    })?;
    let (server, tool) = match rest.split_once('/') {
        Some((server, tool)) if !tool.is_empty() => (server, Some(tool.to_owned())),
        Some((server, _)) => (server, None),
        None => (rest, None),
    };
    if server.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_mcp_reference",
            format!("`{uri}` names no server"),
        ));
    }
    Ok((server.to_owned(), tool))
}

/// Split `tools` into client functions and `mcp://` references.
pub(crate) fn split_tools(
    tools: Option<&Value>,
) -> Result<(Vec<Value>, Option<Selection>), ApiError> {
    let Some(tools) = tools else {
        return Ok((Vec::new(), None));
    };
    let tools = tools
        .as_array()
        .ok_or_else(|| ApiError::bad_request("invalid_tools", "`tools` must be an array"))?;
    let mut client = Vec::new();
    let mut selection: Option<Selection> = None;
    for tool in tools {
        let reference = match tool["type"].as_str() {
            Some("mcp") => Some(tool["uri"].as_str().ok_or_else(|| {
                ApiError::bad_request("invalid_mcp_reference", "an `mcp` tool needs a `uri`")
            })?),
            Some("function") => tool["function"]["name"]
                .as_str()
                .filter(|n| n.starts_with("mcp://")),
            _ => None,
        };
        match reference {
            Some(uri) => {
                let (server, tool) = parse_reference(uri)?;
                let entry = selection
                    .get_or_insert_with(Default::default)
                    .entry(server)
                    .or_insert_with(|| Some(BTreeSet::new()));
                match (entry, tool) {
                    (entry @ Some(_), None) => *entry = None,
                    (Some(set), Some(tool)) => {
                        set.insert(tool);
                    }
                    (None, _) => {}
                }
            }
            None => client.push(tool.clone()),
        }
    }
    Ok((client, selection))
}

/// Build the exposure of a request whose `tools` field is `requested`: the servers the
/// policy lets the key use (or the ones its `mcp://` references name), listed concurrently,
/// each within `mcp.limits.tool_timeout`.
pub async fn expose(
    state: &AppState,
    principal: &Principal,
    requested: Option<&Value>,
) -> Result<Exposure, ApiError> {
    let (client, selection) = split_tools(requested)?;
    let mut exposure = Exposure {
        tools: client,
        ..Default::default()
    };
    let config = state.config();
    if !config.mcp.enabled {
        return Ok(exposure);
    }
    let servers = chosen(state, principal, selection.as_ref())?;
    let global: ToolGlobs = (&config.mcp.tools).into();
    let bound = config.mcp.limits.tool_timeout;
    let listings = policy::list_each(
        &servers,
        ListKind::Tools,
        &principal.name,
        Source::shared(),
        bound,
    )
    .await;
    for (server, listed) in servers.iter().zip(listings) {
        let tools = match listed {
            Listed::Items(tools, _) => tools,
            Listed::NotOffered => Default::default(),
            Listed::Failed(e) if selection.is_none() => {
                tracing::warn!(server = %server.name(), "leaving the server's tools out of this request: {e}");
                continue;
            }
            Listed::Failed(e) => return Err(e.into()),
        };
        let wanted = selection
            .as_ref()
            .and_then(|selection| selection.get(server.name()))
            .and_then(Option::as_ref);
        exposure.add(server, &tools, wanted, &global)?;
    }
    Ok(exposure)
}

/// The servers a request's tools come from: every one the key may use that takes calls, or
/// those its references name (each must exist for the key, and take calls).
fn chosen(
    state: &AppState,
    principal: &Principal,
    selection: Option<&Selection>,
) -> Result<Vec<Arc<ServerClient>>, ApiError> {
    let registry = state.registry();
    let Some(selection) = selection else {
        let mut servers = policy::servers_for(registry, principal);
        servers.retain(|server| server.health().accepts_calls());
        return Ok(servers);
    };
    let named: Vec<_> = selection
        .keys()
        .map(|name| {
            policy::server_for(registry, principal, name).ok_or_else(|| {
                ApiError::bad_request(
                    "unknown_mcp_server",
                    format!("mcp://{name}: no MCP server named `{name}`"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    if let Some(down) = named.iter().find(|s| !s.health().accepts_calls()) {
        return Err(ApiError::Unavailable {
            code: "server_unavailable",
            message: format!(
                "mcp://{}: the server is {}",
                down.name(),
                down.health().state
            ),
        });
    }
    Ok(named)
}

impl Exposure {
    /// Add the tools of `server` the policy shows (only the `wanted` ones, each of which
    /// must be among them, when a reference named them) as functions for the model.
    fn add(
        &mut self,
        server: &ServerClient,
        tools: &[Value],
        wanted: Option<&BTreeSet<String>>,
        global: &ToolGlobs,
    ) -> Result<(), ApiError> {
        let name = server.name();
        for tool in wanted.into_iter().flatten() {
            if !tools.iter().any(|t| t["name"] == tool.as_str())
                || !policy::shows_tool(server, global, tool)
            {
                return Err(ApiError::bad_request(
                    "unknown_mcp_tool",
                    format!("mcp://{name}/{tool}: the server has no such allowed tool"),
                ));
            }
        }
        for tool in tools {
            let Some(tool_name) = tool["name"].as_str() else {
                continue;
            };
            if !policy::shows_tool(server, global, tool_name)
                || wanted.is_some_and(|w| !w.contains(tool_name))
            {
                continue;
            }
            let wire = self.names.insert(ToolRef {
                server: name.to_owned(),
                tool: tool_name.to_owned(),
            });
            let description = tool["description"].as_str().unwrap_or_default();
            self.tools.push(json!({
                "type": "function",
                "function": {
                    "name": wire,
                    "description": format!("[MCP {name}] {description}").trim_end().to_owned(),
                    "parameters": if tool["inputSchema"].is_object() { tool["inputSchema"].clone() } else { json!({"type": "object"}) },
                }
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_narrow_and_client_functions_pass_through() {
        let tools = json!([
            {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
            {"type": "mcp", "uri": "mcp://time"},
            {"type": "function", "function": {"name": "mcp://fs/read_file"}},
            {"type": "mcp", "uri": "mcp://fs/list"},
        ]);
        let (client, selection) = split_tools(Some(&tools)).unwrap();
        assert_eq!(client.len(), 1);
        let selection = selection.unwrap();
        assert_eq!(selection["time"], None, "a whole server");
        assert_eq!(
            selection["fs"],
            Some(BTreeSet::from(["list".to_owned(), "read_file".to_owned()]))
        );
    }

    #[test]
    fn bad_references_are_named() {
        for bad in [
            json!([{"type": "mcp"}]),
            json!([{"type": "mcp", "uri": "http://x"}]),
            json!([{"type": "mcp", "uri": "mcp://"}]),
            json!({"tools": 1}),
        ] {
            assert!(split_tools(Some(&bad)).is_err(), "{bad}");
        }
    }
}
