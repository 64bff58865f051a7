//! Which MCP tools a request shows the model, and as which functions. By default every
//! allowed tool of every healthy server the key may use; `mcp://server` and
//! `mcp://server/tool` references in `tools` narrow that to the named ones. Client-defined
//! functions pass through untouched.

use std::collections::{BTreeMap, BTreeSet};

use llamagate_mcp::cache::ListKind;
use serde_json::{Value, json};

use super::naming::{NameTable, ToolRef};
use crate::{auth::Principal, error::ApiError, state::AppState};

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

/// Build the exposure of a request whose `tools` field is `requested`.
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
    if let Some(selection) = &selection {
        for server in selection.keys() {
            if state
                .registry()
                .get(server)
                .filter(|_| principal.may_use(server))
                .is_none()
            {
                return Err(ApiError::bad_request(
                    "unknown_mcp_server",
                    format!("mcp://{server}: no MCP server named `{server}`"),
                ));
            }
        }
    }
    let global: llamagate_mcp::description::ToolGlobs = (&config.mcp.tools).into();
    for server in state.registry().all() {
        let name = server.name().to_owned();
        let wanted = match &selection {
            Some(selection) => match selection.get(&name) {
                Some(tools) => tools.clone(),
                None => continue,
            },
            None => None,
        };
        if !principal.may_use(&name) || !server.health().accepts_calls() {
            if selection.is_some() {
                return Err(ApiError::Unavailable {
                    code: "server_unavailable",
                    message: format!("mcp://{name}: the server is {}", server.health().state),
                });
            }
            continue;
        }
        let tools = match server.list(ListKind::Tools, &principal.name).await {
            Ok((tools, _)) => tools,
            Err(e) if selection.is_none() => {
                tracing::warn!(server = %name, "leaving the server's tools out of this request: {e}");
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let filter = server.tool_filter(&global);
        if let Some(wanted) = &wanted {
            for tool in wanted {
                if !tools.iter().any(|t| t["name"] == tool.as_str()) || !filter.allows(tool) {
                    return Err(ApiError::bad_request(
                        "unknown_mcp_tool",
                        format!("mcp://{name}/{tool}: the server has no such allowed tool"),
                    ));
                }
            }
        }
        for tool in tools.iter() {
            let Some(tool_name) = tool["name"].as_str() else {
                continue;
            };
            if !filter.allows(tool_name) || wanted.as_ref().is_some_and(|w| !w.contains(tool_name))
            {
                continue;
            }
            let wire = exposure.names.insert(ToolRef {
                server: name.clone(),
                tool: tool_name.to_owned(),
            });
            let description = tool["description"].as_str().unwrap_or_default();
            exposure.tools.push(json!({
                "type": "function",
                "function": {
                    "name": wire,
                    "description": format!("[MCP {name}] {description}").trim_end().to_owned(),
                    "parameters": if tool["inputSchema"].is_object() { tool["inputSchema"].clone() } else { json!({"type": "object"}) },
                }
            }));
        }
    }
    Ok(exposure)
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
