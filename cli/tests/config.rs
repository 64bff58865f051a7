//! Loading configuration as a user would: whole files, every problem reported with its path.

use std::{collections::HashMap, time::Duration};

use llamagate_gateway::config::{Config, ProtocolMode, REDACTED, Scope, Transport, load_from_str};

fn load_with(text: &str, vars: &[(&str, &str)]) -> Result<Config, String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    load_from_str(text, "test.yaml", &|name| vars.get(name).cloned()).map_err(|e| e.to_string())
}

fn load(text: &str) -> Result<Config, String> {
    load_with(text, &[])
}

#[test]
fn empty_file_gives_documented_defaults() {
    let config = load("").unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:11435");
    assert_eq!(config.mcp.connection_pool_size, 4);
    assert_eq!(
        config.mcp.cache.tool_definitions_ttl,
        Duration::from_secs(300)
    );
    assert_eq!(
        config.mcp.limits.max_tool_result_bytes.as_u64(),
        1024 * 1024
    );
}

#[test]
fn seed_shaped_file_loads() {
    let config = load_with(
        r#"
listen: 127.0.0.1:8080
upstream: { url: "http://127.0.0.1:11434/v1", api_key: "${OPENAI_API_KEY}", timeout: 2m }
auth: { keys: [ { key: "${ADMIN_KEY}", scopes: [admin, "mcp:read"], servers: [time] } ] }
mcp:
  connection_pool_size: 10
  connection_timeout: 30s
  health_check_interval: 60s
  health_check_timeout: 5s
  cache: { tool_definitions_ttl: 5m, resource_metadata_ttl: 1m, prompt_templates_ttl: 10m }
  limits: { max_tool_rounds: 4, tool_timeout: 10s, max_tool_result_bytes: 64KiB }
  servers:
    - { name: time, transport: stdio, command: uvx, args: [mcp-server-time] }
    - { name: remote-server, transport: http, url: "http://127.0.0.1:3000/mcp", api_key: "${MCP_API_KEY}", protocol: legacy }
    - { name: live, transport: websocket, url: "ws://127.0.0.1:8765/ws" }
"#,
        &[("OPENAI_API_KEY", "sk-upstream"), ("ADMIN_KEY", "admin-key-0123456789"), ("MCP_API_KEY", "mcp-secret")],
    )
    .unwrap();
    assert_eq!(config.upstream.timeout, Duration::from_secs(120));
    assert_eq!(
        config.upstream.api_key.as_ref().unwrap().expose(),
        "sk-upstream"
    );
    assert_eq!(
        config.auth.keys[0].scopes,
        vec![Scope::Admin, Scope::McpRead]
    );
    let servers = &config.mcp.servers;
    assert_eq!(servers.len(), 3);
    assert_eq!(
        servers[1].transport,
        Transport::StreamableHttp,
        "`http` is the seed's name"
    );
    assert_eq!(servers[1].protocol, ProtocolMode::Legacy);
    assert_eq!(config.mcp.limits.max_tool_result_bytes.as_u64(), 64 * 1024);
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("mcp-secret") && !shown.contains("sk-upstream") && shown.contains(REDACTED)
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let err = load("mcp:\n  cache: { tool_definition_ttl: 5m }\n").unwrap_err();
    assert!(
        err.contains(
            "test.yaml: mcp.cache.tool_definition_ttl: unknown field `tool_definition_ttl`"
        ),
        "{err}"
    );
    let err = load("mcp:\n  servers:\n    - { name: a, transport: stdio, command: x, argz: [] }\n")
        .unwrap_err();
    assert!(
        err.contains("mcp.servers[0].argz: unknown field `argz`"),
        "{err}"
    );
}

#[test]
fn every_bad_server_is_reported() {
    let err = load(
        r#"
mcp:
  servers:
    - { name: a, transport: stdio }
    - { name: b, transport: telepathy, url: "http://x" }
    - { name: c, transport: websocket, url: "http://x/ws" }
    - { name: "bad.name", transport: sse, url: "http://x/sse" }
    - { name: a, transport: sse, url: "http://x/sse", timeout: soon }
"#,
    )
    .unwrap_err();
    for needle in [
        "mcp.servers[1].transport: unknown variant `telepathy`",
        "mcp.servers[4].timeout:",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    // Type errors stop before semantic checks; fix them and the rest are listed together.
    let err = load(
        r#"
mcp:
  servers:
    - { name: a, transport: stdio }
    - { name: c, transport: websocket, url: "http://x/ws" }
    - { name: "bad.name", transport: sse, url: "http://x/sse" }
    - { name: a, transport: sse }
"#,
    )
    .unwrap_err();
    for needle in [
        "mcp.servers[0].command: a stdio server needs the program to run",
        "mcp.servers[1].url: `http://x/ws` does not suit transport `websocket`",
        "mcp.servers[2].name: `bad.name` may only contain",
        "mcp.servers[3].name: another server is already named `a`",
        "mcp.servers[3].url: a sse server needs a url",
        "5 configuration problems",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
}

#[test]
fn missing_variable_is_named() {
    let err = load("upstream: { api_key: \"${NO_SUCH_VARIABLE_HERE}\" }").unwrap_err();
    assert!(
        err.contains("upstream.api_key: environment variable `NO_SUCH_VARIABLE_HERE` is not set"),
        "{err}"
    );
}

#[test]
fn bad_values_explain_the_fix() {
    let err = load("listen: localhost\nserver: { request_timeout: soon }\nupstream: { url: ollama:11434 }\nmcp: { health_check_timeout: 2m, limits: { max_tool_rounds: 0 }, tools: { deny: [\"[\"] } }").unwrap_err();
    for needle in [
        "listen: invalid socket address syntax; expected HOST:PORT, e.g.",
        "upstream.url: `ollama:11434` does not suit",
        "mcp.health_check_timeout: must be shorter",
        "mcp.limits.max_tool_rounds: must be at least 1",
        "mcp.tools.deny[0]: `[` is not a glob",
        "server.request_timeout:",
        "e.g. `500ms`, `30s`",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
}

#[test]
fn a_probe_interval_past_a_day_is_refused() {
    let err = load("mcp: { health_check_interval: 1000years }").unwrap_err();
    assert!(
        err.contains("mcp.health_check_interval: must be at most `24h`"),
        "{err}"
    );
}

#[test]
fn api_keys_are_checked() {
    let err = load("auth: { keys: [ { key: short }, { key: \"sha256:abc\" }, { key: 0123456789abcdefX, scopes: [] }, { key: short } ] }").unwrap_err();
    for needle in [
        "auth.keys[0].key: an API key must be at least 16 characters",
        "auth.keys[1].key: a `sha256:` key must be followed by 64 hex digits",
        "auth.keys[2].scopes: give at least one of",
        "auth.keys[3].key: the same key is configured twice",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    let err = load("auth: { keys: [ { key: 0123456789abcdefY, scopes: [root] } ] }").unwrap_err();
    assert!(
        err.contains("auth.keys[0].scopes[0]: unknown variant `root`"),
        "{err}"
    );
}

#[test]
fn yaml_syntax_errors_give_a_line() {
    let err = load("mcp:\n  servers: [\n").unwrap_err();
    assert!(err.contains("test.yaml: line"), "{err}");
}

#[test]
fn env_overrides_apply_to_loaded_config() {
    let config = load_with(
        "mcp: { limits: { max_tool_rounds: 3 } }",
        &[
            ("MCP_MAX_TOOL_ROUNDS", "6"),
            ("TIMEOUT", "45s"),
            ("RATE_LIMIT_RPS", "2.5"),
        ],
    )
    .unwrap();
    assert_eq!(config.mcp.limits.max_tool_rounds, 6);
    assert_eq!(config.upstream.timeout, Duration::from_secs(45));
    assert_eq!(config.rate_limit.requests_per_second, 2.5);
}

#[test]
fn empty_credentials_mean_none() {
    let config = load_with("upstream: { api_key: \"${KEY:-}\" }", &[]).unwrap();
    assert!(config.upstream.api_key.is_none());
}

#[test]
fn every_environment_variable_is_documented() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    for (variable, path) in llamagate_gateway::config::env_overrides() {
        assert!(
            docs.contains(&format!("`{variable}`")),
            "docs/configuration.md lacks {variable} ({path})"
        );
        assert!(
            docs.contains(&format!("`{path}`")),
            "docs/configuration.md lacks key {path}"
        );
    }
    for (alias, _, _) in llamagate_gateway::config::ENV_ALIASES {
        assert!(
            docs.contains(&format!("`{alias}`")),
            "docs/configuration.md lacks alias {alias}"
        );
    }
}

#[test]
fn keys_are_read_from_a_keys_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.yaml");
    std::fs::write(
        &file,
        "- { name: team-a, key: team-a-key-0123456789, scopes: [chat] }\n- { key: second-key-0123456789 }\n",
    )
    .unwrap();
    let text = format!(
        "auth: {{ keys: [ {{ key: inline-key-0123456789 }} ], keys_file: {} }}",
        file.display()
    );
    let config = load(&text).unwrap();
    let names: Vec<Option<&str>> = config.auth.keys.iter().map(|k| k.name.as_deref()).collect();
    assert_eq!(names, [None, Some("team-a"), None]);
    assert_eq!(config.auth.keys[1].scopes, [Scope::Chat]);
}

#[test]
fn a_bad_keys_file_is_named_and_its_content_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.yaml");
    let error = load(&format!("auth: {{ keys_file: {} }}", missing.display())).unwrap_err();
    assert!(error.contains("auth.keys_file: cannot read"), "{error}");
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "- key: \"super-secret-value-123\n  oops: [").unwrap();
    let error = load(&format!("auth: {{ keys_file: {} }}", broken.display())).unwrap_err();
    assert!(error.contains("auth.keys_file"), "{error}");
    assert!(!error.contains("super-secret-value-123"), "{error}");
    let short = dir.path().join("short.yaml");
    std::fs::write(&short, "- { key: short, bogus: 1 }\n").unwrap();
    let error = load(&format!("auth: {{ keys_file: {} }}", short.display())).unwrap_err();
    assert!(error.contains("auth.keys_file[0]"), "{error}");
    let not_a_list = dir.path().join("map.yaml");
    std::fs::write(&not_a_list, "key: x\n").unwrap();
    let error = load(&format!("auth: {{ keys_file: {} }}", not_a_list.display())).unwrap_err();
    assert!(error.contains("must hold a list"), "{error}");
}

#[test]
fn virtual_servers_are_checked() {
    let err = load(
        r#"
mcp:
  servers:
    - { name: fs, transport: stdio, command: uvx }
  endpoint:
    virtual_servers:
      - { name: team, servers: [fs, nope], tools: { allow: ["fs__[oops"] } }
      - { name: team, servers: [] }
      - { name: "bad name!", servers: [fs] }
"#,
    )
    .unwrap_err();
    for needle in [
        "mcp.endpoint.virtual_servers[0].servers[1]: no server named `nope` in mcp.servers",
        "mcp.endpoint.virtual_servers[0].tools.allow[0]",
        "mcp.endpoint.virtual_servers[1].name: another virtual server is already named `team`",
        "mcp.endpoint.virtual_servers[1].servers: name at least one server",
        "mcp.endpoint.virtual_servers[2].name",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    let fine = load(
        "mcp:\n  servers:\n    - { name: fs, transport: stdio, command: uvx }\n  endpoint:\n    virtual_servers:\n      - { name: team, servers: [fs] }\n",
    )
    .unwrap();
    let team = &fine.mcp.endpoint.virtual_servers[0];
    assert!(team.prefix && team.tools.allow == ["*"]);
}
