use super::*;
use crate::test_support::verdicts;

fn manifest(spec: &str) -> String {
    format!(
        "apiVersion: llamagate.io/v1alpha1\nkind: McpServer\nmetadata: {{name: s, namespace: default}}\nspec:\n{spec}"
    )
}

fn check(spec: &str) -> (Vec<String>, Vec<String>) {
    verdicts::<McpServer>(&manifest(spec), |s| s.spec.validate())
}

/// Asserts that both the Rust rules and the CRD's CEL rules reject `spec`, the Rust error
/// naming `path` and `needle` appearing in both messages.
fn assert_rejected(spec: &str, path: &str, needle: &str) {
    let (rust, cel) = check(spec);
    assert!(
        rust.iter()
            .any(|e| e.starts_with(path) && e.contains(needle)),
        "rust: {rust:?}"
    );
    assert!(cel.iter().any(|e| e.contains(needle)), "cel: {cel:?}");
}

fn assert_accepted(spec: &str) {
    let (rust, cel) = check(spec);
    assert!(rust.is_empty(), "rust rejected: {rust:?}");
    assert!(cel.is_empty(), "cel rejected: {cel:?}");
}

#[test]
fn external_http_server_is_valid() {
    assert_accepted("  transport: streamable-http\n  url: http://tools.mcp.svc:8080/mcp\n");
}

#[test]
fn managed_stdio_server_is_valid() {
    assert_accepted(
        "  transport: stdio\n  deployment:\n    image: ghcr.io/example/time:1\n    command: [uvx, mcp-server-time]\n",
    );
}

#[test]
fn url_and_deployment_together_are_rejected() {
    assert_rejected(
        "  transport: streamable-http\n  url: http://a/mcp\n  deployment: {image: x}\n",
        "spec",
        "exactly one of spec.url",
    );
}

#[test]
fn neither_url_nor_deployment_is_rejected() {
    assert_rejected("  transport: sse\n", "spec", "exactly one of spec.url");
}

#[test]
fn stdio_needs_a_deployment() {
    let (rust, cel) = check("  transport: stdio\n  url: http://a/mcp\n");
    assert!(
        rust.iter()
            .any(|e| e.starts_with("spec.deployment") && e.contains("stdio")),
        "{rust:?}"
    );
    assert!(
        cel.iter()
            .any(|e| e.contains("a stdio server needs spec.deployment:")),
        "{cel:?}"
    );
}

#[test]
fn stdio_needs_a_command() {
    assert_rejected(
        "  transport: stdio\n  deployment: {image: x}\n",
        "spec.deployment.command",
        "needs",
    );
}

#[test]
fn websocket_url_must_be_ws() {
    assert_rejected(
        "  transport: websocket\n  url: http://a/ws\n",
        "spec.url",
        "ws://",
    );
    assert_accepted("  transport: websocket\n  url: wss://a/ws\n");
}

#[test]
fn http_transports_need_http_urls() {
    assert_rejected(
        "  transport: streamable-http\n  url: ws://a/mcp\n",
        "spec.url",
        "http://",
    );
    assert_rejected(
        "  transport: sse\n  url: ftp://a/sse\n",
        "spec.url",
        "http://",
    );
}

#[test]
fn secret_or_value_needs_exactly_one() {
    assert_rejected(
        "  transport: sse\n  url: http://a/sse\n  auth:\n    bearerToken: {}\n",
        "spec.auth.bearerToken",
        "exactly one of value or secretKeyRef",
    );
    assert_rejected(
        "  transport: sse\n  url: http://a/sse\n  auth:\n    headers:\n    - name: X-Key\n      value: a\n      secretKeyRef: {name: s, key: k}\n",
        "spec.auth.headers[0]",
        "exactly one of value or secretKeyRef",
    );
}

#[test]
fn health_timeout_must_be_shorter_than_interval() {
    assert_rejected(
        "  transport: sse\n  url: http://a/sse\n  healthCheck: {interval: 5s, timeout: 10s}\n",
        "spec.healthCheck.timeout",
        "shorter than healthCheck.interval",
    );
}

#[test]
fn bad_durations_name_the_field() {
    let (rust, _) = check("  transport: sse\n  url: http://a/sse\n  timeouts: {connect: soon}\n");
    assert!(
        rust.iter()
            .any(|e| e.starts_with("spec.timeouts.connect") && e.contains("30s")),
        "{rust:?}"
    );
}

#[test]
fn defaults_are_filled_in() {
    let server: McpServer =
        serde_norway::from_str(&manifest("  transport: http\n  url: http://a/mcp\n")).unwrap();
    assert_eq!(server.spec.transport, Transport::StreamableHttp);
    assert_eq!(server.spec.tools.allow, vec!["*"]);
    assert_eq!(server.spec.health_check.failure_threshold, 3);
    assert_eq!(server.spec.protocol, ProtocolMode::Auto);
}

#[test]
fn every_problem_is_reported_at_once() {
    let (rust, _) = check(
        "  transport: websocket\n  url: http://a\n  timeouts: {call: x}\n  healthCheck: {interval: 1s, timeout: 2s}\n",
    );
    assert_eq!(rust.len(), 3, "{rust:?}");
}
