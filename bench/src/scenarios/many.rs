//! Scenario 4: many MCP servers on one replica (20, 200, 1,000 entries, all on the fast upstream):
//! start-up to all healthy, RSS, the chat round trip that lists every server's tools, and the
//! CPU of health monitoring at the default interval while nothing else happens.

use std::time::{Duration, Instant};

use crate::{
    harness::{self, Harness},
    load::Load,
    report::{Report, count},
};

/// The default `health_check_interval`.
const INTERVAL: Duration = Duration::from_secs(60);

pub async fn run(harness: &Harness, report: &mut Report, idle: Duration) -> anyhow::Result<()> {
    let llm = harness.fast_llm().await?;
    let mcp = harness.fast_mcp(false).await?;
    report.add(&format!(
        "\n## 4. Many servers on one replica\n\n\
         N entries in the config, all on the one fast upstream (2026-07-28, Streamable HTTP; \
         each keeps its session and a `subscriptions/listen` stream). Chat: sequential requests \
         through the gateway, which lists every server's tools into each, against the same \
         request straight to the LLM. Idle CPU: the gateway's, over {} s with no requests, \
         health checks at the default {} s interval.\n\n\
         | servers | start to all healthy | RSS healthy → after chat | chat direct p50 | chat through p50 (N tools) | idle CPU, share of one core |\n\
         |---|---|---|---|---|---|",
        idle.as_secs(),
        INTERVAL.as_secs(),
    ));
    for n in [20usize, 200, 1000] {
        let servers: String = (0..n)
            .map(|i| {
                format!(
                    "    - {{ name: s{i}, transport: streamable-http, url: \"http://{}/mcp\" }}\n",
                    mcp.addr
                )
            })
            .collect();
        let started = Instant::now();
        let gateway = harness
            .gateway(
                &format!("gateway-{n}"),
                &super::gateway_config(Some(llm.addr), &servers),
            )
            .await?;
        let needle = "\"state\":\"healthy\"";
        harness::until(Duration::from_secs(300), "all servers healthy", || async {
            harness::get(gateway.addr, "/v1/mcp/servers")
                .await
                .is_some_and(|body| body.matches(needle).count() >= n)
        })
        .await?;
        let ready = started.elapsed();
        let rss_ready = gateway.proc.rss_mib();
        let sequential = Load::Max { connections: 1 };
        let direct = harness
            .measure(&super::chat(llm.addr, "hi"), sequential, &[])
            .await?;
        let through = harness
            .measure(&super::chat(gateway.addr, "hi"), sequential, &[])
            .await?;
        let rss_after = gateway.proc.rss_mib();
        let before = gateway.proc.cpu_ns();
        tokio::time::sleep(idle).await;
        let share = (gateway.proc.cpu_ns() - before) as f64 / idle.as_nanos() as f64;
        report.add(&format!(
            "| {} | {:.2} s | {rss_ready:.0} → {rss_after:.0} MiB | {:.2} ms | {:.2} ms | {:.3}% |",
            count(n as f64),
            ready.as_secs_f64(),
            direct.outcome.quantile_ms(0.5),
            through.outcome.quantile_ms(0.5),
            share * 100.0,
        ));
    }
    Ok(())
}
