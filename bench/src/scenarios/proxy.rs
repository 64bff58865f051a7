//! Scenario 1: `tools/call` straight to an MCP server versus through `/v1/mcp/execute` and
//! through the aggregated MCP endpoint (`/mcp/up`, the same MCP request in the same protocol
//! era as the direct baseline): maximum throughput at a fixed connection count, and added
//! latency at fixed rates, in front of the Node reference server and in front of the fast
//! upstream (where the gateway is the bottleneck).

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

/// The direct request of `upstream`, sent through the gateway's `/mcp/up` instead.
fn through_endpoint(upstream: &Upstream, gateway: std::net::SocketAddr) -> Target {
    let mut target = upstream.direct.clone();
    target.addr = gateway;
    target.path = "/mcp/up".to_owned();
    target
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
    let mut endpoint_rows = Vec::new();
    for kind in ["everything", "fast-stateless", "fast-legacy"] {
        let upstream = start(harness, kind).await?;
        endpoint_rows.extend(compare(harness, report, &upstream).await?);
    }
    report.add(&format!(
        "\n### tools/call through the aggregated MCP endpoint (`/mcp/up`)\n\n\
         The direct request itself, in the same era (stateless or sessions, the same \
         {CONNECTIONS} connections), sent to the gateway's `/mcp/up`; direct figures are the \
         ones of the table above.\n\n\
         | upstream | load | through `/mcp/up`: req/s; p50 / p99 | ratio to direct | added p50 / p99 | gateway CPU/call |\n\
         |---|---|---|---|---|---|"
    ));
    for row in endpoint_rows {
        report.add(&row);
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

/// The `/v1/mcp/execute` rows go to the report; the `/mcp/up` rows are returned.
async fn compare(
    harness: &Harness,
    report: &mut Report,
    upstream: &Upstream,
) -> anyhow::Result<Vec<String>> {
    let servers = format!(
        "    - {{ name: up, transport: streamable-http, url: \"http://{}/mcp\" }}\n",
        upstream.server.addr
    );
    let gateway = harness
        .gateway("gateway-proxy", &super::gateway_config(None, &servers))
        .await?;
    let through = super::execute(gateway.addr, "up", upstream.expect);
    let endpoint = through_endpoint(upstream, gateway.addr);
    let mut endpoint_rows = Vec::new();
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
        let via_endpoint = harness
            .measure(&endpoint, load, &[&gateway.proc, up])
            .await?;
        endpoint_rows.push(format!(
            "| {} | {label} | {} | {} | {} | {:.0} µs |",
            upstream.label,
            figures(&via_endpoint),
            ratio(
                via_endpoint.outcome.throughput(),
                direct.outcome.throughput()
            ),
            added(&via_endpoint, &direct),
            via_endpoint.cpu_us[0],
        ));
    }
    Ok(endpoint_rows)
}
