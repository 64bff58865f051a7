//! The README's quick start without Kubernetes, run as it is written: the first command
//! serves the example configuration (`examples/llamagate.yaml`, whose `everything` server
//! `npx` starts), and every line of the "Use it" block answers against it. The commands
//! are read from README.md, so the quick start cannot rot.

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The lines of the first ```sh block after `heading` in README.md, comments dropped.
fn sh_block(heading: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("README.md has a `{heading}` section"));
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("`{heading}` has an sh block"));
    block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or_default().trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The arguments the quick start passes to `llamagate` after `cargo run … --`.
fn quick_start_args() -> Vec<String> {
    let first = sh_block("## Quick start").remove(0);
    let (cargo, args) = first.split_once(" -- ").expect("cargo run … -- ARGS");
    assert_eq!(cargo, "cargo run --release -p llamagate");
    args.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn the_quick_start_serves_the_example_and_answers_its_commands() {
    let mut args = quick_start_args();
    assert_eq!(args, ["serve", "--config", "examples/llamagate.yaml"]);
    // The config path is the README's, from the repository's root. The process runs in
    // tests/peers, so that `npx -y @modelcontextprotocol/server-everything@<pin>` finds the
    // pinned package installed there instead of the registry (tests run without a network).
    args[2] = repo().join(&args[2]).display().to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_llamagate"));
    command
        .args(&args)
        .args(["--listen", "127.0.0.1:0"])
        .current_dir(support::peers_dir())
        .env("npm_config_offline", "true")
        .env("RUST_LOG", "info");
    let mut server = support::serve_command(command);
    let base = format!("http://{}", server.addr);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let server: serde_json::Value = client
            .get(format!("{base}/v1/mcp/servers/everything"))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default();
        if server["state"] == "healthy" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the example's `everything` server never became healthy: {server}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let lines = sh_block("## Use it");
    assert_eq!(lines.len(), 3, "{lines:?}");
    let mut outputs = Vec::new();
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let output = match words[0] {
            "llamagate" => {
                let out = Command::new(env!("CARGO_BIN_EXE_llamagate"))
                    .args(&words[1..])
                    .env("LLAMAGATE_URL", &base)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{line}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8(out.stdout).unwrap()
            }
            "curl" => {
                let url = words[1].replacen("localhost:11435", &base, 1);
                let response = client.get(url).send().unwrap();
                assert!(response.status().is_success(), "{line}: {response:?}");
                response.text().unwrap()
            }
            other => panic!("the README runs `{other}`, which this test does not know"),
        };
        outputs.push(output);
    }
    assert!(
        outputs[0].contains("everything") && outputs[0].contains("healthy"),
        "{}",
        outputs[0]
    );
    assert!(outputs[1].contains("hi"), "echo answered: {}", outputs[1]);
    let listing: serde_json::Value = serde_json::from_str(&outputs[2]).unwrap();
    assert!(listing.to_string().contains("\"everything\""), "{listing}");
    let _ = server.child.kill();
    let _ = server.child.wait();
}
