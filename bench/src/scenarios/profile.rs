//! `llamagate-bench profile`: a flame graph of the gateway's hot path. The gateway proxies
//! `tools/call` to the fast upstream at the maximum rate while `perf` samples it (with DWARF
//! call graphs); `inferno` folds the stacks into an SVG. Needs `perf` (Debian's linux-perf)
//! and `inferno` (`cargo install inferno --version 0.12.3 --locked`).

use std::{
    path::Path,
    process::{Command, Stdio},
};

use anyhow::Context as _;

use crate::{harness::Harness, load::Load};

pub async fn run(harness: &Harness, out: &Path) -> anyhow::Result<()> {
    let mcp = harness.fast_mcp(false).await?;
    let servers = format!(
        "    - {{ name: up, transport: streamable-http, url: \"http://{}/mcp\" }}\n",
        mcp.addr
    );
    let gateway = harness
        .gateway("gateway-profile", &super::gateway_config(None, &servers))
        .await?;
    let target = super::execute(gateway.addr, "up", "\"hi\"");
    let load = Load::Max { connections: 32 };
    crate::load::run(&target, load, harness.warmup).await?;
    let data = harness.logs.join("perf.data");
    // 5 s at 299 Hz with 8 KiB of stack per sample: enough samples for the hot path, and a
    // `perf script` that takes seconds (10 s at 499 Hz with 16 KiB took minutes to unwind).
    let window = std::time::Duration::from_secs(5);
    let seconds = window.as_secs().to_string();
    let mut perf = Command::new("perf")
        .args(["record", "-F", "299", "--call-graph", "dwarf,8192", "-o"])
        .arg(&data)
        .args([
            "-p",
            &gateway.proc.pid().to_string(),
            "--",
            "sleep",
            &seconds,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting perf (Debian's linux-perf)")?;
    let outcome = crate::load::run(&target, load, window).await?;
    anyhow::ensure!(perf.wait()?.success(), "perf record failed");
    let script = Command::new("perf")
        .args(["script", "-i"])
        .arg(&data)
        .stderr(Stdio::null())
        .output()?;
    let folded = pipe("inferno-collapse-perf", &[], &script.stdout)?;
    let title = format!(
        "llamagate: POST /v1/mcp/execute → tools/call on the fast upstream, {:.0} calls/s",
        outcome.throughput()
    );
    let svg = pipe("inferno-flamegraph", &["--title", &title], &folded)?;
    std::fs::write(out, svg)?;
    eprintln!(
        "{} calls/s while sampled; flame graph in {}",
        outcome.throughput().round(),
        out.display()
    );
    Ok(())
}

/// Run `program` with `input` on its stdin; its stdout.
fn pipe(program: &str, args: &[&str], input: &[u8]) -> anyhow::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {program} (cargo install inferno --version 0.12.3)"))?;
    let mut stdin = child.stdin.take().context("stdin")?;
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output()?;
    let _ = writer.join();
    anyhow::ensure!(output.status.success(), "{program} failed");
    Ok(output.stdout)
}
