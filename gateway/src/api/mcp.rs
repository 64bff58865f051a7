//! The MCP management API: `/v1/mcp/servers/...` and `/v1/mcp/execute`.

use std::{sync::Arc, time::Instant};

use axum::{
    Json,
    extract::{Path, State, rejection::PathRejection},
    response::IntoResponse,
};
use llamagate_mcp::{
    Endpoint, ServerClient, Source,
    cache::ListKind,
    server::operations::{ToolCall, ToolOutcome},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::json::{ApiJson, ApiQuery, ArgumentsBody, TraceMeta};
use crate::{
    auth::Principal, config::Scope, error::ApiError, middleware::RequestId, policy, state::AppState,
};

/// Path parameters; a bad percent-encoding becomes a 400 in our shape.
pub struct ApiPath<T>(pub T);

impl<T> axum::extract::FromRequestParts<AppState> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => Err(ApiError::bad_request(
                "invalid_path",
                format!("bad path parameter: {}", e.body_text()),
            )),
            Err(other) => Err(ApiError::bad_request("invalid_path", other.body_text())),
        }
    }
}

/// The server named `id`, if the caller may see it; otherwise a 404 (also for servers the
/// key may not use, so their existence is not revealed).
fn server(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Arc<ServerClient>, ApiError> {
    policy::server_for(state.registry(), principal, id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_server",
            format!("no MCP server named `{id}`; GET /v1/mcp/servers lists them"),
        )
    })
}

/// Whether the exposure policy shows (and lets the caller run) `tool` of `server`.
fn shows_tool(state: &AppState, server: &ServerClient, tool: &str) -> bool {
    policy::shows_tool(server, &(&state.config().mcp.tools).into(), tool)
}

/// What the API shows of a server: where it came from, its settings with secrets redacted,
/// state, pool, cache.
pub fn describe(server: &ServerClient, source: Option<Source>) -> Value {
    let description = server.description();
    let health = server.health();
    let cache: Map<String, Value> = server
        .cache_ages()
        .into_iter()
        .map(|(kind, age)| {
            (
                kind.as_str().to_owned(),
                json!({"age_ms": age.as_millis() as u64}),
            )
        })
        .collect();
    let config = match &description.endpoint {
        Endpoint::Stdio(command) => json!({
            "url": null,
            "command": command.program(),
            "args": command.args,
            "env": command.env,
            "cwd": command.cwd,
            "api_key": null,
            "headers": {},
        }),
        Endpoint::Remote(remote) => json!({
            "url": description.shown_url(),
            "command": null,
            "args": [],
            "env": {},
            "cwd": null,
            "api_key": remote.bearer_token,
            "headers": remote.headers,
        }),
    };
    let mut config = config;
    config["protocol"] = json!(description.protocol);
    config["tools"] = json!(description.tools);
    config["timeout_ms"] = json!(description.timeouts.call.as_millis() as u64);
    config["connection_pool_size"] = json!(description.pool.size);
    json!({
        "name": server.name(),
        "source": source,
        "transport": description.transport(),
        "enabled": description.enabled,
        "state": health.state,
        "config": config,
        "session": server.info(),
        "health": health,
        "pool": server.pool_stats(),
        "cache": cache,
    })
}

/// `GET /v1/mcp/servers`
pub async fn list_servers(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpRead)?;
    let servers: Vec<Value> = policy::servers_for(state.registry(), &principal)
        .iter()
        .map(|s| describe(s, state.registry().source_of(s.name())))
        .collect();
    let sources = json!({"file": {"state": "loaded"}, "cluster": state.cluster_status()});
    Ok(Json(
        json!({ "object": "list", "data": servers, "sources": sources }),
    ))
}

/// `GET /v1/mcp/servers/{id}`
pub async fn get_server(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpRead)?;
    let server = server(&state, &principal, &id)?;
    Ok(Json(describe(&server, state.registry().source_of(&id))))
}

/// Query of the health route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthQuery {
    /// Probe now instead of reporting the last probe.
    #[serde(default)]
    probe: bool,
}

/// `GET /v1/mcp/servers/{id}/health[?probe=true]`
pub async fn health(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HealthQuery>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpRead)?;
    let server = server(&state, &principal, &id)?;
    let probe = if query.probe {
        Some(match server.probe_now().await {
            Ok(latency) => json!({"ok": true, "latency_ms": latency.as_secs_f64() * 1000.0}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        })
    } else {
        None
    };
    Ok(Json(
        json!({ "name": server.name(), "health": server.health(), "probe": probe }),
    ))
}

/// `POST /v1/mcp/servers/{id}/restart`
pub async fn restart(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::Admin)?;
    let server = server(&state, &principal, &id)?;
    let grace = state.config().mcp.connection_timeout;
    server.restart(grace).await?;
    Ok(Json(describe(&server, state.registry().source_of(&id))))
}

/// `POST /v1/mcp/servers/{id}/stop`
pub async fn stop(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::Admin)?;
    let server = server(&state, &principal, &id)?;
    server.stop(state.config().mcp.connection_timeout).await;
    Ok(Json(describe(&server, state.registry().source_of(&id))))
}

/// `POST /v1/mcp/servers/{id}/start`
pub async fn start(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::Admin)?;
    let server = server(&state, &principal, &id)?;
    server.start();
    Ok(Json(describe(&server, state.registry().source_of(&id))))
}

/// `?cursor=` of the list routes: one page as the server sent it, instead of every page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[serde(default)]
    cursor: Option<String>,
}

/// One page of a list, passed through with its `nextCursor`.
async fn page(
    server: &ServerClient,
    kind: ListKind,
    key: &str,
    cursor: &str,
) -> Result<Json<Value>, ApiError> {
    let page = server.list_page(kind, cursor).await?;
    Ok(Json(json!({
        "object": "list",
        "server": server.name(),
        "data": page[key],
        "nextCursor": page["nextCursor"],
    })))
}

/// `GET /v1/mcp/servers/{id}/tools`: every tool, with whether the filters allow it
/// (`?cursor=` for one page as the server sent it).
pub async fn tools(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpRead)?;
    let server = server(&state, &principal, &id)?;
    if let Some(cursor) = &query.cursor {
        return page(&server, ListKind::Tools, "tools", cursor).await;
    }
    let (tools, _) = server.list(ListKind::Tools, &principal.name).await?;
    let global = (&state.config().mcp.tools).into();
    let data: Vec<Value> = tools
        .iter()
        .map(|tool| {
            let mut tool = tool.clone();
            let allowed = tool["name"]
                .as_str()
                .is_some_and(|name| policy::shows_tool(&server, &global, name));
            // The client only keeps object items; the check keeps this handler safe alone.
            if let Some(object) = tool.as_object_mut() {
                object.insert("allowed".to_owned(), Value::Bool(allowed));
            }
            tool
        })
        .collect();
    Ok(Json(
        json!({ "object": "list", "server": server.name(), "data": data }),
    ))
}

/// Run a tool for the management API, after the filter and existence checks.
async fn run_tool(
    state: &AppState,
    principal: &Principal,
    server_name: &str,
    call: ToolCall,
    request_id: &RequestId,
) -> Result<(Value, bool, u64), ApiError> {
    let server = server(state, principal, server_name)?;
    if !shows_tool(state, &server, &call.name) {
        return Err(ApiError::Forbidden(format!(
            "tool `{}` of `{server_name}` is denied by the tool filters",
            call.name
        )));
    }
    let (tools, _) = server.list(ListKind::Tools, &principal.name).await?;
    if !tools.iter().any(|t| t["name"] == call.name.as_str()) {
        return Err(ApiError::not_found(
            "unknown_tool",
            format!(
                "MCP server `{server_name}` has no tool `{}`; GET /v1/mcp/servers/{server_name}/tools lists them",
                call.name
            ),
        ));
    }
    let tool = call.name.clone();
    let started = Instant::now();
    let outcome = server.call_tool(call).await;
    let duration_ms = started.elapsed().as_millis() as u64;
    tracing::info!(request_id = %request_id.0, server = %server_name, tool = %tool, duration_ms, ok = outcome.is_ok(), "direct tool call");
    let outcome = outcome?;
    let is_error = outcome.is_error();
    let result = match outcome {
        ToolOutcome::Complete { result } => result,
        ToolOutcome::InputRequired { result } => {
            json!({"resultType": "input_required", "inputRequired": result})
        }
    };
    Ok((result, is_error, duration_ms))
}

/// `POST /v1/mcp/servers/{id}/tools/{tool}`: the body is the arguments object.
pub async fn call_tool(
    State(state): State<AppState>,
    principal: Principal,
    axum::Extension(request_id): axum::Extension<RequestId>,
    TraceMeta(meta): TraceMeta,
    ApiPath((id, tool)): ApiPath<(String, String)>,
    ArgumentsBody(arguments): ArgumentsBody,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpCall)?;
    let call = ToolCall {
        name: tool.clone(),
        arguments,
        meta,
        ..Default::default()
    };
    let (result, is_error, duration_ms) =
        run_tool(&state, &principal, &id, call, &request_id).await?;
    Ok(Json(
        json!({ "server": id, "tool": tool, "result": result, "is_error": is_error, "duration_ms": duration_ms }),
    ))
}

/// Body of `POST /v1/mcp/execute`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExecuteRequest {
    server: String,
    tool: String,
    #[serde(default)]
    arguments: Map<String, Value>,
    /// Answers to a previous `input_required` result.
    #[serde(default, alias = "input_responses")]
    input_responses: Option<Value>,
    /// The `requestState` of that result, echoed back.
    #[serde(default, alias = "request_state")]
    request_state: Option<String>,
}

/// `POST /v1/mcp/execute`
pub async fn execute(
    State(state): State<AppState>,
    principal: Principal,
    axum::Extension(request_id): axum::Extension<RequestId>,
    TraceMeta(meta): TraceMeta,
    ApiJson(request): ApiJson<ExecuteRequest>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpCall)?;
    let call = ToolCall {
        name: request.tool.clone(),
        arguments: request.arguments,
        meta,
        input_responses: request.input_responses,
        request_state: request.request_state,
        ..Default::default()
    };
    let (result, is_error, duration_ms) =
        run_tool(&state, &principal, &request.server, call, &request_id).await?;
    Ok(Json(json!({
        "server": request.server, "tool": request.tool, "result": result, "is_error": is_error, "duration_ms": duration_ms
    })))
}

/// Query of the resources route: `?uri=` reads one resource instead of listing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceQuery {
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /v1/mcp/servers/{id}/resources` (with templates), or `?uri=` to read one.
pub async fn resources(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ResourceQuery>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpRead)?;
    let server = server(&state, &principal, &id)?;
    if let Some(uri) = query.uri {
        return Ok(Json(server.read_resource(&uri, Map::new()).await?));
    }
    if let Some(cursor) = &query.cursor {
        return page(&server, ListKind::Resources, "resources", cursor).await;
    }
    let (resources, _) = server.list(ListKind::Resources, &principal.name).await?;
    let (templates, _) = server
        .list(ListKind::ResourceTemplates, &principal.name)
        .await?;
    Ok(Json(
        json!({ "object": "list", "server": id, "data": *resources, "templates": *templates }),
    ))
}

/// `GET /v1/mcp/servers/{id}/resources/{uri}` with the URI percent-encoded.
pub async fn read_resource(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, uri)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpRead)?;
    let server = server(&state, &principal, &id)?;
    Ok(Json(server.read_resource(&uri, Map::new()).await?))
}

/// `GET /v1/mcp/servers/{id}/prompts` (`?cursor=` for one page)
pub async fn prompts(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpRead)?;
    let server = server(&state, &principal, &id)?;
    if let Some(cursor) = &query.cursor {
        return page(&server, ListKind::Prompts, "prompts", cursor).await;
    }
    let (prompts, _) = server.list(ListKind::Prompts, &principal.name).await?;
    Ok(Json(
        json!({ "object": "list", "server": id, "data": *prompts }),
    ))
}

/// `POST /v1/mcp/servers/{id}/prompts/{name}`: the body holds the prompt's arguments.
pub async fn get_prompt(
    State(state): State<AppState>,
    principal: Principal,
    ApiPath((id, name)): ApiPath<(String, String)>,
    ArgumentsBody(arguments): ArgumentsBody,
) -> Result<Json<Value>, ApiError> {
    principal.require(Scope::McpRead)?;
    let server = server(&state, &principal, &id)?;
    let (prompts, _) = server.list(ListKind::Prompts, &principal.name).await?;
    if !prompts.iter().any(|p| p["name"] == name.as_str()) {
        return Err(ApiError::not_found(
            "unknown_prompt",
            format!("MCP server `{id}` has no prompt `{name}`"),
        ));
    }
    if let Some((key, _)) = arguments.iter().find(|(_, v)| !v.is_string()) {
        return Err(ApiError::bad_request(
            "invalid_arguments",
            format!("prompt argument `{key}` must be a string"),
        ));
    }
    Ok(Json(server.get_prompt(&name, arguments).await?))
}

/// `POST /v1/admin/reload`: re-read the configuration file; a bad file changes nothing.
pub async fn reload(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::Admin)?;
    let reloaded = state
        .reload()
        .await
        .map_err(|e| ApiError::bad_request("invalid_config", e))?;
    Ok(Json(json!({
        "reloaded": true,
        "servers": reloaded.servers,
        "needs_restart": reloaded.needs_restart,
    })))
}
