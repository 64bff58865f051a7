//! Rules the types alone cannot express. Every problem is recorded, not just the first.

use std::{collections::HashSet, time::Duration};

use llamagate_crds::{FieldErrors, validation::check_url_scheme};

use super::{Config, ServerConfig, ToolFilterConfig, Transport};

/// Longest server name; it becomes part of tool names the model sees.
pub const MAX_SERVER_NAME_LEN: usize = 48;

/// Record every problem of `config` in `problems`.
pub fn validate(config: &Config, problems: &mut FieldErrors) {
    check_url_scheme(
        Transport::StreamableHttp,
        &config.upstream.url,
        "upstream.url",
        problems,
    );
    positive(config.upstream.timeout, "upstream.timeout", problems);
    if config.upstream.max_response_bytes.as_u64() < 1024 {
        problems.push("upstream.max_response_bytes", "must be at least 1KiB");
    }
    positive(
        config.server.request_timeout,
        "server.request_timeout",
        problems,
    );
    if config.server.max_body_bytes.as_u64() < 1024 {
        problems.push("server.max_body_bytes", "must be at least 1KiB");
    }
    if config.server.max_concurrent_requests == 0 {
        problems.push("server.max_concurrent_requests", "must be at least 1");
    }
    if config.log.level.trim().is_empty() {
        problems.push(
            "log.level",
            "must be a tracing filter such as `info` or `llamagate=debug`",
        );
    }
    for (field, rate) in [
        (
            "rate_limit.requests_per_second",
            config.rate_limit.requests_per_second,
        ),
        (
            "rate_limit.per_key_requests_per_second",
            config.rate_limit.per_key_requests_per_second,
        ),
    ] {
        if !(rate.is_finite() && rate >= 0.0) {
            problems.push(
                field,
                "must be a number of requests per second, 0 for no limit",
            );
        }
    }
    validate_auth(config, problems);
    validate_mcp(config, problems);
    validate_endpoint(&config.mcp.endpoint, problems);
    validate_virtual_servers(config, problems);
}

fn validate_endpoint(endpoint: &super::EndpointConfig, problems: &mut FieldErrors) {
    for (i, key) in endpoint.session_keys.iter().enumerate() {
        if crate::aggregate::seal::decode_key(key.expose()).is_none() {
            problems.push(
                format!("mcp.endpoint.session_keys[{i}]"),
                "must be 32 random bytes as base64 or 64 hex digits (`openssl rand -base64 32`)",
            );
        }
    }
    positive(endpoint.session_ttl, "mcp.endpoint.session_ttl", problems);
    positive(endpoint.list_timeout, "mcp.endpoint.list_timeout", problems);
    if !(1..=10_000).contains(&endpoint.page_size) {
        problems.push("mcp.endpoint.page_size", "must be between 1 and 10000");
    }
    if let Some(url) = &endpoint.advertise_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        problems.push(
            "mcp.endpoint.advertise_url",
            "must be a URL other replicas reach this one at, e.g. `http://10.0.0.7:11435`",
        );
    }
    for (i, origin) in endpoint.allowed_origins.iter().enumerate() {
        if !(origin.starts_with("http://") || origin.starts_with("https://"))
            || origin.ends_with('/')
        {
            problems.push(
                format!("mcp.endpoint.allowed_origins[{i}]"),
                "must be an origin such as `https://app.example.com` (scheme and host, no path)",
            );
        }
    }
}

fn validate_virtual_servers(config: &Config, problems: &mut FieldErrors) {
    let servers: HashSet<&str> = config.mcp.servers.iter().map(|s| s.name.as_str()).collect();
    // With cluster discovery, servers also come from McpServer resources: names are
    // checked against the file only without it.
    let known_now = config.discovery.kubernetes.is_none();
    let mut names = HashSet::new();
    for (i, virtual_server) in config.mcp.endpoint.virtual_servers.iter().enumerate() {
        let path = format!("mcp.endpoint.virtual_servers[{i}]");
        if let Err(message) = check_server_name(&virtual_server.name) {
            problems.push(format!("{path}.name"), message);
        }
        if !names.insert(virtual_server.name.as_str()) {
            problems.push(
                format!("{path}.name"),
                format!(
                    "another virtual server is already named `{}`",
                    virtual_server.name
                ),
            );
        }
        if virtual_server.servers.is_empty() {
            problems.push(
                format!("{path}.servers"),
                "name at least one server of mcp.servers",
            );
        }
        for (j, server) in virtual_server.servers.iter().enumerate() {
            if known_now && !servers.contains(server.as_str()) {
                problems.push(
                    format!("{path}.servers[{j}]"),
                    format!("no server named `{server}` in mcp.servers"),
                );
            }
        }
        validate_filter(&virtual_server.tools, &format!("{path}.tools"), problems);
    }
}

fn validate_auth(config: &Config, problems: &mut FieldErrors) {
    let servers: HashSet<&str> = config.mcp.servers.iter().map(|s| s.name.as_str()).collect();
    let mut seen = HashSet::new();
    for (i, key) in config.auth.keys.iter().enumerate() {
        let path = format!("auth.keys[{i}]");
        let value = key.key.expose();
        if let Some(digest) = value.strip_prefix("sha256:") {
            if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                problems.push(
                    format!("{path}.key"),
                    "a `sha256:` key must be followed by 64 hex digits",
                );
            }
        } else if value.len() < 16 {
            problems.push(
                format!("{path}.key"),
                "an API key must be at least 16 characters (or `sha256:<hex>`)",
            );
        }
        if !seen.insert(value) {
            problems.push(format!("{path}.key"), "the same key is configured twice");
        }
        if key.scopes.is_empty() {
            problems.push(
                format!("{path}.scopes"),
                "give at least one of chat, mcp:read, mcp:call, admin",
            );
        }
        for (j, server) in key.servers.iter().flatten().enumerate() {
            if !servers.contains(server.as_str()) && config.discovery.kubernetes.is_none() {
                problems.push(
                    format!("{path}.servers[{j}]"),
                    format!("no MCP server is named `{server}`"),
                );
            }
        }
    }
}

pub use llamagate_mcp::description::MAX_HEALTH_CHECK_INTERVAL;

fn validate_mcp(config: &Config, problems: &mut FieldErrors) {
    let mcp = &config.mcp;
    positive(mcp.connection_timeout, "mcp.connection_timeout", problems);
    positive(
        mcp.health_check_interval,
        "mcp.health_check_interval",
        problems,
    );
    positive(
        mcp.health_check_timeout,
        "mcp.health_check_timeout",
        problems,
    );
    if mcp.health_check_interval > MAX_HEALTH_CHECK_INTERVAL {
        problems.push(
            "mcp.health_check_interval",
            "must be at most `24h` (a server probed less often is not monitored)",
        );
    }
    if mcp.health_check_timeout >= mcp.health_check_interval {
        problems.push(
            "mcp.health_check_timeout",
            "must be shorter than mcp.health_check_interval",
        );
    }
    if !(1..=100).contains(&mcp.connection_pool_size) {
        problems.push("mcp.connection_pool_size", "must be between 1 and 100");
    }
    if !(1..=10_000).contains(&mcp.max_in_flight_per_session) {
        problems.push(
            "mcp.max_in_flight_per_session",
            "must be between 1 and 10000",
        );
    }
    if mcp.health_failure_threshold == 0 {
        problems.push("mcp.health_failure_threshold", "must be at least 1");
    }
    let limits = &mcp.limits;
    for (field, value) in [
        ("mcp.limits.max_tool_rounds", limits.max_tool_rounds),
        (
            "mcp.limits.max_tool_calls_per_round",
            limits.max_tool_calls_per_round,
        ),
        (
            "mcp.limits.max_total_tool_calls",
            limits.max_total_tool_calls,
        ),
    ] {
        if value == 0 {
            problems.push(field, "must be at least 1");
        }
    }
    positive(limits.tool_timeout, "mcp.limits.tool_timeout", problems);
    if limits.max_tool_result_bytes.as_u64() < 1024 {
        problems.push("mcp.limits.max_tool_result_bytes", "must be at least 1KiB");
    }
    validate_filter(&mcp.tools, "mcp.tools", problems);
    let mut names = HashSet::new();
    for (i, server) in mcp.servers.iter().enumerate() {
        let path = format!("mcp.servers[{i}]");
        if !names.insert(server.name.as_str()) {
            problems.push(
                format!("{path}.name"),
                format!("another server is already named `{}`", server.name),
            );
        }
        validate_server(server, &path, problems);
    }
}

fn validate_server(server: &ServerConfig, path: &str, problems: &mut FieldErrors) {
    if let Err(message) = check_server_name(&server.name) {
        problems.push(format!("{path}.name"), message);
    }
    match server.transport {
        Transport::Stdio => {
            if server
                .command
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
            {
                problems.push(
                    format!("{path}.command"),
                    "a stdio server needs the program to run, e.g. `uvx`",
                );
            }
            if server.url.is_some() {
                problems.push(
                    format!("{path}.url"),
                    "a stdio server has no url; remove it or change the transport",
                );
            }
            if !server.headers.is_empty() || server.api_key.is_some() {
                problems.push(
                    format!("{path}.headers"),
                    "headers and api_key apply to remote transports only",
                );
            }
        }
        transport => {
            match &server.url {
                Some(url) => check_url_scheme(transport, url, &format!("{path}.url"), problems),
                None => problems.push(
                    format!("{path}.url"),
                    format!("a {transport} server needs a url, e.g. `http://127.0.0.1:3001/mcp`"),
                ),
            }
            if server.command.is_some() {
                problems.push(
                    format!("{path}.command"),
                    "only stdio servers run a command; remove it or use `transport: stdio`",
                );
            }
        }
    }
    for name in server.headers.keys() {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            problems.push(
                format!("{path}.headers.{name}"),
                "not a valid HTTP header name",
            );
        }
    }
    for (name, value) in &server.headers {
        if http::HeaderValue::from_str(value.expose()).is_err() {
            problems.push(
                format!("{path}.headers.{name}"),
                "the value has characters a header cannot carry",
            );
        }
    }
    if let Some(timeout) = server.timeout {
        positive(timeout, &format!("{path}.timeout"), problems);
    }
    if let Some(size) = server.connection_pool_size
        && !(1..=100).contains(&size)
    {
        problems.push(
            format!("{path}.connection_pool_size"),
            "must be between 1 and 100",
        );
    }
    validate_filter(&server.tools, &format!("{path}.tools"), problems);
}

/// Server names become part of tool names (`mcp.<server>.<tool>`), so they are restricted
/// to characters that survive every naming scheme unchanged.
pub fn check_server_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_SERVER_NAME_LEN {
        return Err(format!("must be 1 to {MAX_SERVER_NAME_LEN} characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "`{name}` may only contain letters, digits, `-` and `_`"
        ));
    }
    Ok(())
}

fn validate_filter(filter: &ToolFilterConfig, path: &str, problems: &mut FieldErrors) {
    for (list, globs) in [("allow", &filter.allow), ("deny", &filter.deny)] {
        for (i, glob) in globs.iter().enumerate() {
            if let Err(e) = globset::Glob::new(glob) {
                problems.push(
                    format!("{path}.{list}[{i}]"),
                    format!("`{glob}` is not a glob: {}", e.kind()),
                );
            }
        }
    }
}

fn positive(value: Duration, path: &str, problems: &mut FieldErrors) {
    if value.is_zero() {
        problems.push(path, "must be longer than zero, e.g. `30s`");
    }
}
