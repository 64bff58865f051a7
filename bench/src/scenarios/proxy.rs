//! Scenario 1: `tools/call` straight to an MCP server versus through `/v1/mcp/execute`: maximum
//! throughput at a fixed connection count, and added latency at fixed rates, in front of the
//! Node reference server and in front of the fast upstream (where the gateway is the bottleneck).

use crate::{
    harness::{Harness, Server},
    load::{Load, Target},
    report::{Report, added, count, figures, ratio},
};

/// Connections of the maximum-throughput runs.
pub const CONNECTIONS: usize = 32;
/// Fixed rates, requests per second.
pub const RATES: [u32; 2] = [500, 2000];

struct Upstream {
    label: &'static str,
    server: Server,
    direct: Target,
    expect: &'static str,
}

pub async fn run(harness: &Harness, report: &mut Report) -> anyhow::Result<()> {
    report.add(&format!(
        "\n## 1. tools/call: direct vs through the gateway\n\n\
         `echo` called over Streamable HTTP; maximum throughput at {CONNECTIONS} connections, \
         latency at fixed rates (64 connections, latency from when each request was due). \
         CPU is per answered call, of the whole process.\n\n\
         | upstream | load | direct: req/s; p50 / p99 | through `/v1/mcp/execute` | ratio | added p50 / p99 | gateway CPU/call | upstream CPU/call direct → through | gateway RSS |\n\
         |---|---|---|---|---|---|---|---|---|"
    ));
    for kind in ["everything", "fast-stateless", "fast-legacy"] {
        let upstream = start(harness, kind).await?;
        compare(harness, report, &upstream).await?;
    }
    Ok(())
}

async fn start(harness: &Harness, kind: &str) -> anyhow::Result<Upstream> {
    use super::{session_call, stateless_call};
    Ok(match kind {
        "everything" => {
            let server = harness.everything().await?;
            let direct = session_call(server.addr, "Echo: hi");
            Upstream {
                label: "server-everything (Node, 2025-11-25 sessions)",
                server,
                direct,
                expect: "Echo: hi",
            }
        }
        "fast-stateless" => {
            let server = harness.fast_mcp(false).await?;
            let direct = stateless_call(server.addr, "\"hi\"");
            Upstream {
                label: "fast Rust upstream, 2026-07-28 stateless",
                server,
                direct,
                expect: "\"hi\"",
            }
        }
        _ => {
            let server = harness.fast_mcp(true).await?;
            let direct = session_call(server.addr, "\"hi\"");
            Upstream {
                label: "fast Rust upstream, 2025-11-25 sessions",
                server,
                direct,
                expect: "\"hi\"",
            }
        }
    })
}

async fn compare(
    harness: &Harness,
    report: &mut Report,
    upstream: &Upstream,
) -> anyhow::Result<()> {
    let servers = format!(
        "    - {{ name: up, transport: streamable-http, url: \"http://{}/mcp\" }}\n",
        upstream.server.addr
    );
    let gateway = harness
        .gateway("gateway-proxy", &super::gateway_config(None, &servers))
        .await?;
    let through = super::execute(gateway.addr, "up", upstream.expect);
    let loads = std::iter::once(Load::Max {
        connections: CONNECTIONS,
    })
    .chain(RATES.map(|per_second| Load::Rate {
        per_second,
        connections: 64,
    }));
    for load in loads {
        let up = &upstream.server.proc;
        let direct = harness.measure(&upstream.direct, load, &[up]).await?;
        let via = harness
            .measure(&through, load, &[&gateway.proc, up])
            .await?;
        let label = match load {
            Load::Max { connections } => format!("max, {connections} conns"),
            Load::Rate { per_second, .. } => format!("{} req/s", count(f64::from(per_second))),
        };
        report.add(&format!(
            "| {} | {label} | {} | {} | {} | {} | {:.0} µs | {:.0} → {:.0} µs | {:.0} MiB |",
            upstream.label,
            figures(&direct),
            figures(&via),
            ratio(via.outcome.throughput(), direct.outcome.throughput()),
            added(&via, &direct),
            via.cpu_us[0],
            direct.cpu_us[0],
            via.cpu_us[1],
            gateway.proc.rss_mib(),
        ));
    }
    Ok(())
}
