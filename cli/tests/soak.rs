//! A bounded soak: `llamagate serve` as its own process in front of a scripted LLM and three
//! real MCP servers (WebSocket, stateless Streamable HTTP, stdio), driven at a fixed rate
//! with a mix of chat completions (each with one round of a tool call), `/v1/mcp/execute`
//! calls and tool listings, for `LLAMAGATE_SOAK_SECONDS` (default 120). Half way through,
//! the stdio server is restarted. Every request to the healthy servers must succeed; the
//! restarted server's calls may fail only while it restarts; the process's RSS at the end is
//! within a quarter of what it was once warm; and it has as many child processes as before.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use support::{llm::*, *};

/// Requests started per second, whatever the answers take.
const RATE: u64 = 40;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The processes whose parent is `pid`.
fn children(pid: u32) -> usize {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            // `pid (comm) state ppid ...`; comm may hold spaces, so read after its `)`.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                == Some(pid)
        })
        .count()
}

#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failed_healthy: AtomicUsize,
    failed_restarted: AtomicUsize,
}

/// One request of the mix; `Ok` when it succeeded, `Err(server)` naming the server it used.
async fn one(http: &reqwest::Client, base: &str, n: u64) -> Result<(), (String, String)> {
    let (server, request) = match n % 5 {
        0 => (
            "ws",
            http.post(format!("{base}/v1/chat/completions")).json(&json!({
                "model": "scripted", "messages": [{"role": "user", "content": format!("soak {n}")}]})),
        ),
        1 => (
            "ws",
            http.post(format!("{base}/v1/mcp/execute"))
                .json(&json!({"server": "ws", "tool": "echo", "arguments": {"message": format!("w{n}")}})),
        ),
        2 => (
            "http",
            http.post(format!("{base}/v1/mcp/execute"))
                .json(&json!({"server": "http", "tool": "echo", "arguments": {"message": format!("h{n}")}})),
        ),
        3 => (
            "stdio",
            http.post(format!("{base}/v1/mcp/execute"))
                .json(&json!({"server": "stdio", "tool": "echo", "arguments": {"message": format!("s{n}")}})),
        ),
        _ => ("http", http.get(format!("{base}/v1/mcp/servers/http/tools"))),
    };
    let answer = request.send().await;
    let fail = |why: String| Err((server.to_owned(), why));
    let response = match answer {
        Ok(response) => response,
        Err(e) => return fail(e.to_string()),
    };
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() || body["is_error"] == true {
        return fail(format!("{status} {body}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_rate_mix_through_a_restart_keeps_the_healthy_servers_whole() {
    let seconds: u64 = std::env::var("LLAMAGATE_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    // Every chat: one tool call on the WebSocket server, then the answer. Enough steps for
    // every chat the run can start (one in five requests).
    let steps = (0..=(seconds * RATE / 5 + 10))
        .flat_map(|_| {
            [
                calls(&[("mcp__ws__echo", r#"{"message": "from the model"}"#)]),
                text("done"),
            ]
        })
        .collect();
    let upstream = start(Script::new(steps)).await;
    let ws = ws_peer();
    let http = mcp2_http();
    let stdio = mcp1_stdio();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    let args: Vec<String> = stdio.args.iter().map(|a| format!("\"{a}\"")).collect();
    std::fs::write(
        &config,
        format!(
            r#"
upstream: {{ url: "{upstream}" }}
mcp:
  servers:
    - {{ name: ws, transport: websocket, url: "{}" }}
    - {{ name: http, transport: streamable-http, url: "{}" }}
    - {{ name: stdio, transport: stdio, command: "{}", args: [{}], cwd: "{}" }}
"#,
            ws.url,
            http.url,
            stdio.program,
            args.join(", "),
            stdio.cwd.display()
        ),
    )
    .unwrap();
    let gateway = serve_process(&["--config", config.to_str().unwrap()]);
    let pid = gateway.child.id();
    let base = format!("http://{}", gateway.addr);
    let client = reqwest::Client::new();
    for name in ["ws", "http", "stdio"] {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health: Value = client
                .get(format!("{base}/v1/mcp/servers/{name}/health"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if health["health"]["state"] == "healthy" {
                break;
            }
            assert!(Instant::now() < deadline, "{name} never healthy: {health}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    let children_before = children(pid);
    assert!(
        children_before >= 1,
        "the stdio server is a child of the gateway"
    );
    let tally = Arc::new(Tally::default());
    let total = seconds * RATE;
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    let started = Instant::now();
    let mut warm_rss = 0;
    let mut tasks = Vec::with_capacity(total as usize);
    for n in 0..total {
        ticks.tick().await;
        if n == total / 4 {
            warm_rss = rss_kib(pid);
        }
        if n == total / 2 {
            let restarted = client
                .post(format!("{base}/v1/mcp/servers/stdio/restart"))
                .send()
                .await
                .unwrap();
            assert!(restarted.status().is_success(), "{restarted:?}");
        }
        let (client, base, tally) = (client.clone(), base.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            match one(&client, &base, n).await {
                Ok(()) => tally.ok.fetch_add(1, Ordering::Relaxed),
                Err((server, why)) if server == "stdio" => {
                    eprintln!("stdio (restarted): {why}");
                    tally.failed_restarted.fetch_add(1, Ordering::Relaxed)
                }
                Err((server, why)) => {
                    eprintln!("{server}: {why}");
                    tally.failed_healthy.fetch_add(1, Ordering::Relaxed)
                }
            };
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let end_rss = rss_kib(pid);
    let (ok, healthy_failures, restarted_failures) = (
        tally.ok.load(Ordering::Relaxed),
        tally.failed_healthy.load(Ordering::Relaxed),
        tally.failed_restarted.load(Ordering::Relaxed),
    );
    eprintln!(
        "soak: {total} requests in {elapsed:?}: {ok} ok, {healthy_failures} failed on healthy servers, \
         {restarted_failures} on the restarted one; RSS {warm_rss} KiB warm, {end_rss} KiB at the end"
    );
    assert_eq!(
        healthy_failures, 0,
        "requests to the healthy servers failed"
    );
    assert!(
        restarted_failures <= (total / 5) as usize / 10,
        "{restarted_failures} failures on the restarted server: more than a restart's worth"
    );
    assert!(
        end_rss <= warm_rss + warm_rss / 4,
        "RSS grew from {warm_rss} KiB to {end_rss} KiB"
    );
    // The stdio server came back and answers, and its old process is gone.
    let after = one(&client, &base, 3).await;
    assert!(after.is_ok(), "{after:?}");
    assert_eq!(
        children(pid),
        children_before,
        "the restart left the gateway with another number of child processes"
    );
}
