//! The LlamaGate operator binary: `llamagate-operator run` reconciles `McpServer`s;
//! `llamagate-operator validate-only FILE...` checks manifests offline.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};
use llamagate_operator::{
    context::Settings,
    leader::Timings,
    resources::mcpserver::BridgeImage,
    run::{Options, run},
};

#[derive(Parser)]
#[command(
    name = "llamagate-operator",
    version,
    about = "Kubernetes operator for McpServer and LlamaGate resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reconcile McpServers (credentials: in-cluster, or KUBECONFIG / ~/.kube/config).
    Run(RunArgs),
    /// Check McpServer and LlamaGate manifests with the CRDs' rules, without a cluster.
    ValidateOnly {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Watch only this namespace (default: every namespace).
    #[arg(long, env = "LLAMAGATE_OPERATOR_NAMESPACE")]
    namespace: Option<String>,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Image with /usr/local/bin/llamagate, copied into managed stdio servers' pods.
    #[arg(
        long,
        env = "LLAMAGATE_BRIDGE_IMAGE",
        default_value = "ghcr.io/llamagate/llamagate:0.1.0"
    )]
    bridge_image: String,
    /// Run without leader election (one replica only).
    #[arg(long)]
    no_leader_election: bool,
    /// Namespace of the lease (the operator's own).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Name of the lease.
    #[arg(long, default_value = "llamagate-operator")]
    lease_name: String,
    /// This replica's name in the lease and in Events (default: the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// How long a lease holds without renewal.
    #[arg(long, default_value = "15s", value_parser = humantime_duration)]
    lease_duration: Duration,
    /// The leader stops when it could not renew for this long (shorter than the lease).
    #[arg(long, default_value = "10s", value_parser = humantime_duration)]
    renew_deadline: Duration,
    /// Time between lease attempts.
    #[arg(long, default_value = "2s", value_parser = humantime_duration)]
    retry_period: Duration,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
}

fn humantime_duration(text: &str) -> Result<Duration, String> {
    llamagate_crds::duration::parse(text)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::ValidateOnly { files } => validate(&files),
        Command::Run(args) => {
            llamagate_operator::telemetry::init(args.log_json);
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("error: cannot start the runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(start(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    tracing::error!("{error:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn start(args: RunArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await.map_err(|e| {
        anyhow::anyhow!("cannot reach Kubernetes (in-cluster, or KUBECONFIG / ~/.kube/config): {e}")
    })?;
    let identity = args.identity.unwrap_or_else(default_identity);
    let options = Options {
        namespace: args.namespace,
        listen: args.listen,
        lease: (!args.no_leader_election).then_some((args.lease_namespace, args.lease_name)),
        timings: Timings {
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
        },
        settings: Settings {
            bridge: BridgeImage {
                image: args.bridge_image,
            },
            instance: identity,
        },
    };
    run(client, options).await?;
    Ok(())
}

/// The host name plus a random suffix, so two processes on one host differ.
fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "llamagate-operator".to_owned());
    format!("{host}-{:08x}", fastrand::u32(..))
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut failed = false;
    for file in files {
        match llamagate_operator::validate_manifest_file(file) {
            Ok(count) => println!("{}: {count} resource(s) valid", file.display()),
            Err(message) => {
                eprintln!("{message}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
