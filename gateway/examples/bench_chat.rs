//! Chat benchmark (not a test): the latency the gateway adds, at 32 concurrent clients,
//! against a fast scripted upstream on loopback, measured in the same run as the direct
//! baseline. Two cases: a chat without tools, and one round of three parallel MCP calls
//! (real mcp 2.3 server over Streamable HTTP) followed by the answer.
//!
//!     tests/peers/install.sh && cargo run --release -p llamagate-gateway --example bench_chat

use std::{
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{Json, Router, routing::post};
use llamagate_gateway::{config::load_from_str, serve::Gateway};
use serde_json::{Value, json};

const CLIENTS: usize = 32;
const REQUESTS: usize = 3200;

struct Peer(Child);
impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn scripted(Json(body): Json<Value>) -> Json<Value> {
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or_default();
    let message = if last["role"] == "user" && last["content"] == "tools" {
        let calls: Vec<Value> = (0..3)
            .map(|i| json!({"id": format!("c{i}"), "type": "function", "function": {"name": "mcp__peer__add", "arguments": format!("{{\"a\": {i}, \"b\": 1}}")}}))
            .collect();
        json!({"role": "assistant", "content": null, "tool_calls": calls})
    } else {
        json!({"role": "assistant", "content": "ok"})
    };
    Json(
        json!({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}),
    )
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

/// Send `REQUESTS` requests from `CLIENTS` concurrent clients; latencies and overhead headers in ms.
async fn load(url: String, prompt: &'static str) -> (Vec<f64>, Vec<f64>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let body = Arc::new(json!({"model": "m", "messages": [{"role": "user", "content": prompt}]}));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut overheads = Vec::new();
            for _ in 0..REQUESTS / CLIENTS {
                let started = Instant::now();
                let response = client.post(&url).json(&*body).send().await.unwrap();
                let overhead = response
                    .headers()
                    .get("x-llamagate-overhead-ms")
                    .and_then(|v| v.to_str().ok()?.parse::<f64>().ok());
                let answer: Value = response.json().await.unwrap();
                assert_eq!(answer["choices"][0]["message"]["content"], "ok", "{answer}");
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                overheads.extend(overhead);
            }
            (latencies, overheads)
        }));
    }
    let mut latencies = Vec::new();
    let mut overheads = Vec::new();
    for task in tasks {
        let (l, o) = task.await.unwrap();
        latencies.extend(l);
        overheads.extend(o);
    }
    (latencies, overheads)
}

#[tokio::main]
async fn main() {
    let peers = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/peers"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _peer = Peer(
        Command::new(peers.join(".venv-mcp2/bin/python"))
            .args([
                "mcp2_server.py",
                "--transport",
                "streamable-http",
                "--port",
                &port.to_string(),
            ])
            .current_dir(&peers)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run tests/peers/install.sh first"),
    );
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            Router::new().route("/v1/chat/completions", post(scripted)),
        )
        .await
        .unwrap()
    });

    let yaml = format!(
        "listen: 127.0.0.1:0\nlog: {{ level: warn }}\nupstream: {{ url: \"{upstream}\" }}\nmcp:\n  connection_pool_size: 8\n  servers:\n    - {{ name: peer, transport: streamable-http, url: \"http://127.0.0.1:{port}/mcp\" }}\n"
    );
    let gateway = Gateway::bind(load_from_str(&yaml, "bench", &|_| None).unwrap())
        .await
        .unwrap();
    let gateway_url = format!("http://{}/v1/chat/completions", gateway.local_addr());
    tokio::spawn(gateway.run(std::future::pending()));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Warm-up of every path.
    load(format!("{upstream}/chat/completions"), "plain").await;
    load(gateway_url.clone(), "tools").await;

    let (mut direct, _) = load(format!("{upstream}/chat/completions"), "plain").await;
    let (mut plain, mut plain_overhead) = load(gateway_url.clone(), "plain").await;
    let (mut tools, mut tools_overhead) = load(gateway_url, "tools").await;
    println!("{REQUESTS} requests, {CLIENTS} concurrent clients, loopback");
    println!("| case | p50 ms | p99 ms | gateway overhead header p50 / p99 ms |");
    println!("|---|---|---|---|");
    println!(
        "| direct to the upstream (baseline) | {:.3} | {:.3} | - |",
        percentile(&mut direct, 0.5),
        percentile(&mut direct, 0.99)
    );
    println!(
        "| through the gateway, no tools | {:.3} | {:.3} | {:.3} / {:.3} |",
        percentile(&mut plain, 0.5),
        percentile(&mut plain, 0.99),
        percentile(&mut plain_overhead, 0.5),
        percentile(&mut plain_overhead, 0.99)
    );
    println!(
        "| through the gateway, one round of 3 parallel MCP calls | {:.3} | {:.3} | {:.3} / {:.3} |",
        percentile(&mut tools, 0.5),
        percentile(&mut tools, 0.99),
        percentile(&mut tools_overhead, 0.5),
        percentile(&mut tools_overhead, 0.99)
    );
    println!(
        "added latency without tools (gateway - direct): p50 {:.3} ms, p99 {:.3} ms",
        percentile(&mut plain, 0.5) - percentile(&mut direct, 0.5),
        percentile(&mut plain, 0.99) - percentile(&mut direct, 0.99)
    );
}
