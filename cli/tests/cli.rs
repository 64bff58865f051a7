//! `llamagate mcp …` as a user runs it: against a running gateway, and with `--config` alone.

mod support;

use std::process::Command;

use support::*;

fn llamagate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_llamagate"))
}

fn config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("llamagate.yaml");
    let text = format!(
        "listen: 127.0.0.1:0\nauth: {{ keys: [ {{ key: cli-admin-key-0123456789 }} ] }}\nmcp:\n  servers:\n    - {{ name: modern, transport: stdio, command: \"{}\", args: [mcp2_server.py, --transport, stdio], cwd: \"{}\" }}\n",
        python("mcp2"),
        peers_dir().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&str], url: &str, key: Option<&str>) -> (bool, String, String) {
    let mut command = llamagate();
    command
        .args(args)
        .env("LLAMAGATE_URL", url)
        .env_remove("LLAMAGATE_API_KEY");
    if let Some(key) = key {
        command.env("LLAMAGATE_API_KEY", key);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn cli_against_a_running_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let mut gateway = serve_process(&["--config", config.to_str().unwrap()]);
    let addr = gateway.addr.clone();
    let url = format!("http://{addr}");
    let key = Some("cli-admin-key-0123456789");

    let (ok, out, _) = run(&["mcp", "test", "modern"], &url, key);
    assert!(ok && out.contains("modern: ok"), "{out}");
    let (ok, out, _) = run(&["mcp", "list"], &url, key);
    assert!(ok, "{out}");
    let header = out.lines().next().unwrap();
    assert!(
        header.starts_with("NAME") && header.contains("STATE") && header.contains("LATENCY"),
        "{out}"
    );
    assert!(
        out.lines().nth(1).unwrap().starts_with("modern  healthy"),
        "aligned columns: {out}"
    );
    let (ok, out, _) = run(&["mcp", "tools", "modern", "--output", "json"], &url, key);
    let tools: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        ok && tools["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "add")
    );
    let (ok, out, _) = run(
        &[
            "mcp", "tool", "modern", "add", "--arg", "a=2", "--arg", "b=40",
        ],
        &url,
        key,
    );
    assert!(ok && out.trim() == "42", "{out}");
    let (ok, out, _) = run(
        &[
            "mcp",
            "tool",
            "modern",
            "echo",
            "--json",
            r#"{"message": "from json"}"#,
        ],
        &url,
        key,
    );
    assert!(ok && out.trim() == "from json", "{out}");
    let (ok, out, _) = run(&["mcp", "resources", "modern"], &url, key);
    assert!(
        ok && out.contains("test://text") && out.contains("test://items/{item_id}"),
        "{out}"
    );
    let (ok, out, _) = run(&["mcp", "read", "modern", "test://text"], &url, key);
    assert!(ok && out.contains("hello from a text resource"), "{out}");
    let (ok, out, _) = run(&["mcp", "prompts", "modern"], &url, key);
    assert!(ok && out.contains("greet"), "{out}");
    let (ok, out, _) = run(
        &["mcp", "prompt", "modern", "greet", "--arg", "name=Ada"],
        &url,
        key,
    );
    assert!(ok && out.contains("Ada"), "{out}");
    let (ok, out, _) = run(&["mcp", "restart", "modern"], &url, key);
    assert!(ok && out.contains("restarted"), "{out}");

    let (ok, _, err) = run(&["mcp", "tool", "modern", "nope"], &url, key);
    assert!(
        !ok && err.lines().count() == 1 && err.contains("has no tool `nope`"),
        "{err}"
    );
    let (ok, _, err) = run(&["mcp", "list"], &url, None);
    assert!(!ok && err.contains("401"), "{err}");
    let (ok, _, err) = run(
        &["mcp", "tool", "modern", "add", "--arg", "oops"],
        &url,
        key,
    );
    assert!(!ok && err.contains("name=value"), "{err}");

    Command::new("kill")
        .args(["-TERM", &gateway.child.id().to_string()])
        .status()
        .unwrap();
    gateway.child.wait().unwrap();
    let (ok, _, err) = run(&["mcp", "list"], &url, key);
    assert!(!ok && err.contains("cannot reach the gateway"), "{err}");
}

#[test]
fn cli_with_a_config_file_talks_to_the_server_directly() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let config = config.to_str().unwrap();
    let nowhere = "http://127.0.0.1:9";
    let (ok, out, err) = run(
        &["mcp", "--config", config, "test", "modern"],
        nowhere,
        None,
    );
    assert!(ok && out.contains("modern: ok"), "{out}{err}");
    let (ok, out, _) = run(
        &["mcp", "--config", config, "tools", "modern"],
        nowhere,
        None,
    );
    assert!(ok && out.contains("add"), "{out}");
    let (ok, out, _) = run(
        &[
            "mcp", "--config", config, "tool", "modern", "add", "--arg", "a=1", "--arg", "b=1",
        ],
        nowhere,
        None,
    );
    assert!(ok && out.trim() == "2", "{out}");
    let (ok, _, err) = run(
        &["mcp", "--config", config, "tool", "missing", "add"],
        nowhere,
        None,
    );
    assert!(
        !ok && err.contains("no MCP server named `missing`"),
        "{err}"
    );
    // Resources and prompts straight from the server too.
    let (ok, out, err) = run(
        &["mcp", "--config", config, "read", "modern", "test://text"],
        nowhere,
        None,
    );
    assert!(
        ok && out.contains("hello from a text resource"),
        "{out}{err}"
    );
    let (ok, out, err) = run(
        &["mcp", "--config", config, "resources", "modern"],
        nowhere,
        None,
    );
    assert!(ok && out.contains("test://binary"), "{out}{err}");
    // Answering for a user is the direct client's alone.
    let (ok, _, err) = run(
        &["mcp", "--elicitation", "accept-defaults", "tools", "modern"],
        nowhere,
        None,
    );
    assert!(
        !ok && err.contains("--elicitation works with --config"),
        "{err}"
    );
    let (ok, _, err) = run(&["mcp", "--config", config, "list"], nowhere, None);
    assert!(
        !ok && err.contains("`list` and `restart` act on a running gateway"),
        "{err}"
    );
}

/// `install-bridge` (the init container of a managed stdio server) copies the binary,
/// executable, to where the server's container runs it.
#[test]
fn install_bridge_copies_a_runnable_binary() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("llamagate");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_llamagate"))
        .arg("install-bridge")
        .arg(&dest)
        .status()
        .unwrap();
    assert!(status.success());
    let copied = std::process::Command::new(&dest)
        .arg("--version")
        .output()
        .unwrap();
    assert!(copied.status.success());
    assert!(String::from_utf8_lossy(&copied.stdout).starts_with("llamagate "));
}
