//! The HTTP foundation and the `llamagate` binary as a user runs it.

mod support;

use std::{process::Command, time::Duration};

use axum::{body::Body, http::Request};
use llamagate_gateway::{app::app, config::Config, metrics::Metrics, state::AppState};
use tower::ServiceExt;

async fn get(
    state: &AppState,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, axum::http::HeaderMap, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let state = AppState::new(Config::default(), Metrics::new());
    let (status, headers, body) = get(&state, "/healthz", &[]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    assert!(headers.contains_key("x-request-id"));
    let overhead: f64 = headers["x-llamagate-overhead-ms"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(overhead >= 0.0);

    assert_eq!(
        get(&state, "/readyz", &[]).await.0,
        503,
        "not ready before start-up finished"
    );
    state.set_ready(true);
    assert_eq!(get(&state, "/readyz", &[]).await.0, 200);

    let (status, headers, metrics) = get(&state, "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        metrics.contains(
            r#"llamagate_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn request_ids_are_echoed_only_when_safe() {
    let state = AppState::new(Config::default(), Metrics::new());
    let (_, headers, _) = get(&state, "/healthz", &[("x-request-id", "client-id-42")]).await;
    assert_eq!(headers["x-request-id"], "client-id-42");
    let long = "x".repeat(500);
    let (_, headers, _) = get(&state, "/healthz", &[("x-request-id", &long)]).await;
    assert_ne!(headers["x-request-id"], long.as_str());
}

#[tokio::test]
async fn unknown_routes_use_the_error_shape() {
    let state = AppState::new(Config::default(), Metrics::new());
    let (status, _, body) = get(&state, "/v2/nothing", &[]).await;
    assert_eq!(status, 404);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "unknown_route");
    let (_, _, metrics) = get(&state, "/metrics", &[]).await;
    assert!(
        !metrics.contains("/v2/nothing"),
        "raw paths must not become labels"
    );
}

fn llamagate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_llamagate"))
}

#[test]
fn invalid_config_exits_non_zero_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "listen: 127.0.0.1:0\nmcp:\n  servers:\n    - { name: a, transport: stdio }\n    - { name: b, transport: sse }\n").unwrap();
    let output = llamagate()
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2 configuration problems"), "{stderr}");
    assert!(
        stderr.contains("bad.yaml: mcp.servers[0].command"),
        "{stderr}"
    );
    assert!(stderr.contains("bad.yaml: mcp.servers[1].url"), "{stderr}");
    assert!(
        !stderr.contains("listening"),
        "nothing starts half-configured: {stderr}"
    );
}

#[test]
fn config_check_accepts_the_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/llamagate.yaml");
    let output = llamagate()
        .args(["config", "check", "--config", example])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains(": ok (2 MCP servers"));
}

#[test]
fn help_lists_every_subcommand() {
    let output = llamagate().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for command in ["serve", "config", "mcp", "openapi"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = support::serve_process(&["--listen", "127.0.0.1:0"]);
    let body = reqwest::blocking::get(format!("http://{}/healthz", server.addr))
        .unwrap()
        .text()
        .unwrap();
    assert!(body.contains("ok"));
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let rest = server.log.join().unwrap();
    assert!(
        rest.iter().any(|l| l.contains("llamagate stopped")),
        "{rest:?}"
    );
}

/// At the default level a person can read the log: one line per event that matters. A
/// stdio server that writes ~90 lines of validation errors to stderr (the Python SDK
/// answering the `server/discover` of protocol `auto`) shows as one summary line when it
/// closes, not as a wall of text.
#[test]
fn the_default_log_is_one_line_per_event() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let config = support::time_server_config(dir.path(), "listen: 127.0.0.1:0\n");
    let mut child = llamagate()
        .args(["serve", "--config", config.to_str().unwrap()])
        .env_remove("RUST_LOG")
        .env_remove("LLAMAGATE_LOG_LEVEL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref().map_while(Result::ok) {
        let healthy = line.contains("MCP server healthy");
        seen.push(line);
        if healthy {
            break;
        }
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    seen.extend(lines.map_while(Result::ok));
    child.wait().unwrap();
    let log = seen.join("\n");
    assert!(log.contains("MCP server healthy"), "{log}");
    assert!(
        !log.contains("Input should be"),
        "a server's stderr is at debug:\n{log}"
    );
    assert!(log.contains("the server's stderr closed"), "{log}");
    assert!(seen.len() <= 10, "{} lines:\n{log}", seen.len());
}
