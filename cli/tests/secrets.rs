//! No secret leaves the process where it should not: a `llamagate serve` run that uses every
//! kind of secret (client API keys, the upstream's key, an MCP server's bearer token and
//! header, a stdio server's environment) with logging at `trace` for every crate, then every
//! log line, every API answer, `/metrics` and every error is searched for each secret.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{llm::*, *};

const ADMIN_KEY: &str = "admin-secret-key-4Kp0000";
const WRONG_KEY: &str = "wrong-key-attempt-8Jm000";
const UPSTREAM_KEY: &str = "upstream-secret-7Yq";
const MCP_TOKEN: &str = "mcp-token-9Zx";
const TENANT: &str = "tenant-secret-2Wd";
const STDIO_ENV: &str = "stdio-env-secret-5Rt";

#[tokio::test]
async fn no_secret_appears_in_logs_answers_metrics_or_errors() {
    let required = json!({"authorization": format!("Bearer {MCP_TOKEN}"), "x-tenant": TENANT});
    let guarded = mcp1_peer_with_env(
        "streamable-http",
        &[("PEER_REQUIRE_HEADERS", &required.to_string())],
    );
    let script = Script::new(vec![
        calls(&[(
            "mcp__guarded__echo",
            r#"{"message": "through the tool loop"}"#,
        )]),
        text("done"),
    ]);
    let upstream = start(script.clone()).await;
    let stdio = mcp1_stdio();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llamagate.yaml");
    let args: Vec<String> = stdio.args.iter().map(|a| format!("\"{a}\"")).collect();
    std::fs::write(
        &path,
        format!(
            r#"listen: 127.0.0.1:0
upstream: {{ url: "{upstream}", api_key: {UPSTREAM_KEY} }}
auth: {{ keys: [ {{ name: admin, key: {ADMIN_KEY} }} ] }}
mcp:
  servers:
    - {{ name: guarded, transport: streamable-http, url: "{url}", api_key: {MCP_TOKEN}, headers: {{ x-tenant: {TENANT} }} }}
    - {{ name: local, transport: stdio, command: "{program}", args: [{args}], cwd: "{cwd}", env: {{ SECRET_ENV: {STDIO_ENV} }} }}
"#,
            url = guarded.url,
            program = stdio.program,
            args = args.join(", "),
            cwd = stdio.cwd.display(),
        ),
    )
    .unwrap();
    let mut gateway = serve_process_logging(&["--config", path.to_str().unwrap()], "trace");
    let base = format!("http://{}", gateway.addr);
    let http = reqwest::Client::new();
    let get = |route: &str, key: &str| http.get(format!("{base}{route}")).bearer_auth(key).send();
    let mut answers = Vec::new();
    // Wait until both servers are healthy (their sessions used every MCP secret).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let body: Value = get("/v1/mcp/servers", ADMIN_KEY)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let healthy = body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["state"] == "healthy")
            .count();
        if healthy == 2 {
            answers.push(body.to_string());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for route in [
        "/v1/mcp/servers/guarded",
        "/v1/mcp/servers/local",
        "/v1/mcp/servers/local/tools",
    ] {
        answers.push(get(route, ADMIN_KEY).await.unwrap().text().await.unwrap());
    }
    let executed = http
        .post(format!("{base}/v1/mcp/execute"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"server": "local", "tool": "echo", "arguments": {"message": "direct"}}))
        .send()
        .await
        .unwrap();
    answers.push(executed.text().await.unwrap());
    let chat = http
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "go"}]}))
        .send()
        .await
        .unwrap();
    let chat = chat.text().await.unwrap();
    assert!(chat.contains("done"), "{chat}");
    answers.push(chat);
    let refused = get("/v1/mcp/servers", WRONG_KEY).await.unwrap();
    assert_eq!(refused.status(), 401);
    answers.push(refused.text().await.unwrap());
    answers.push(
        reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    // The secrets were used: the upstream got its key, the guarded server its headers
    // (it answers 401 otherwise, and it is healthy).
    let seen = script.requests();
    assert!(!seen.is_empty());

    let _ = std::process::Command::new("kill")
        .args(["-TERM", &gateway.child.id().to_string()])
        .status();
    let _ = gateway.child.wait();
    let mut log = std::mem::take(&mut gateway.early);
    log.extend(gateway.log.join().unwrap());
    assert!(
        log.iter().filter(|line| line.contains("TRACE")).count() > 100,
        "the run logged at trace level ({} lines)",
        log.len()
    );
    let everything = format!("{}\n{}", log.join("\n"), answers.join("\n"));
    for secret in [
        ADMIN_KEY,
        WRONG_KEY,
        UPSTREAM_KEY,
        MCP_TOKEN,
        TENANT,
        STDIO_ENV,
    ] {
        let found: Vec<&str> = everything
            .lines()
            .filter(|line| line.contains(secret))
            .take(3)
            .collect();
        assert!(found.is_empty(), "`{secret}` leaked: {found:#?}");
    }
}
