//! `llamagate-bench run`: every scenario in turn, the report at the end.

use std::{path::PathBuf, process::Command, time::Duration};

use crate::{
    harness::{Harness, version_of},
    report::Report,
    scenarios,
};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub root: PathBuf,
    /// Short runs (3 s per measurement, 10 s idle windows): to check the harness, not to quote.
    pub quick: bool,
    /// Scenarios by name (`proxy`, `chat`, `many`); all when empty.
    pub only: Vec<String>,
    pub out: PathBuf,
    /// The `llamagate` binary to measure (another build, say); default: beside the harness.
    pub gateway: Option<PathBuf>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let harness = Harness::new(options.root.clone(), options.quick, options.gateway.clone())?;
    let mut report = Report::default();
    report.add(&header(&harness));
    let wanted = |name: &str| options.only.is_empty() || options.only.iter().any(|o| o == name);
    if wanted("proxy") {
        scenarios::proxy::run(&harness, &mut report).await?;
    }
    if wanted("chat") {
        scenarios::chat::run(&harness, &mut report).await?;
    }
    if wanted("many") {
        let idle = Duration::from_secs(if options.quick { 10 } else { 60 });
        scenarios::many::run(&harness, &mut report, idle).await?;
    }
    report.add(&others());
    std::fs::write(&options.out, report.text())?;
    eprintln!("report written to {}", options.out.display());
    Ok(())
}

/// `llamagate-bench profile`: the flame graph of the hot path (5 s sampled).
pub async fn profile(root: PathBuf, out: PathBuf) -> anyhow::Result<()> {
    let harness = Harness::new(root, false, None)?;
    scenarios::profile::run(&harness, &out).await
}

fn header(harness: &Harness) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let package = harness
        .peers()
        .join("node_modules/@modelcontextprotocol/server-everything/package.json");
    let everything = std::fs::read_to_string(package)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "not installed".to_owned());
    let commit = version_of("git".as_ref(), &["rev-parse", "--short", "HEAD"]);
    format!(
        "# Benchmark run\n\n\
         - machine: {cores} cores ({cpu}), Linux {}; load generator, gateway and upstreams share them\n\
         - {} (commit {commit}), node {}, @modelcontextprotocol/server-everything {everything}\n\
         - each figure: {} s measured after {} s of warm-up",
        version_of("uname".as_ref(), &["-r"]),
        version_of(&harness.llamagate, &["--version"]),
        version_of("node".as_ref(), &["--version"]),
        harness.duration.as_secs(),
        harness.warmup.as_secs(),
    )
}

/// The other gateways of `PEERS.md`, when installed.
fn others() -> String {
    let found = |program: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut lines = String::from("\n## 5. Other gateways\n");
    for (name, program) in [
        ("ContextForge (`mcp-contextforge-gateway`)", "mcpgateway"),
        ("LiteLLM proxy", "litellm"),
    ] {
        let state = if found(program) {
            "installed, but this harness does not drive it yet: skipped"
        } else {
            "not installed here: skipped"
        };
        lines.push_str(&format!("\n- {name}: {state}"));
    }
    lines
}
