//! Command-line interface of the `llamagate` binary.

use std::{path::PathBuf, process::ExitCode};

mod direct;
mod mcp;

use clap::{Parser, Subcommand};

use llamagate_gateway::{
    config::{self, Config},
    serve::{Gateway, shutdown_signal},
    telemetry,
};

/// LlamaGate: an OpenAI-compatible gateway that gives LLMs the tools of many MCP servers.
#[derive(Debug, Parser)]
#[command(name = "llamagate", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway: `/v1/chat/completions`, `/v1/models`, `/v1/mcp/*`, `/healthz`,
    /// `/readyz` and `/metrics`.
    Serve(ServeArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage and try MCP servers: list, test, restart, tools, tool, resources, read,
    /// prompts, prompt.
    Mcp(mcp::McpArgs),
    /// Print the OpenAPI document of the HTTP API (docs/openapi.json is a copy).
    Openapi,
    /// Serve a stdio MCP server as Streamable HTTP (`/mcp`) and WebSocket (`/ws`):
    /// `llamagate bridge --port 8080 -- uvx mcp-server-time`.
    Bridge(llamagate_bridge::BridgeArgs),
    /// Copy this binary to DEST (the init container of a managed stdio server's pod puts
    /// the bridge into a shared volume with it; no shell needed).
    #[command(hide = true)]
    InstallBridge {
        /// Where the copy goes, e.g. `/llamagate/llamagate`.
        dest: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Configuration file (YAML). Without it the defaults and environment are used.
    #[arg(short, long, env = "LLAMAGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, overriding `listen` (e.g. `127.0.0.1:0` for any free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Load and validate a configuration file; print every problem, or a summary.
    Check {
        /// Configuration file (YAML).
        #[arg(short, long, env = "LLAMAGATE_CONFIG")]
        config: PathBuf,
    },
}

/// Parse the command line and run the command; the process exit code.
pub fn main() -> ExitCode {
    run(Cli::parse())
}

/// [`main`] on the given arguments (the first is the program's name), for running a
/// command as written elsewhere (the chart's `helm test` hook, in the end-to-end suite).
/// Not to be called from inside an async runtime: `mcp` commands start their own.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match Cli::try_parse_from(args) {
        Ok(cli) => run(cli),
        Err(e) => {
            let _ = e.print();
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Bridge(args) => bridge(args),
        Command::InstallBridge { dest } => match install_bridge(&dest) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("llamagate install-bridge: {}: {e}", dest.display());
                ExitCode::FAILURE
            }
        },
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&llamagate_gateway::api::openapi::document())
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Command::Mcp(args) => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!("llamagate: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(mcp::run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("llamagate: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Config(ConfigCommand::Check { config }) => match config::load(&config) {
            Ok(loaded) => {
                println!(
                    "{}: ok ({} MCP server{}, listening on {})",
                    config.display(),
                    loaded.mcp.servers.len(),
                    if loaded.mcp.servers.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    loaded.listen
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn load_config(path: Option<&std::path::Path>) -> Result<Config, config::ConfigError> {
    match path {
        Some(path) => config::load(path),
        None => config::load_from_str("", "(defaults)", &|name| std::env::var(name).ok()),
    }
}

/// Copy the running binary to `dest`, executable.
fn install_bridge(dest: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::copy(std::env::current_exe()?, dest)?;
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o755))
}

/// The runtime of the long-running commands; `None` (said on stderr) when it cannot start.
fn multi_thread_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .inspect_err(|e| eprintln!("cannot start the async runtime: {e}"))
        .ok()
}

fn bridge(args: llamagate_bridge::BridgeArgs) -> ExitCode {
    telemetry::init(&config::LogConfig::default());
    let Some(runtime) = multi_thread_runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(llamagate_bridge::run(args, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("llamagate bridge: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let mut config = match load_config(args.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let config_path = args.config.clone();
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    telemetry::init(&config.log);
    let Some(runtime) = multi_thread_runtime() else {
        return ExitCode::FAILURE;
    };
    let result = runtime.block_on(async move {
        let gateway = Gateway::bind(config).await?;
        gateway.state().set_config_path(config_path);
        gateway.run(shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("llamagate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
