//! The methods of `/mcp`: the handshake, merged lists, and requests routed to the server
//! that owns the tool, prompt or resource, under one policy (the key's scopes and servers,
//! the tool filters) for listing and calling alike.

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    http::{HeaderMap, HeaderValue},
    response::Response,
};
use llamagate_mcp::{
    McpError, ServerClient,
    cache::ListKind,
    server::operations::{ToolCall, ToolOutcome},
};
use serde_json::{Map, Value, json};

use super::{
    VERSIONS,
    catalog::{self, View},
    input,
    owned::{self, Caller},
    reads, relay,
    rpc::{self, METHOD_NOT_FOUND, RpcError},
    seal::Claims,
    stateless::{self, CacheHint, Declared},
    uris,
    wire::{Method, Request, arguments_param, meta, string_param},
};
use crate::{auth::Principal, config::Scope, error::ApiError, state::AppState};

/// The log levels of `logging/setLevel` (RFC 5424's, as the spec names them).
const LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// `initialize`: a new sealed session bound to the key and the endpoint, owning its own
/// sessions at the upstreams that keep them (`owned.rs`).
pub async fn initialize(
    state: &AppState,
    principal: &Principal,
    view: &View,
    id: &Value,
    message: &Value,
    headers: &HeaderMap,
) -> Result<Response, RpcError> {
    let params = &message["params"];
    let requested = params["protocolVersion"].as_str().ok_or_else(|| {
        RpcError::params("`params.protocolVersion` is missing: send the protocol version the client speaks, e.g. \"2025-11-25\"")
    })?;
    let version = VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(VERSIONS[0]);
    let config = state.config();
    let declares_roots = params["capabilities"].get("roots").is_some();
    let bound = config.mcp.endpoint.list_timeout;
    let claims = Claims {
        pv: version.to_owned(),
        exp: super::now() + config.mcp.endpoint.session_ttl.as_secs(),
        key: principal.name.to_string(),
        view: view.path.clone(),
        sid: uuid::Uuid::new_v4().simple().to_string(),
        caps: ["elicitation", "sampling", "roots"]
            .into_iter()
            .filter(|c| params["capabilities"].get(*c).is_some())
            .map(str::to_owned)
            .collect(),
        up: owned::open(state, view, bound, declares_roots).await,
    };
    let sealed = state.sessions().sealer.seal(&claims);
    let mut capabilities = stateless::capabilities();
    capabilities["resources"]["subscribe"] = json!(true);
    capabilities["logging"] = json!({});
    let result = json!({
        "protocolVersion": version,
        "capabilities": capabilities,
        "serverInfo": {"name": "llamagate", "title": "LlamaGate", "version": env!("CARGO_PKG_VERSION")},
        "instructions": instructions(view),
    });
    let mut extra = HeaderMap::new();
    extra.insert(
        "mcp-session-id",
        HeaderValue::from_str(&sealed).expect("visible ASCII"),
    );
    Ok(rpc::result(id, result, headers, extra))
}

/// What a view offers, in words for the model.
pub fn instructions(view: &View) -> String {
    if let Some(description) = &view.description {
        return description.clone();
    }
    let names: Vec<&str> = view.servers.iter().map(|s| s.name()).take(20).collect();
    if view.single {
        format!("The MCP server `{}` through LlamaGate.", names.join(""))
    } else if view.prefix {
        format!(
            "Tools, prompts and resources of {} MCP servers through LlamaGate ({}{}); each tool and prompt name starts with `<server>__`, each resource URI with `<server>+`.",
            view.servers.len(),
            names.join(", "),
            if view.servers.len() > 20 { ", ..." } else { "" }
        )
    } else {
        format!(
            "Tools, prompts and resources of {} MCP servers through LlamaGate.",
            view.servers.len()
        )
    }
}

pub(super) fn require(principal: &Principal, scope: Scope) -> Result<(), RpcError> {
    Ok(principal.require(scope)?)
}

/// What a method returns: its result (with how long a stateless client may cache it: lists
/// and reads), or, for a session's call, prompt or read whose upstream needs the user
/// first, the questions to put to the client (`ask.rs` asks them and retries).
pub enum Outcome {
    Done {
        result: Value,
        hint: Option<CacheHint>,
    },
    NeedsClient(relay::Ask),
}

impl Outcome {
    fn hinted(result: Value, hint: CacheHint) -> Self {
        Self::Done {
            result,
            hint: Some(hint),
        }
    }

    /// The result and its hint; questions here are an error, for a path that cannot put
    /// them to the client (only a session's call, prompt or read can, through `ask.rs`).
    pub fn into_done(self) -> Result<(Value, Option<CacheHint>), RpcError> {
        match self {
            Self::Done { result, hint } => Ok((result, hint)),
            Self::NeedsClient(ask) => Err(ApiError::BadGateway {
                code: "input_not_relayed",
                message: format!(
                    "MCP server `{}` needs input from the client, which this request cannot relay",
                    ask.server.name()
                ),
            }
            .into()),
        }
    }

    /// The result, renamed or rewritten by `f`; questions pass unchanged.
    pub fn map_result(mut self, f: impl FnOnce(&mut Value)) -> Self {
        if let Self::Done { result, .. } = &mut self {
            f(result);
        }
        self
    }
}

impl From<Value> for Outcome {
    fn from(result: Value) -> Self {
        Self::Done { result, hint: None }
    }
}

/// A request of an open session (`declared` is `None`) or a stateless one, from `caller`
/// (whose asker answers the upstream's questions, and whose own upstream sessions carry it).
pub async fn request(
    state: &AppState,
    principal: &Principal,
    view: &View,
    declared: Option<&Declared>,
    caller: Caller,
    request: Request<'_>,
) -> Result<Outcome, RpcError> {
    let params = request.params;
    let session = declared.is_none();
    let answer = match request.method {
        Method::Ping if session => json!({}),
        Method::SetLogLevel if session => {
            let level = string_param(params, "level")?;
            if !LEVELS.contains(&level) {
                return Err(RpcError::params(format!(
                    "`params.level` must be one of {}; got `{level:.40}`",
                    LEVELS.join(", ")
                )));
            }
            owned::set_log_level(view, &caller, level);
            json!({})
        }
        Method::List(kind) => {
            let field = match kind {
                ListKind::Tools => "tools",
                ListKind::Prompts => "prompts",
                ListKind::Resources => "resources",
                ListKind::ResourceTemplates => "resourceTemplates",
            };
            return list((state, principal, view), &caller, kind, field, params).await;
        }
        Method::CallTool => {
            return call_tool(state, principal, view, declared, caller, params).await;
        }
        Method::GetPrompt => {
            return reads::get_prompt(state, principal, view, declared, params, caller).await;
        }
        Method::ReadResource => {
            let outcome =
                reads::read_resource(state, principal, view, declared, params, caller).await?;
            return Ok(match outcome {
                Outcome::Done { result, .. } => Outcome::hinted(result, CacheHint::NONE),
                asking => asking,
            });
        }
        Method::Subscribe | Method::Unsubscribe if session => {
            require(principal, Scope::McpRead)?;
            let uri = string_param(params, "uri")?;
            uris::resolve((state, principal, view), &caller.owned, uri).await?;
            json!({})
        }
        Method::Complete => complete(state, principal, view, params, &caller).await?,
        _ if !session => return Err(stateless::unknown_method(request.name)),
        _ => {
            return Err(RpcError::protocol(
                METHOD_NOT_FOUND,
                format!(
                    "`{:.80}` is not a method this endpoint serves",
                    request.name
                ),
            ));
        }
    };
    Ok(answer.into())
}

pub(super) fn unknown(what: &'static str, name: &str) -> RpcError {
    let code = match what {
        "tool" => "unknown_tool",
        "prompt" => "unknown_prompt",
        _ => "unknown_resource",
    };
    ApiError::not_found(
        code,
        format!("no {what} `{name:.200}` here; list them to see what this key may use"),
    )
    .into()
}

async fn catalog_of(
    state: &AppState,
    principal: &Principal,
    view: &View,
    kind: ListKind,
    source: catalog::Source<'_>,
) -> catalog::Catalog {
    let config = state.config();
    let global = (&config.mcp.tools).into();
    catalog::build(
        view,
        kind,
        (&principal.name, source),
        &global,
        config.mcp.endpoint.list_timeout,
    )
    .await
}

async fn list(
    (state, principal, view): (&AppState, &Principal, &View),
    caller: &Caller,
    kind: ListKind,
    field: &str,
    params: &Map<String, Value>,
) -> Result<Outcome, RpcError> {
    require(principal, Scope::McpRead)?;
    let cursor = match params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(cursor)) => Some(cursor.as_str()),
        Some(_) => return Err(RpcError::params("`params.cursor` must be a string")),
    };
    // A session's own upstream sessions are asked: what they offer it may have changed.
    let source = catalog::Source {
        owned: &caller.owned,
        fresh: true,
    };
    let catalog = catalog_of(state, principal, view, kind, source).await;
    // What a key restricted to some servers sees is its own.
    let mut hint = catalog.hint;
    hint.private |= principal.servers.is_some();
    let result = catalog::page(
        catalog,
        field,
        cursor,
        state.config().mcp.endpoint.page_size,
    )?;
    Ok(Outcome::hinted(result, hint))
}

/// The server and original name of an exposed tool or prompt; on `/mcp/{server}` the name
/// as it is.
pub(super) async fn resolve(
    (state, principal, view): (&AppState, &Principal, &View),
    owned: &BTreeMap<String, String>,
    kind: ListKind,
    name: &str,
) -> Result<(Arc<ServerClient>, String), RpcError> {
    let what = if kind == ListKind::Tools {
        "tool"
    } else {
        "prompt"
    };
    if view.single {
        return Ok((view.servers[0].clone(), name.to_owned()));
    }
    find((state, principal, view), owned, kind, name)
        .await
        .ok_or_else(|| unknown(what, name))
}

/// The server and original name behind the exposed `name` in the merged list of `kind`:
/// a session's `owned` upstream sessions' lists as last given, asked again when the name is
/// not in them.
pub(super) async fn find(
    (state, principal, view): (&AppState, &Principal, &View),
    owned: &BTreeMap<String, String>,
    kind: ListKind,
    name: &str,
) -> Option<(Arc<ServerClient>, String)> {
    for fresh in [false, true] {
        let source = catalog::Source { owned, fresh };
        let catalog = catalog_of(state, principal, view, kind, source).await;
        if let Some((server, original)) = catalog.resolve(view, name) {
            return Some((server.clone(), original));
        }
        if owned.is_empty() {
            break;
        }
    }
    None
}

pub(super) fn usable(server: &ServerClient) -> Result<(), RpcError> {
    let health = server.health();
    if health.accepts_calls() {
        Ok(())
    } else {
        Err(McpError::Unavailable {
            server: server.name().to_owned(),
            state: health.state,
            detail: Some("try again later".into()),
        }
        .into())
    }
}

async fn call_tool(
    state: &AppState,
    principal: &Principal,
    view: &View,
    declared: Option<&Declared>,
    caller: Caller,
    params: &Map<String, Value>,
) -> Result<Outcome, RpcError> {
    require(principal, Scope::McpCall)?;
    let name = string_param(params, "name")?;
    let arguments = arguments_param(params)?;
    let (server, tool) = resolve(
        (state, principal, view),
        &caller.owned,
        ListKind::Tools,
        name,
    )
    .await?;
    // The same filter as the listing: a tool not listed for this key is not callable.
    if !view.shows_tool(&server, &(&state.config().mcp.tools).into(), &tool) {
        return Err(unknown("tool", name));
    }
    usable(&server)?;
    let site = input::CallSite {
        key: &principal.name,
        view: &view.path,
        server: server.name(),
        tool: &tool,
    };
    let sessions = state.sessions();
    let retry = match declared {
        Some(declared) => {
            stateless::check_param_headers(declared, &server.param_headers(&tool, &arguments))?;
            input::retry(sessions, params, &site)?
        }
        None => input::Retry::default(),
    };
    let call = ToolCall {
        name: tool.clone(),
        arguments,
        meta: meta(params),
        input_responses: retry.input_responses,
        request_state: retry.request_state,
        session: caller.session_at(&server),
        asker: caller.asker,
        ..Default::default()
    };
    let outcome = server.call_tool(call.clone()).await?;
    match (outcome, declared) {
        (ToolOutcome::Complete { mut result }, _) => {
            uris::name_links(&mut result, uris::prefix_of(view, &server).as_deref());
            Ok(result.into())
        }
        (ToolOutcome::InputRequired { result }, Some(declared)) => {
            Ok(input::for_client(sessions, result, declared, &site)?.into())
        }
        (ToolOutcome::InputRequired { result }, None) => Ok(Outcome::NeedsClient(relay::Ask {
            server: server.clone(),
            retry: relay::Retry::Tool {
                call,
                prefix: uris::prefix_of(view, &server),
            },
            first: result,
        })),
    }
}

async fn complete(
    state: &AppState,
    principal: &Principal,
    view: &View,
    params: &Map<String, Value>,
    caller: &Caller,
) -> Result<Value, RpcError> {
    require(principal, Scope::McpRead)?;
    let reference = params
        .get("ref")
        .and_then(Value::as_object)
        .ok_or_else(|| RpcError::params("`params.ref` must be an object"))?;
    let mut forwarded = params.clone();
    let server = match reference.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => {
            let name = string_param(reference, "name")?;
            let (server, original) = resolve(
                (state, principal, view),
                &caller.owned,
                ListKind::Prompts,
                name,
            )
            .await?;
            forwarded["ref"]["name"] = json!(original);
            server
        }
        Some("ref/resource") => {
            let uri = string_param(reference, "uri")?;
            let (server, original) =
                uris::resolve((state, principal, view), &caller.owned, uri).await?;
            forwarded["ref"]["uri"] = json!(original);
            server
        }
        _ => {
            return Err(RpcError::params(
                "`params.ref.type` must be `ref/prompt` or `ref/resource`",
            ));
        }
    };
    usable(&server)?;
    let owned = caller.session_at(&server);
    let forwarded = Value::Object(forwarded);
    Ok(server.complete_on(forwarded, owned.as_deref()).await?)
}
