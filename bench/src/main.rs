//! `llamagate-bench`: the harness (`run`) and the fast upstreams it starts as processes.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use llamagate_bench::{run, upstream};

#[derive(Parser)]
#[command(version, about = "LlamaGate's side-by-side benchmark harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the comparisons and write the report.
    Run {
        /// Short measurements, to check the harness (figures not to be quoted).
        #[arg(long)]
        quick: bool,
        /// Only these scenarios: proxy, chat, many (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Where the Markdown report goes.
        #[arg(long, default_value = "target/bench/report.md")]
        out: PathBuf,
        /// The repository (for tests/peers).
        #[arg(long, default_value = ".")]
        root: PathBuf,
        /// The `llamagate` binary to measure (default: the one beside this harness).
        #[arg(long)]
        gateway: Option<PathBuf>,
    },
    /// A flame graph of the gateway proxying tools/call at the maximum rate (perf, inferno).
    Profile {
        /// Where the SVG goes.
        #[arg(long, default_value = "target/bench/flamegraph.svg")]
        out: PathBuf,
        /// The repository (for tests/peers).
        #[arg(long, default_value = ".")]
        root: PathBuf,
    },
    /// The fast MCP server (Streamable HTTP on 127.0.0.1).
    McpUpstream {
        #[arg(long)]
        port: u16,
        /// Answer as a 2025-era server (no `server/discover`).
        #[arg(long)]
        legacy_only: bool,
    },
    /// The fast scripted OpenAI-compatible server (on 127.0.0.1).
    LlmUpstream {
        #[arg(long)]
        port: u16,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run {
            quick,
            only,
            out,
            root,
            gateway,
        } => {
            run::run(run::Options {
                root,
                quick,
                only,
                out,
                gateway,
            })
            .await
        }
        Command::Profile { out, root } => run::profile(root, out).await,
        Command::McpUpstream { port, legacy_only } => upstream::mcp::run(port, legacy_only).await,
        Command::LlmUpstream { port } => upstream::llm::run(port).await,
    }
}
