//! The wire layer of `/mcp`: a POSTed message parsed once into what it is (a request with
//! its method, the client's answer to a relayed request, a notification), so the layers
//! above match on types instead of reading `method` again from JSON.

use axum::http::StatusCode;
use llamagate_mcp::cache::ListKind;
use serde_json::{Map, Value};

use super::rpc::{INVALID_REQUEST, RpcError};

/// A method a client may send to `/mcp` (either era).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Initialize,
    Ping,
    SetLogLevel,
    List(ListKind),
    CallTool,
    GetPrompt,
    ReadResource,
    Subscribe,
    Unsubscribe,
    Complete,
    /// `server/discover` (2026-07-28).
    Discover,
    /// `subscriptions/listen` (2026-07-28).
    Listen,
    /// Anything else: refused, naming it.
    Unknown,
}

impl Method {
    /// The method named `name`.
    pub fn parse(name: &str) -> Self {
        match name {
            "initialize" => Self::Initialize,
            "ping" => Self::Ping,
            "logging/setLevel" => Self::SetLogLevel,
            "tools/list" => Self::List(ListKind::Tools),
            "prompts/list" => Self::List(ListKind::Prompts),
            "resources/list" => Self::List(ListKind::Resources),
            "resources/templates/list" => Self::List(ListKind::ResourceTemplates),
            "tools/call" => Self::CallTool,
            "prompts/get" => Self::GetPrompt,
            "resources/read" => Self::ReadResource,
            "resources/subscribe" => Self::Subscribe,
            "resources/unsubscribe" => Self::Unsubscribe,
            "completion/complete" => Self::Complete,
            "server/discover" => Self::Discover,
            "subscriptions/listen" => Self::Listen,
            _ => Self::Unknown,
        }
    }

    /// A call, prompt or read: the methods whose upstream may need the user mid-way.
    pub fn may_ask(self) -> bool {
        matches!(self, Self::CallTool | Self::GetPrompt | Self::ReadResource)
    }
}

/// A request: its id, method and params, and the message they came from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub id: &'a Value,
    pub method: Method,
    /// As sent (`Method::Unknown` is refused naming it).
    pub name: &'a str,
    /// `params`, or an empty object.
    pub params: &'a Map<String, Value>,
    pub message: &'a Value,
}

impl<'a> Request<'a> {
    /// The request `message` holds, if it is one (a string or number id and a method).
    pub fn of(message: &'a Value) -> Option<Self> {
        let name = message.get("method").and_then(Value::as_str)?;
        let id = message
            .get("id")
            .filter(|id| id.is_string() || id.is_number())?;
        Some(Self {
            id,
            method: Method::parse(name),
            name,
            params: params(message),
            message,
        })
    }
}

fn params(message: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    message["params"]
        .as_object()
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

pub fn string_param<'a>(params: &'a Map<String, Value>, field: &str) -> Result<&'a str, RpcError> {
    params
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::params(format!("`params.{field}` must be a string")))
}

/// `params.arguments`: an object, or nothing (an empty one).
pub fn arguments_param(params: &Map<String, Value>) -> Result<Map<String, Value>, RpcError> {
    match params.get("arguments") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(arguments)) => Ok(arguments.clone()),
        Some(_) => Err(RpcError::params("`params.arguments` must be an object")),
    }
}

/// The request's `_meta` for the upstream, without the protocol's own keys: the gateway's
/// client speaks to the upstream in its own version, with its own identity.
pub fn meta(params: &Map<String, Value>) -> Map<String, Value> {
    params
        .get("_meta")
        .and_then(Value::as_object)
        .map(|meta| {
            meta.iter()
                .filter(|(key, _)| !key.starts_with("io.modelcontextprotocol/"))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// What one POSTed message is.
#[derive(Debug)]
pub enum Incoming<'a> {
    Request(Request<'a>),
    /// The client's answer to a request the gateway relayed to it (its id is sealed: `v1.`).
    RelayAnswer,
    /// `notifications/roots/list_changed`: the client's roots changed.
    RootsChanged,
    /// Another notification or response: accepted, nothing to answer.
    Ignored,
}

/// Refuse a batch: one message per POST in these protocol versions.
pub fn check_single(message: &Value) -> Result<(), RpcError> {
    if message.is_array() {
        return Err(RpcError::http(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "JSON-RPC batches are not part of this protocol version: send one message per POST",
        ));
    }
    Ok(())
}

/// What `message` is, or 400 when it is not JSON-RPC 2.0.
pub fn parse(message: &Value) -> Result<Incoming<'_>, RpcError> {
    if let Some(request) = Request::of(message) {
        return Ok(Incoming::Request(request));
    }
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") || !message.is_object() {
        return Err(RpcError::http(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "not a JSON-RPC 2.0 message (`jsonrpc: \"2.0\"`, `method`, `id`)",
        ));
    }
    let method = message.get("method").and_then(Value::as_str);
    let sealed_id = message
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(|id| id.starts_with("v1."));
    Ok(match method {
        None if sealed_id => Incoming::RelayAnswer,
        Some("notifications/roots/list_changed") => Incoming::RootsChanged,
        _ => Incoming::Ignored,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_message_is_what_it_says() {
        let call =
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "x"}});
        let Ok(Incoming::Request(request)) = parse(&call) else {
            panic!("a request");
        };
        assert_eq!(request.method, Method::CallTool);
        assert!(request.method.may_ask());
        assert_eq!(request.params["name"], "x");
        let odd = json!({"jsonrpc": "2.0", "id": "a", "method": "no/such", "params": 3});
        let Ok(Incoming::Request(request)) = parse(&odd) else {
            panic!("a request");
        };
        assert_eq!((request.method, request.name), (Method::Unknown, "no/such"));
        assert!(request.params.is_empty());
        let answer = json!({"jsonrpc": "2.0", "id": "v1.abc", "result": {}});
        assert!(matches!(parse(&answer), Ok(Incoming::RelayAnswer)));
        let other = json!({"jsonrpc": "2.0", "id": "x", "result": {}});
        assert!(matches!(parse(&other), Ok(Incoming::Ignored)));
        let roots = json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"});
        assert!(matches!(parse(&roots), Ok(Incoming::RootsChanged)));
        for bad in [
            json!({"id": 1, "result": {}}),
            json!("text"),
            json!({"jsonrpc": "1.0"}),
        ] {
            assert_eq!(
                parse(&bad).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
        assert!(check_single(&json!([call])).is_err());
    }
}
