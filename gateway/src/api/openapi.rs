//! The OpenAPI 3.1 document of the whole HTTP API, generated from [`ROUTES`]. `llamagate
//! openapi` prints it; `docs/openapi.json` is its committed copy, and a test fails when the
//! copy drifts or when a documented route is not served by `app()`.

use serde_json::{Map, Value, json};

use crate::config::Scope;

/// What a route takes as its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body.
    None,
    /// An OpenAI chat completion request.
    ChatRequest,
    /// A JSON object of arguments (may be empty).
    Arguments,
    /// `{server, tool, arguments, inputResponses?, requestState?}`.
    Execute,
    /// One JSON-RPC message of the MCP protocol.
    JsonRpc,
}

/// One documented route.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// HTTP method.
    pub method: &'static str,
    /// Path template as axum routes it.
    pub path: &'static str,
    /// Scope the key needs; `None` for open routes.
    pub scope: Option<Scope>,
    /// One line.
    pub summary: &'static str,
    /// Request body.
    pub body: Body,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
}

const fn route(
    method: &'static str,
    path: &'static str,
    scope: Option<Scope>,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        scope,
        summary,
        body: Body::None,
        query: &[],
    }
}

/// Every route of the gateway.
pub const ROUTES: &[Route] = &[
    Route {
        body: Body::ChatRequest,
        ..route(
            "post",
            "/v1/chat/completions",
            Some(Scope::Chat),
            "OpenAI chat completion with MCP tools (stream true/false)",
        )
    },
    route(
        "get",
        "/v1/models",
        Some(Scope::Chat),
        "The upstream's models, passed through",
    ),
    route(
        "get",
        "/v1/mcp/servers",
        Some(Scope::McpRead),
        "List MCP servers: configuration (secrets redacted), state, pool, cache, health",
    ),
    route(
        "get",
        "/v1/mcp/servers/{id}",
        Some(Scope::McpRead),
        "One MCP server",
    ),
    Route {
        query: &[("probe", "`true` probes the server now")],
        ..route(
            "get",
            "/v1/mcp/servers/{id}/health",
            Some(Scope::McpRead),
            "Health of a server",
        )
    },
    route(
        "post",
        "/v1/mcp/servers/{id}/restart",
        Some(Scope::Admin),
        "Restart a server (drain, close, reconnect; stdio: new process)",
    ),
    route(
        "post",
        "/v1/mcp/servers/{id}/stop",
        Some(Scope::Admin),
        "Stop a server",
    ),
    route(
        "post",
        "/v1/mcp/servers/{id}/start",
        Some(Scope::Admin),
        "Start a server",
    ),
    Route {
        query: &[(
            "cursor",
            "one page as the server sent it (empty: the first)",
        )],
        ..route(
            "get",
            "/v1/mcp/servers/{id}/tools",
            Some(Scope::McpRead),
            "A server's tools, with whether the filters allow each",
        )
    },
    Route {
        body: Body::Arguments,
        ..route(
            "post",
            "/v1/mcp/servers/{id}/tools/{tool}",
            Some(Scope::McpCall),
            "Call a tool; the body is its arguments",
        )
    },
    Route {
        query: &[
            ("uri", "read this resource instead of listing"),
            (
                "cursor",
                "one page as the server sent it (empty: the first)",
            ),
        ],
        ..route(
            "get",
            "/v1/mcp/servers/{id}/resources",
            Some(Scope::McpRead),
            "A server's resources and resource templates",
        )
    },
    route(
        "get",
        "/v1/mcp/servers/{id}/resources/{uri}",
        Some(Scope::McpRead),
        "Read a resource; `uri` percent-encoded",
    ),
    Route {
        query: &[(
            "cursor",
            "one page as the server sent it (empty: the first)",
        )],
        ..route(
            "get",
            "/v1/mcp/servers/{id}/prompts",
            Some(Scope::McpRead),
            "A server's prompts",
        )
    },
    Route {
        body: Body::Arguments,
        ..route(
            "post",
            "/v1/mcp/servers/{id}/prompts/{name}",
            Some(Scope::McpRead),
            "Get a prompt; the body is its arguments",
        )
    },
    Route {
        body: Body::Execute,
        ..route(
            "post",
            "/v1/mcp/execute",
            Some(Scope::McpCall),
            "Call a tool: {server, tool, arguments}",
        )
    },
    route(
        "post",
        "/v1/admin/reload",
        Some(Scope::Admin),
        "Re-read the configuration file",
    ),
    Route {
        body: Body::JsonRpc,
        ..route(
            "post",
            "/mcp",
            Some(Scope::McpRead),
            "The aggregated MCP endpoint (Streamable HTTP): every server the key may use",
        )
    },
    route(
        "get",
        "/mcp",
        Some(Scope::McpRead),
        "A 2025-era session's stream of list changes (SSE; needs Mcp-Session-Id)",
    ),
    route(
        "delete",
        "/mcp",
        Some(Scope::McpRead),
        "End the session named by Mcp-Session-Id",
    ),
    Route {
        body: Body::JsonRpc,
        ..route(
            "post",
            "/mcp/{server}",
            Some(Scope::McpRead),
            "One MCP server, names unchanged (Streamable HTTP)",
        )
    },
    route(
        "get",
        "/mcp/{server}",
        Some(Scope::McpRead),
        "A 2025-era session's stream of list changes (SSE; needs Mcp-Session-Id)",
    ),
    route(
        "delete",
        "/mcp/{server}",
        Some(Scope::McpRead),
        "End the session named by Mcp-Session-Id",
    ),
    Route {
        body: Body::JsonRpc,
        ..route(
            "post",
            "/mcp/v/{name}",
            Some(Scope::McpRead),
            "A virtual server of mcp.endpoint.virtual_servers (Streamable HTTP)",
        )
    },
    route(
        "get",
        "/mcp/v/{name}",
        Some(Scope::McpRead),
        "A 2025-era session's stream of list changes (SSE; needs Mcp-Session-Id)",
    ),
    route(
        "delete",
        "/mcp/v/{name}",
        Some(Scope::McpRead),
        "End the session named by Mcp-Session-Id",
    ),
    route("get", "/healthz", None, "Liveness"),
    route("get", "/readyz", None, "Readiness"),
    route("get", "/metrics", None, "Prometheus metrics"),
];

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Chat => "chat",
        Scope::McpRead => "mcp:read",
        Scope::McpCall => "mcp:call",
        Scope::Admin => "admin",
    }
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn operation(route: &Route) -> Value {
    let mut parameters = Vec::new();
    for name in route
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    {
        parameters.push(
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
        );
    }
    for (name, description) in route.query {
        parameters.push(json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}}));
    }
    let mut op = json!({
        "summary": route.summary,
        "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}'], "_")),
        "parameters": parameters,
        "responses": {
            "200": {"description": "success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": error_response("bad input"),
            "404": error_response("unknown route, server, tool or prompt"),
            "413": error_response("body too large"),
            "415": error_response("the body is not sent as JSON (`Content-Type: application/json`)"),
            "429": error_response("rate limited (Retry-After)"),
            "502": error_response("upstream or MCP failure"),
            "503": error_response("server unavailable or pool exhausted"),
            "504": error_response("timeout"),
        },
    });
    match route.scope {
        Some(scope) => {
            op["security"] = json!([{"bearer": []}, {"apiKey": []}]);
            op["x-llamagate-scope"] = json!(scope_name(scope));
            op["responses"]["401"] = error_response("no or unknown API key");
            op["responses"]["403"] =
                error_response(&format!("the key lacks `{}`", scope_name(scope)));
        }
        None => op["security"] = json!([]),
    }
    let body = match route.body {
        Body::None => None,
        Body::ChatRequest => Some(json!({"$ref": "#/components/schemas/ChatCompletionRequest"})),
        Body::Arguments => Some(json!({"type": "object", "additionalProperties": true})),
        Body::Execute => Some(json!({"$ref": "#/components/schemas/ExecuteRequest"})),
        Body::JsonRpc => Some(
            json!({"type": "object", "description": "one JSON-RPC 2.0 message of the MCP protocol (docs/mcp-endpoint.md)"}),
        ),
    };
    if let Some(schema) = body {
        op["requestBody"] = json!({"required": route.body != Body::Arguments, "content": {"application/json": {"schema": schema}}});
    }
    if route.body == Body::ChatRequest {
        op["responses"]["200"]["content"]["text/event-stream"] = json!({"schema": {"type": "string", "description": "with stream: true: chunks, then `data: [DONE]`"}});
        op["responses"]["422"] = error_response("a tool-loop limit was reached");
    }
    if route.path == "/metrics" {
        op["responses"]["200"] = json!({"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}});
    }
    op
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method] = operation(route);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "LlamaGate", "version": env!("CARGO_PKG_VERSION"), "description": "OpenAI-compatible gateway with MCP tools, and the MCP management API. See docs/api.md."},
        "servers": [{"url": "http://127.0.0.1:11435"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["message", "type", "code"], "properties": {
                    "message": {"type": "string"}, "type": {"type": "string"}, "code": {"type": "string"}}}}},
                "ChatCompletionRequest": {"type": "object", "required": ["model", "messages"], "additionalProperties": true, "properties": {
                    "model": {"type": "string"},
                    "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
                    "stream": {"type": "boolean"},
                    "tools": {"type": "array", "items": {"oneOf": [
                        {"type": "object", "description": "an OpenAI function tool"},
                        {"type": "object", "required": ["type", "uri"], "properties": {"type": {"const": "mcp"}, "uri": {"type": "string", "pattern": "^mcp://"}}}]}}}},
                "ExecuteRequest": {"type": "object", "required": ["server", "tool"], "additionalProperties": false, "properties": {
                    "server": {"type": "string"}, "tool": {"type": "string"},
                    "arguments": {"type": "object"}, "inputResponses": {"type": "object"}, "requestState": {"type": "string"}}},
            },
        },
    })
}
