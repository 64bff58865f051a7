//! The operator's one-shot probe against real servers: what it finds in each protocol era
//! and over each transport, and how it classifies a server that is down, refuses our
//! credentials or is too slow. The counts are checked against what the client lists.

mod support;

use std::time::Duration;

use llamagate_mcp::{
    FailureKind, ProbeReport, ProtocolMode, Secret, ServerDescription, Transport, cache::ListKind,
    probe_once,
};
use support::*;

const DEADLINE: Duration = Duration::from_secs(15);

async fn probe(description: &ServerDescription) -> ProbeReport {
    probe_once(description, &context_with(&TestMetrics::new()), DEADLINE).await
}

/// The counts the probe reports are the lengths of the lists the client gets.
async fn assert_counts_match_the_lists(description: ServerDescription, report: &ProbeReport) {
    let findings = report.findings.as_ref().expect("verified");
    let server = client(description);
    for (kind, count) in [
        (ListKind::Tools, findings.tool_count),
        (ListKind::Resources, findings.resource_count),
        (ListKind::Prompts, findings.prompt_count),
    ] {
        let listed = server.list(kind, "").await.unwrap().0.len();
        assert_eq!(count, Some(listed), "{kind:?}");
    }
    server.stop(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_stateless_server_is_verified_with_its_versions_and_counts() {
    let peer = mcp2_http();
    let description = remote("modern", Transport::StreamableHttp, &peer.url);
    let report = probe(&description).await;
    assert!(report.ready() && report.reachable(), "{report:?}");
    let findings = report.findings.as_ref().unwrap();
    assert!(findings.stateless);
    assert_eq!(findings.protocol_version, "2026-07-28");
    assert!(
        findings
            .supported_versions
            .iter()
            .any(|v| v == "2026-07-28"),
        "{:?}",
        findings.supported_versions
    );
    assert!(findings.latency.is_some());
    assert_eq!(findings.capabilities.get("tools"), Some(&true));
    assert!(report.elapsed < DEADLINE);
    assert_counts_match_the_lists(description, &report).await;
}

#[tokio::test]
async fn a_legacy_server_is_verified_over_every_transport() {
    let everything = everything("streamableHttp");
    let ws = ws_peer();
    let sse = mcp1_peer("sse");
    for description in [
        remote("everything", Transport::StreamableHttp, &everything.url),
        remote("ws", Transport::Websocket, &ws.url),
        remote("sse", Transport::Sse, &sse.url),
        ServerDescription {
            protocol: ProtocolMode::Legacy,
            ..remote("forced-legacy", Transport::StreamableHttp, &everything.url)
        },
    ] {
        let report = probe(&description).await;
        assert!(report.ready(), "{}: {report:?}", description.name);
        let findings = report.findings.as_ref().unwrap();
        assert!(!findings.stateless, "{}", description.name);
        assert_eq!(
            findings.supported_versions,
            vec![findings.protocol_version.clone()]
        );
        assert!(findings.server_name.is_some(), "{}", description.name);
        assert!(findings.tool_count.unwrap() > 0, "{}", description.name);
        assert_counts_match_the_lists(description, &report).await;
    }
}

#[tokio::test]
async fn a_stdio_server_is_probed_and_its_process_ends() {
    // The peer under a shell that stays its parent, named by a marker of this test: if the
    // process group were not ended, the shell would be left behind.
    let marker = format!("probe-once-marker-{}", std::process::id());
    let peer = llamagate_test_peers::mcp2_stdio();
    let line = format!("{} {} </dev/stdin; true", peer.program, peer.args.join(" "));
    let description = stdio("stdio-probe", "sh", &["-c", &line, &marker]);
    let report = probe(&description).await;
    assert!(report.ready(), "{report:?}");
    assert!(report.findings.unwrap().tool_count.unwrap() > 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = std::process::Command::new("pgrep")
        .args(["-f", &marker])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "left behind: {}",
        String::from_utf8_lossy(&left.stdout)
    );
}

#[tokio::test]
async fn a_server_that_is_not_there_is_unreachable() {
    let url = format!("http://127.0.0.1:{}/mcp", free_port());
    let report = probe(&remote("gone", Transport::StreamableHttp, &url)).await;
    assert!(!report.reachable() && !report.ready(), "{report:?}");
    assert!(report.findings.is_none());
    let failure = report.failure.unwrap();
    assert_eq!(
        failure.kind,
        FailureKind::Unreachable,
        "{}",
        failure.message
    );
    assert!(failure.message.contains("gone"), "{}", failure.message);
}

#[tokio::test]
async fn refused_credentials_are_unauthorized_and_never_shown() {
    let required = r#"{"authorization": "Bearer right-token"}"#;
    let peer = mcp1_peer_with_env("streamable-http", &[("PEER_REQUIRE_HEADERS", required)]);
    let mut description = remote("guarded", Transport::StreamableHttp, &peer.url);
    description.remote_mut().unwrap().bearer_token = Some(Secret::new("wrong-token"));
    let report = probe(&description).await;
    assert!(report.reachable() && !report.ready(), "{report:?}");
    let failure = report.failure.unwrap();
    assert_eq!(
        failure.kind,
        FailureKind::Unauthorized,
        "{}",
        failure.message
    );
    assert!(
        !failure.message.contains("wrong-token"),
        "{}",
        failure.message
    );

    description.remote_mut().unwrap().bearer_token = Some(Secret::new("right-token"));
    assert!(probe(&description).await.ready());
}

#[tokio::test]
async fn the_deadline_bounds_a_server_that_never_answers() {
    let peer = mcp2_http();
    peer.signal("STOP");
    let description = remote("frozen", Transport::StreamableHttp, &peer.url);
    let deadline = Duration::from_millis(800);
    let report = probe_once(&description, &context_with(&TestMetrics::new()), deadline).await;
    peer.signal("CONT");
    assert!(
        report.elapsed < deadline + Duration::from_secs(2),
        "{report:?}"
    );
    let failure = report.failure.unwrap();
    assert_eq!(failure.kind, FailureKind::Timeout, "{}", failure.message);
}

/// A server URL at a cloud metadata or link-local address is refused before any connection
/// (nothing is sent: the addresses are checked first), with the setting that allows it.
#[tokio::test]
async fn metadata_addresses_are_refused_unless_allowed() {
    for url in ["http://169.254.169.254/mcp", "http://[fd00:ec2::254]/mcp"] {
        let report = probe(&remote("metadata", Transport::StreamableHttp, url)).await;
        let failure = report.failure.unwrap();
        assert_eq!(
            failure.kind,
            FailureKind::Unreachable,
            "{}",
            failure.message
        );
        assert!(
            failure.message.contains("mcp.allow_link_local_addresses"),
            "{}",
            failure.message
        );
        assert!(report.elapsed < Duration::from_secs(1), "refused at once");
    }
}
