//! `llamagate mcp --config FILE …`: the commands run straight against a server of a
//! configuration file, with the gateway's own client and no gateway; with
//! `--elicitation accept-defaults`, a server's requests for user input are answered.

use std::time::Duration;

use clap::ValueEnum;
use serde_json::{Map, Value, json};

use llamagate_mcp::{
    Context, Elicitation, McpMetrics, ServerClient,
    cache::ListKind,
    server::operations::{ToolCall, ToolOutcome},
};

use super::mcp::{McpCommand, parse_args};
use llamagate_gateway::config;

/// How `--config` commands answer requests for user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ElicitationAnswer {
    /// Decline, as the gateway does.
    Decline,
    /// Accept each form with its schema's defaults.
    AcceptDefaults,
}

impl From<ElicitationAnswer> for Elicitation {
    fn from(answer: ElicitationAnswer) -> Self {
        match answer {
            ElicitationAnswer::Decline => Elicitation::Decline,
            ElicitationAnswer::AcceptDefaults => Elicitation::AcceptDefaults,
        }
    }
}

/// Connect to the server named in a configuration file, without a gateway, and run
/// `command` there.
pub(super) async fn run(
    path: &std::path::Path,
    command: &McpCommand,
    elicitation: Elicitation,
) -> Result<Value, String> {
    let config = config::load(path).map_err(|e| e.to_string().replace('\n', "; "))?;
    let name = match command {
        McpCommand::List | McpCommand::Restart { .. } => {
            return Err(
                "`list` and `restart` act on a running gateway (--url), not --config".to_owned(),
            );
        }
        McpCommand::Test { server }
        | McpCommand::Tools { server }
        | McpCommand::Tool { server, .. }
        | McpCommand::Resources { server }
        | McpCommand::Read { server, .. }
        | McpCommand::Prompts { server }
        | McpCommand::Prompt { server, .. } => server,
    };
    let description = config
        .mcp
        .servers
        .iter()
        .find(|s| &s.name == name)
        .ok_or_else(|| format!("{}: no MCP server named `{name}`", path.display()))?
        .describe(&config.mcp)
        .map_err(|e| format!("{}: server `{name}`: {e}", path.display()))?;
    let context = Context::new(McpMetrics::unregistered())
        .with_link_local_allowed(config.mcp.allow_link_local_addresses)
        .with_elicitation(elicitation);
    let client = ServerClient::new(description, &context);
    let result = direct_command(&client, command, elicitation).await;
    client.stop(Duration::from_secs(2)).await;
    result.map_err(|e| e.to_string())
}

async fn direct_command(
    client: &ServerClient,
    command: &McpCommand,
    elicitation: Elicitation,
) -> Result<Value, llamagate_mcp::error::McpError> {
    client.connect_vacant().await?;
    match command {
        McpCommand::Test { .. } => {
            let latency = client.probe_now().await?;
            Ok(
                json!({"name": client.name(), "health": client.health(), "session": client.info(), "probe": {"ok": true, "latency_ms": latency.as_secs_f64() * 1000.0}}),
            )
        }
        McpCommand::Tools { .. } => {
            let (tools, _) = client.list(ListKind::Tools, "cli").await?;
            Ok(json!({"server": client.name(), "data": *tools}))
        }
        McpCommand::Tool {
            tool,
            args,
            json: json_args,
            ..
        } => {
            let arguments = parse_args(args, json_args.as_deref(), false).map_err(|detail| {
                llamagate_mcp::error::McpError::Protocol {
                    server: client.name().to_owned(),
                    method: "tools/call".to_owned(),
                    detail,
                }
            })?;
            let call = ToolCall {
                name: tool.clone(),
                arguments,
                ..Default::default()
            };
            let outcome = call_answering_input(client, call, elicitation).await?;
            let is_error = outcome.is_error();
            let result = match outcome {
                ToolOutcome::Complete { result } | ToolOutcome::InputRequired { result } => result,
            };
            Ok(
                json!({"server": client.name(), "tool": tool, "result": result, "is_error": is_error}),
            )
        }
        McpCommand::Resources { .. } => {
            let (resources, _) = client.list(ListKind::Resources, "cli").await?;
            let (templates, _) = client.list(ListKind::ResourceTemplates, "cli").await?;
            Ok(json!({"server": client.name(), "data": *resources, "templates": *templates}))
        }
        McpCommand::Read { uri, .. } => client.read_resource(uri, Map::new()).await,
        McpCommand::Prompts { .. } => {
            let (prompts, _) = client.list(ListKind::Prompts, "cli").await?;
            Ok(json!({"server": client.name(), "data": *prompts}))
        }
        McpCommand::Prompt { name, args, .. } => {
            let arguments = parse_args(args, None, true).map_err(|detail| {
                llamagate_mcp::error::McpError::Protocol {
                    server: client.name().to_owned(),
                    method: "prompts/get".to_owned(),
                    detail,
                }
            })?;
            client.get_prompt(name, arguments).await
        }
        McpCommand::List | McpCommand::Restart { .. } => unreachable!("refused by `run`"),
    }
}

/// Most rounds of `input_required` answered for one call before its result is shown as it is.
const MAX_INPUT_ROUNDS: usize = 8;

/// `tools/call`, and with `accept-defaults`, each `input_required` answered (SEP-2322): every
/// form accepted with its defaults, the call sent again with those `inputResponses` and
/// the server's `requestState` exactly as it came.
async fn call_answering_input(
    client: &ServerClient,
    mut call: ToolCall,
    elicitation: Elicitation,
) -> Result<ToolOutcome, llamagate_mcp::error::McpError> {
    for _ in 0..MAX_INPUT_ROUNDS {
        let outcome = client.call_tool(call.clone()).await?;
        let ToolOutcome::InputRequired { result } = &outcome else {
            return Ok(outcome);
        };
        let Some(responses) = (elicitation == Elicitation::AcceptDefaults)
            .then(|| input_responses(result))
            .flatten()
        else {
            return Ok(outcome);
        };
        call.input_responses = Some(responses);
        call.request_state = result
            .get("requestState")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    client.call_tool(call).await
}

/// Answers to an `input_required` result's forms (`elicitation/create`), by key; `None` when
/// it asks for something else too (sampling, roots), which the CLI cannot give.
fn input_responses(result: &Value) -> Option<Value> {
    let requests = result.get("inputRequests")?.as_object()?;
    let mut responses = Map::new();
    for (key, request) in requests {
        if request.get("method")? != "elicitation/create" {
            return None;
        }
        let schema = &request["params"]["requestedSchema"];
        let content = llamagate_mcp::client_handler::form_defaults(schema);
        responses.insert(key.clone(), json!({"action": "accept", "content": content}));
    }
    Some(Value::Object(responses))
}
