//! `llamagate mcp …`: manage and try MCP servers, through a running gateway (`--url`) or,
//! for every command but `list` and `restart`, directly from a configuration file
//! (`--config`, in `direct.rs`).

use std::{path::PathBuf, time::Duration};

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value};

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
    #[arg(long, value_enum, default_value_t = super::direct::ElicitationAnswer::Decline, global = true)]
    elicitation: super::direct::ElicitationAnswer,
    #[command(subcommand)]
    command: McpCommand,
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
pub(super) enum McpCommand {
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
        Some(path) => super::direct::run(path, &args.command, args.elicitation.into()).await?,
        None if args.elicitation != super::direct::ElicitationAnswer::Decline => {
            return Err("--elicitation works with --config: through a gateway, the gateway answers (it declines)".to_owned());
        }
        None => through_gateway(&args).await?,
    };
    print(&args.command, output, &value);
    Ok(())
}

pub(super) fn parse_args(
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

/// The management API request of `command`: method, path, body.
fn route(command: &McpCommand) -> Result<(&'static str, String, Option<Value>), String> {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    Ok(match command {
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
    })
}

async fn through_gateway(args: &McpArgs) -> Result<Value, String> {
    let base = args.url.trim_end_matches('/');
    let (method, path, body) = route(&args.command)?;
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

fn print(command: &McpCommand, output: Output, value: &Value) {
    if output == Output::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_default()
        );
        return;
    }
    let rows: Vec<Vec<String>> = match command {
        McpCommand::List => server_rows(value),
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
        McpCommand::Tool { .. } => return print_tool_result(value),
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

/// `mcp list` as a table: one row per server.
fn server_rows(value: &Value) -> Vec<Vec<String>> {
    let header = [
        "NAME",
        "STATE",
        "TRANSPORT",
        "PROTOCOL",
        "SESSIONS",
        "LATENCY",
        "LAST ERROR",
    ];
    let mut rows = vec![header.into_iter().map(String::from).collect()];
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

/// `mcp tool`: the text of each content block, others as JSON; an error result said so.
fn print_tool_result(value: &Value) {
    for block in value["result"]["content"].as_array().into_iter().flatten() {
        match block["text"].as_str() {
            Some(text) => println!("{text}"),
            None => println!("{block}"),
        }
    }
    if value["is_error"] == true {
        eprintln!("(the tool reported an error)");
    }
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
