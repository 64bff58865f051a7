//! Scenario 3: chat completions straight to the fast scripted LLM versus through the gateway
//! (separate processes), without tools and with one round of three MCP calls on the fast upstream.

use crate::{
    harness::Harness,
    load::Load,
    report::{Report, added, count, figures, ratio},
};

pub async fn run(harness: &Harness, report: &mut Report) -> anyhow::Result<()> {
    let llm = harness.fast_llm().await?;
    let mcp = harness.fast_mcp(false).await?;
    let servers = format!(
        "    - {{ name: up, transport: streamable-http, url: \"http://{}/mcp\" }}\n",
        mcp.addr
    );
    let gateway = harness
        .gateway(
            "gateway-chat",
            &super::gateway_config(Some(llm.addr), &servers),
        )
        .await?;
    report.add(
        "\n## 3. Chat completions: direct vs through the gateway\n\n\
         The fast scripted LLM answers at once. Through the gateway the request also carries \
         the MCP server's tool (the gateway adds it). \"Tools\": the model asks for three `echo` \
         calls at once, the gateway runs them on the fast MCP upstream and asks again; the \
         baseline is still one direct chat round trip.\n\n\
         | case | load | direct: req/s; p50 / p99 | through the gateway | ratio | added p50 / p99 | gateway CPU/request | gateway RSS |\n\
         |---|---|---|---|---|---|---|---|",
    );
    let direct = super::chat(llm.addr, "hi");
    let loads = [
        Load::Max { connections: 32 },
        Load::Rate {
            per_second: 1000,
            connections: 64,
        },
    ];
    for (case, content) in [("no tools", "hi"), ("one round of 3 MCP calls", "tools")] {
        let through = super::chat(gateway.addr, content);
        for load in loads {
            let base = harness.measure(&direct, load, &[&llm.proc]).await?;
            let via = harness.measure(&through, load, &[&gateway.proc]).await?;
            let label = match load {
                Load::Max { connections } => format!("max, {connections} conns"),
                Load::Rate { per_second, .. } => format!("{} req/s", count(f64::from(per_second))),
            };
            report.add(&format!(
                "| {case} | {label} | {} | {} | {} | {} | {:.0} µs | {:.0} MiB |",
                figures(&base),
                figures(&via),
                ratio(via.outcome.throughput(), base.outcome.throughput()),
                added(&via, &base),
                via.cpu_us[0],
                gateway.proc.rss_mib(),
            ));
        }
    }
    Ok(())
}
