//! Opt-in (`LLAMAGATE_LLM_TEST=1`, after `tests/llm/install.sh`): a real small LLM
//! (gemma3-270m served by llama-cpp-python) behind the gateway, forced by `tool_choice` to
//! call an MCP tool of a real server, streaming and not. Without the variable the test says
//! so and returns: the model build takes minutes, so CI does not run it.

mod support;

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use axum::{body::Body, http::Request};
use llamagate_gateway::{app::app, config::load_from_str, metrics::Metrics, state::AppState};
use serde_json::{Value, json};
use support::*;
use tower::ServiceExt;

struct Llm(Child);
impl Drop for Llm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn llm_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/llm"))
}

fn model_path() -> String {
    llm_dir()
        .join("model/gemma-3-270m-q4_k_m.gguf")
        .display()
        .to_string()
}

async fn chat(state: &AppState, body: Value) -> (u16, String) {
    let request = Request::post("/v1/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 10 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn tool_calls_made(state: &AppState) -> u64 {
    let metrics = state.metrics().render();
    metrics
        .lines()
        .find(|l| {
            l.starts_with(
                r#"llamagate_mcp_requests_total{method="tools/call",outcome="ok",server="peer"}"#,
            )
        })
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_real_llm_calls_an_mcp_tool_through_the_gateway() {
    if std::env::var("LLAMAGATE_LLM_TEST").as_deref() != Ok("1") {
        eprintln!(
            "skipped: set LLAMAGATE_LLM_TEST=1 after tests/llm/install.sh to run against a real LLM"
        );
        return;
    }
    let port = free_port();
    let _llm = Llm(Command::new(llm_dir().join(".venv/bin/python"))
        .args([
            "-m",
            "llama_cpp.server",
            "--model",
            &model_path(),
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--n_ctx",
            "2048",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let mut ready = false;
    for _ in 0..600 {
        if reqwest::get(format!("http://127.0.0.1:{port}/v1/models"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "llama-cpp-python did not start");
    let peer = ws_peer();
    let yaml = format!(
        "upstream: {{ url: \"http://127.0.0.1:{port}/v1\", timeout: 300s }}\nmcp:\n  servers:\n    - {{ name: peer, transport: websocket, url: \"{}\" }}\n",
        peer.url
    );
    let config = load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    let state = AppState::new(config.clone(), Metrics::new());
    state.apply_file_servers();

    let body = |stream: bool| {
        json!({
            "model": "gemma3-270m",
            "messages": [{"role": "user", "content": "Add 2 and 3 with the tool."}],
            "tools": [{"type": "mcp", "uri": "mcp://peer/add"}],
            "tool_choice": {"type": "function", "function": {"name": "mcp__peer__add"}},
            "max_tokens": 64,
            "stream": stream,
        })
    };
    let (status, answer) = chat(&state, body(false)).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert!(answer["choices"][0]["message"].is_object(), "{answer}");
    assert!(
        tool_calls_made(&state) >= 1,
        "the model's forced call ran on the MCP server"
    );

    let before = tool_calls_made(&state);
    let (status, stream) = chat(&state, body(true)).await;
    assert_eq!(status, 200, "{stream}");
    assert_eq!(stream.matches("data: [DONE]").count(), 1, "{stream}");
    assert!(
        tool_calls_made(&state) > before,
        "the streamed request ran the tool too"
    );
}
