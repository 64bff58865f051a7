//! Multi-round-trip input through `/mcp` (2026-07-28 `input_required`): when an upstream
//! needs the user (elicitation, sampling, roots) to finish a call, a stateless client gets
//! the upstream's questions with a `requestState` the gateway sealed, holding the server,
//! the tool, the key and the upstream's own state. The client's retry may land on any
//! replica: the state opens there, names where the call goes, and refuses to be replayed
//! under another key, against another tool, tampered with, or after an hour.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{
    Sessions, now,
    rpc::RpcError,
    stateless::{Declared, MISSING_CAPABILITY},
};

const PURPOSE: &[u8] = b"llamagate-request-state-v1";

/// How long an answer to an input request may take.
const STATE_TTL_SECS: u64 = 3600;

/// What a sealed `requestState` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RequestState {
    exp: u64,
    key: String,
    view: String,
    server: String,
    tool: String,
    /// The upstream's own `requestState`, handed back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    up: Option<String>,
}

/// Where one call stands: who makes it, through which endpoint, to which tool.
pub struct CallSite<'a> {
    /// The key's name.
    pub key: &'a str,
    /// `/mcp` or `/mcp/<server>`.
    pub view: &'a str,
    /// The upstream server.
    pub server: &'a str,
    /// The tool's name on it.
    pub tool: &'a str,
}

/// The answers of a retried call, for the upstream.
#[derive(Debug, Default)]
pub struct Retry {
    /// `inputResponses`, each an object.
    pub input_responses: Option<Value>,
    /// The upstream's `requestState` from the sealed one.
    pub request_state: Option<String>,
}

/// `inputResponses` and `requestState` of a call, checked.
pub fn retry(
    sessions: &Sessions,
    params: &Map<String, Value>,
    site: &CallSite<'_>,
) -> Result<Retry, RpcError> {
    let input_responses = match params.get("inputResponses") {
        None => None,
        Some(Value::Object(answers)) => {
            if let Some((key, _)) = answers.iter().find(|(_, answer)| !answer.is_object()) {
                return Err(RpcError::params(format!(
                    "`params.inputResponses.{key:.80}` must be an object: the answer to the input request of that key"
                )));
            }
            Some(Value::Object(answers.clone()))
        }
        Some(_) => {
            return Err(RpcError::params(
                "`params.inputResponses` must be an object of answers, keyed as the `inputRequests` were",
            ));
        }
    };
    let request_state = match params.get("requestState") {
        None | Some(Value::Null) => None,
        Some(Value::String(token)) => {
            let state = sessions
                .sealer
                .open_as::<RequestState>(PURPOSE, token)
                .filter(|s| {
                    s.exp > now()
                        && s.key == site.key
                        && s.view == site.view
                        && s.server == site.server
                        && s.tool == site.tool
                })
                .ok_or_else(|| {
                    RpcError::params(
                        "`params.requestState` is not one this gateway gave for this call (changed, expired, or for another key or tool): call again without it",
                    )
                })?;
            state.up
        }
        Some(_) => {
            return Err(RpcError::params(
                "`params.requestState` must be the string the `input_required` result gave",
            ));
        }
    };
    Ok(Retry {
        input_responses,
        request_state,
    })
}

/// The client capability an input request needs (both eras' relays).
pub(super) fn capability(method: &str) -> Option<&'static str> {
    match method {
        "elicitation/create" => Some("elicitation"),
        "sampling/createMessage" => Some("sampling"),
        "roots/list" => Some("roots"),
        _ => None,
    }
}

/// An upstream's `input_required` result for the client: refused with -32021 when it asks
/// what the client did not declare, else with the gateway's sealed `requestState`.
pub fn for_client(
    sessions: &Sessions,
    mut result: Value,
    declared: &Declared,
    site: &CallSite<'_>,
) -> Result<Value, RpcError> {
    let mut missing = Map::new();
    if let Some(requests) = result.get("inputRequests").and_then(Value::as_object) {
        for request in requests.values() {
            let needed = request
                .get("method")
                .and_then(Value::as_str)
                .and_then(capability);
            if let Some(needed) = needed
                && !declared.capabilities.contains_key(needed)
            {
                missing.insert(needed.into(), json!({}));
            }
        }
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.keys().map(String::as_str).collect();
        return Err(RpcError::http(
            axum::http::StatusCode::BAD_REQUEST,
            MISSING_CAPABILITY,
            format!(
                "MCP server `{}` needs the client's {} capability to finish `{}`: declare it in `_meta[\"io.modelcontextprotocol/clientCapabilities\"]`",
                site.server,
                names.join(" and "),
                site.tool
            ),
        )
        .with_data(json!({"requiredCapabilities": missing})));
    }
    let state = RequestState {
        exp: now() + STATE_TTL_SECS,
        key: site.key.to_owned(),
        view: site.view.to_owned(),
        server: site.server.to_owned(),
        tool: site.tool.to_owned(),
        up: result
            .get("requestState")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    result["requestState"] = json!(sessions.sealer.seal_as(PURPOSE, &state));
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EndpointConfig;

    fn site<'a>(key: &'a str, tool: &'a str) -> CallSite<'a> {
        CallSite {
            key,
            view: "/mcp",
            server: "forms",
            tool,
        }
    }

    fn asked() -> Value {
        json!({
            "resultType": "input_required",
            "inputRequests": {"ok": {"method": "elicitation/create", "params": {}}},
            "requestState": "upstream-state",
        })
    }

    fn declared(capabilities: Value) -> Declared {
        Declared {
            capabilities: capabilities.as_object().unwrap().clone(),
            ..Declared::default()
        }
    }

    #[test]
    fn the_sealed_state_brings_the_upstreams_back_only_for_the_same_call() {
        let sessions = Sessions::new(&EndpointConfig::default());
        let given = for_client(
            &sessions,
            asked(),
            &declared(json!({"elicitation": {}})),
            &site("alice", "confirm"),
        )
        .unwrap();
        let token = given["requestState"].as_str().unwrap();
        assert!(!token.contains("upstream-state"), "sealed, not shown");
        let params = |state: &str| {
            json!({"requestState": state, "inputResponses": {"ok": {"action": "accept"}}})
                .as_object()
                .unwrap()
                .clone()
        };
        let back = retry(&sessions, &params(token), &site("alice", "confirm")).unwrap();
        assert_eq!(back.request_state.as_deref(), Some("upstream-state"));
        assert_eq!(back.input_responses.unwrap()["ok"]["action"], "accept");
        for (who, tool) in [("bob", "confirm"), ("alice", "delete")] {
            let refused = retry(&sessions, &params(token), &site(who, tool)).unwrap_err();
            assert!(refused.message.contains("requestState"), "{refused:?}");
        }
        let forged = retry(
            &sessions,
            &params("upstream-state"),
            &site("alice", "confirm"),
        );
        assert!(forged.is_err());
    }

    #[test]
    fn questions_the_client_cannot_answer_are_refused_with_what_it_lacks() {
        let sessions = Sessions::new(&EndpointConfig::default());
        let refused = for_client(
            &sessions,
            asked(),
            &declared(json!({"sampling": {}})),
            &site("alice", "confirm"),
        )
        .unwrap_err();
        assert_eq!(refused.code, MISSING_CAPABILITY);
        assert_eq!(refused.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.data.unwrap()["requiredCapabilities"],
            json!({"elicitation": {}})
        );
    }

    #[test]
    fn answers_must_be_objects() {
        let sessions = Sessions::new(&EndpointConfig::default());
        for bad in [
            json!({"inputResponses": null}),
            json!({"inputResponses": {"user_name": 12345}}),
            json!({"inputResponses": []}),
            json!({"requestState": 7}),
        ] {
            let params = bad.as_object().unwrap().clone();
            let error = retry(&sessions, &params, &site("a", "t")).unwrap_err();
            assert_eq!(error.code, super::super::rpc::INVALID_PARAMS, "{bad}");
        }
    }
}
