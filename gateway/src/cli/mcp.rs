//! `llamagate mcp …`: manage and try MCP servers, through a running gateway (`--url`) or,
//! for every command but `list` and `restart`, directly from a configuration file
//! (`--config`).

use std::{path::PathBuf, time::Duration};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use llamagate_mcp::{
    Context, Elicitation, McpMetrics, ServerClient,
    cache::ListKind,
    server::operations::{ToolCall, ToolOutcome},
};

use crate::config;

/// Options shared by every `mcp` command.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Gateway to talk to.
    #[arg(
        long,
        env = "LLAMAGATE_URL",
        default_value = "http://127.0.0.1:11435",
        global = true
    )]
    url: String,
    /// API key for the gateway (sent as `Authorization: Bearer`).
    #[arg(long, env = "LLAMAGATE_API_KEY", hide_env_values = true, global = true)]
    api_key: Option<String>,
    /// Connect to the server directly using this configuration file instead of a gateway
    /// (every command but `list` and `restart`).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// `table` for people, `json` for scripts.
    #[arg(long, short, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,
    /// With `--config`: how to answer a server that asks for user input (elicitation, or a
    /// 2026 `input_required` result): `decline`, or `accept-defaults` to accept each form
    /// with the defaults its schema gives and retry.
    #[arg(long, value_enum, default_value_t = ElicitationAnswer::Decline, global = true)]
    elicitation: ElicitationAnswer,
    #[command(subcommand)]
    command: McpCommand,
}

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

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// The JSON the gateway returned.
    Json,
}

#[derive(Debug, Subcommand)]
enum McpCommand {
    /// List servers with state, transport, tools and latency.
    List,
    /// Probe a server now and report its health.
    Test { server: String },
    /// Restart a server (stdio: new process; remote: new sessions).
    Restart { server: String },
    /// List a server's tools.
    Tools { server: String },
    /// Call a tool: `--arg k=v` (values parsed as JSON when they parse) or `--json '{...}'`.
    Tool {
        server: String,
        tool: String,
        /// An argument `name=value`; repeat for more.
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
        /// All arguments as one JSON object.
        #[arg(long, conflicts_with = "args")]
        json: Option<String>,
    },
    /// List a server's resources and resource templates.
    Resources { server: String },
    /// Read a resource.
    Read { server: String, uri: String },
    /// List a server's prompts.
    Prompts { server: String },
    /// Get a prompt with arguments `--arg name=value`.
    Prompt {
        server: String,
        name: String,
        /// An argument `name=value`; repeat for more.
        #[arg(long = "arg", value_name = "NAME=VALUE")]
        args: Vec<String>,
    },
}

/// Run an `mcp` command; `Err` is a one-line message for stderr.
pub async fn run(args: McpArgs) -> Result<(), String> {
    let output = args.output;
    let value = match &args.config {
        Some(path) => direct(path, &args.command, args.elicitation.into()).await?,
        None => through_gateway(&args).await?,
    };
    print(&args.command, output, &value);
    Ok(())
}

fn parse_args(
    pairs: &[String],
    json_args: Option<&str>,
    strings_only: bool,
) -> Result<Map<String, Value>, String> {
    if let Some(text) = json_args {
        return match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err("--json must be a JSON object, e.g. '{\"a\": 1}'".to_owned()),
            Err(e) => Err(format!("--json is not valid JSON: {e}")),
        };
    }
    let mut map = Map::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("--arg `{pair}` must look like name=value"))?;
        let value = if strings_only {
            Value::String(value.to_owned())
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()))
        };
        map.insert(key.to_owned(), value);
    }
    Ok(map)
}

async fn through_gateway(args: &McpArgs) -> Result<Value, String> {
    let base = args.url.trim_end_matches('/');
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let (method, path, body) = match &args.command {
        McpCommand::List => ("GET", "/v1/mcp/servers".to_owned(), None),
        McpCommand::Test { server } => (
            "GET",
            format!("/v1/mcp/servers/{}/health?probe=true", enc(server)),
            None,
        ),
        McpCommand::Restart { server } => (
            "POST",
            format!("/v1/mcp/servers/{}/restart", enc(server)),
            None,
        ),
        McpCommand::Tools { server } => (
            "GET",
            format!("/v1/mcp/servers/{}/tools", enc(server)),
            None,
        ),
        McpCommand::Tool {
            server,
            tool,
            args: pairs,
            json,
        } => {
            let arguments = parse_args(pairs, json.as_deref(), false)?;
            (
                "POST",
                format!("/v1/mcp/servers/{}/tools/{}", enc(server), enc(tool)),
                Some(Value::Object(arguments)),
            )
        }
        McpCommand::Resources { server } => (
            "GET",
            format!("/v1/mcp/servers/{}/resources", enc(server)),
            None,
        ),
        McpCommand::Read { server, uri } => (
            "GET",
            format!("/v1/mcp/servers/{}/resources/{}", enc(server), enc(uri)),
            None,
        ),
        McpCommand::Prompts { server } => (
            "GET",
            format!("/v1/mcp/servers/{}/prompts", enc(server)),
            None,
        ),
        McpCommand::Prompt {
            server,
            name,
            args: pairs,
        } => {
            let arguments = parse_args(pairs, None, true)?;
            (
                "POST",
                format!("/v1/mcp/servers/{}/prompts/{}", enc(server), enc(name)),
                Some(Value::Object(arguments)),
            )
        }
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{base}{path}");
    let mut request = if method == "GET" {
        client.get(&url)
    } else {
        client.post(&url)
    };
    if let Some(key) = &args.api_key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.map_err(|e| {
        format!(
            "cannot reach the gateway at {base}: {}",
            llamagate_mcp::error::error_chain(&e.without_url())
        )
    })?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let message = value["error"]["message"].as_str().unwrap_or("no details");
        return Err(format!("{status}: {message}"));
    }
    if matches!(args.command, McpCommand::Test { .. }) && value["probe"]["ok"] == false {
        return Err(format!(
            "{}: {}",
            value["name"].as_str().unwrap_or(""),
            value["probe"]["error"].as_str().unwrap_or("probe failed")
        ));
    }
    Ok(value)
}

/// Connect to the server named in a configuration file, without a gateway.
async fn direct(
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
        McpCommand::List | McpCommand::Restart { .. } => unreachable!("refused by `direct`"),
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

fn print(command: &McpCommand, output: Output, value: &Value) {
    if output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
        return;
    }
    let rows: Vec<Vec<String>> = match command {
        McpCommand::List => {
            let mut rows = vec![
                vec![
                    "NAME",
                    "STATE",
                    "TRANSPORT",
                    "PROTOCOL",
                    "SESSIONS",
                    "LATENCY",
                    "LAST ERROR",
                ]
                .into_iter()
                .map(String::from)
                .collect(),
            ];
            for server in value["data"].as_array().into_iter().flatten() {
                rows.push(vec![
                    text(&server["name"]),
                    text(&server["state"]),
                    text(&server["transport"]),
                    text(&server["session"]["protocol_version"]),
                    format!("{}/{}", server["pool"]["sessions"], server["pool"]["size"]),
                    server["health"]["latency_ms"]
                        .as_f64()
                        .map(|l| format!("{l:.1}ms"))
                        .unwrap_or_else(|| "-".into()),
                    text(&server["health"]["last_error"]),
                ]);
            }
            rows
        }
        McpCommand::Tools { .. } => listing(value, &["name", "description"]),
        McpCommand::Prompts { .. } => listing(value, &["name", "description"]),
        McpCommand::Resources { .. } => {
            let mut rows = listing(value, &["uri", "name", "mimeType"]);
            for template in value["templates"].as_array().into_iter().flatten() {
                rows.push(vec![
                    text(&template["uriTemplate"]),
                    text(&template["name"]),
                    text(&template["mimeType"]),
                ]);
            }
            rows
        }
        McpCommand::Test { .. } => {
            println!(
                "{}: ok ({:.1}ms, {})",
                text(&value["name"]),
                value["probe"]["latency_ms"].as_f64().unwrap_or(0.0),
                text(&value["health"]["state"])
            );
            return;
        }
        McpCommand::Restart { .. } => {
            println!(
                "{}: restarted ({})",
                text(&value["name"]),
                text(&value["state"])
            );
            return;
        }
        McpCommand::Tool { .. } => {
            let contents = value["result"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for block in &contents {
                match block["text"].as_str() {
                    Some(text) => println!("{text}"),
                    None => println!("{block}"),
                }
            }
            if value["is_error"] == true {
                eprintln!("(the tool reported an error)");
            }
            return;
        }
        McpCommand::Read { .. } | McpCommand::Prompt { .. } => {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
            return;
        }
    };
    print_table(&rows);
}

fn listing(value: &Value, columns: &[&str]) -> Vec<Vec<String>> {
    let mut rows = vec![columns.iter().map(|c| c.to_uppercase()).collect()];
    for item in value["data"].as_array().into_iter().flatten() {
        rows.push(columns.iter().map(|c| text(&item[*c])).collect());
    }
    rows
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(80)
            .collect(),
        other => other.to_string(),
    }
}

fn print_table(rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}
