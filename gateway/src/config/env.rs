//! The environment's part in configuration: `${VAR}` expansion inside the file, and
//! variables that override keys (`LLAMAGATE_*` and the original LlamaGate names).
//!
//! Precedence, lowest first: the file, the original LlamaGate variables, `LLAMAGATE_*`.

use serde_norway::{Mapping, Value};

use llamagate_crds::FieldErrors;

/// How an environment value becomes a YAML value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKind {
    /// Kept as a string (also durations like `30s` and sizes like `1MiB`).
    Text,
    /// An integer or decimal number.
    Number,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`).
    Bool,
    /// A comma-separated list of strings.
    List,
}

/// Every key that a `LLAMAGATE_<KEY>` variable can set: the variable name is `LLAMAGATE_`
/// followed by the path with `.` replaced by `_`, upper-cased.
pub const OVERRIDABLE_KEYS: &[(&str, EnvKind)] = &[
    ("listen", EnvKind::Text),
    ("log.format", EnvKind::Text),
    ("log.level", EnvKind::Text),
    ("upstream.url", EnvKind::Text),
    ("upstream.api_key", EnvKind::Text),
    ("upstream.timeout", EnvKind::Text),
    ("upstream.max_response_bytes", EnvKind::Text),
    ("rate_limit.requests_per_second", EnvKind::Number),
    ("rate_limit.burst", EnvKind::Number),
    ("rate_limit.per_key_requests_per_second", EnvKind::Number),
    ("rate_limit.per_key_burst", EnvKind::Number),
    ("server.max_body_bytes", EnvKind::Text),
    ("server.request_timeout", EnvKind::Text),
    ("server.shutdown_grace", EnvKind::Text),
    ("server.max_concurrent_requests", EnvKind::Number),
    ("mcp.enabled", EnvKind::Bool),
    ("mcp.connection_pool_size", EnvKind::Number),
    ("mcp.max_in_flight_per_session", EnvKind::Number),
    ("mcp.connection_timeout", EnvKind::Text),
    ("mcp.health_check_interval", EnvKind::Text),
    ("mcp.health_check_timeout", EnvKind::Text),
    ("mcp.health_failure_threshold", EnvKind::Number),
    ("mcp.allow_link_local_addresses", EnvKind::Bool),
    ("mcp.cache.tool_definitions_ttl", EnvKind::Text),
    ("mcp.cache.resource_metadata_ttl", EnvKind::Text),
    ("mcp.cache.prompt_templates_ttl", EnvKind::Text),
    ("mcp.limits.max_tool_rounds", EnvKind::Number),
    ("mcp.limits.max_tool_calls_per_round", EnvKind::Number),
    ("mcp.limits.max_total_tool_calls", EnvKind::Number),
    ("mcp.limits.tool_timeout", EnvKind::Text),
    ("mcp.limits.max_tool_result_bytes", EnvKind::Text),
    ("mcp.tools.allow", EnvKind::List),
    ("mcp.tools.deny", EnvKind::List),
];

/// The original LlamaGate variable names and the key each sets. `OLLAMA_HOST`, `API_KEY`
/// and `PORT` are translated (see [`apply_alias`]); the rest set the key as they are.
pub const ENV_ALIASES: &[(&str, &str, EnvKind)] = &[
    ("OLLAMA_HOST", "upstream.url", EnvKind::Text),
    ("API_KEY", "auth.keys", EnvKind::Text),
    ("PORT", "listen", EnvKind::Number),
    ("TIMEOUT", "upstream.timeout", EnvKind::Text),
    (
        "RATE_LIMIT_RPS",
        "rate_limit.requests_per_second",
        EnvKind::Number,
    ),
    ("MCP_ENABLED", "mcp.enabled", EnvKind::Bool),
    (
        "MCP_MAX_TOOL_ROUNDS",
        "mcp.limits.max_tool_rounds",
        EnvKind::Number,
    ),
    (
        "MCP_MAX_TOOL_CALLS_PER_ROUND",
        "mcp.limits.max_tool_calls_per_round",
        EnvKind::Number,
    ),
    (
        "MCP_MAX_TOTAL_TOOL_CALLS",
        "mcp.limits.max_total_tool_calls",
        EnvKind::Number,
    ),
    (
        "MCP_DEFAULT_TOOL_TIMEOUT",
        "mcp.limits.tool_timeout",
        EnvKind::Text,
    ),
    (
        "MCP_MAX_TOOL_RESULT_SIZE",
        "mcp.limits.max_tool_result_bytes",
        EnvKind::Text,
    ),
    ("MCP_ALLOW_TOOLS", "mcp.tools.allow", EnvKind::List),
    ("MCP_DENY_TOOLS", "mcp.tools.deny", EnvKind::List),
];

/// The `LLAMAGATE_*` variable of a key path.
pub fn env_name(path: &str) -> String {
    format!("LLAMAGATE_{}", path.replace('.', "_").to_uppercase())
}

/// Every `(variable, key path)` pair that overrides configuration, for documentation.
pub fn env_overrides() -> Vec<(String, &'static str)> {
    OVERRIDABLE_KEYS
        .iter()
        .map(|(path, _)| (env_name(path), *path))
        .collect()
}

/// Replace `${VAR}` and `${VAR:-default}` in every string of `value`; `$$` is a literal `$`.
/// A variable that is not set (and has no default) is an error naming it and the key.
pub fn expand(
    value: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut FieldErrors,
) {
    match value {
        Value::String(text) => match expand_str(text, lookup) {
            Ok(expanded) => *text = expanded,
            Err(message) => errors.push(path, message),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand(item, &format!("{path}[{i}]"), lookup, errors);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let key = key
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{key:?}"));
                let child = if path.is_empty() {
                    key
                } else {
                    format!("{path}.{key}")
                };
                expand(item, &child, lookup, errors);
            }
        }
        Value::Tagged(tagged) => expand(&mut tagged.value, path, lookup, errors),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn expand_str(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("${") {
            let end = after.find('}').ok_or_else(|| {
                format!("unclosed `${{` in `{text}`; write `$${{` for a literal `${{`")
            })?;
            let expression = &after[..end];
            let (name, default) = match expression.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (expression, None),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`${{{expression}}}` is not a variable reference; use `${{NAME}}`"
                ));
            }
            match (lookup(name), default) {
                (Some(found), _) => out.push_str(&found),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    return Err(format!(
                        "environment variable `{name}` is not set; set it or write `${{{name}:-default}}`"
                    ));
                }
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Apply the original LlamaGate variables, then the `LLAMAGATE_*` ones, onto the parsed file.
pub fn apply_overrides(
    root: &mut Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut FieldErrors,
) {
    for (variable, path, kind) in ENV_ALIASES {
        if let Some(raw) = lookup(variable) {
            apply_alias(root, variable, path, *kind, &raw, errors);
        }
    }
    for (path, kind) in OVERRIDABLE_KEYS {
        let variable = env_name(path);
        if let Some(raw) = lookup(&variable) {
            match typed(&raw, *kind) {
                Ok(value) => set_path(root, path, value),
                Err(expected) => errors.push(
                    format!("{variable} ({path})"),
                    format!("`{raw}` is not {expected}"),
                ),
            }
        }
    }
}

fn apply_alias(
    root: &mut Value,
    variable: &str,
    path: &str,
    kind: EnvKind,
    raw: &str,
    errors: &mut FieldErrors,
) {
    match variable {
        // The original gateway spoke Ollama's native API; this one speaks OpenAI's, which
        // Ollama serves under `/v1`.
        "OLLAMA_HOST" => {
            let base = if raw.contains("://") {
                raw.to_owned()
            } else {
                format!("http://{raw}")
            };
            let trimmed = base.trim_end_matches('/');
            let has_path = trimmed
                .split_once("://")
                .is_some_and(|(_, rest)| rest.contains('/'));
            let url = if has_path {
                trimmed.to_owned()
            } else {
                format!("{trimmed}/v1")
            };
            set_path(root, path, Value::String(url));
        }
        "API_KEY" => {
            let mut key = Mapping::new();
            key.insert("name".into(), "API_KEY".into());
            key.insert("key".into(), raw.into());
            set_path(root, path, Value::Sequence(vec![Value::Mapping(key)]));
        }
        "PORT" => match raw.parse::<u16>() {
            Ok(port) if port > 0 => {
                let host = root
                    .get("listen")
                    .and_then(Value::as_str)
                    .and_then(|l| l.parse::<std::net::SocketAddr>().ok())
                    .map(|a| a.ip())
                    .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
                set_path(
                    root,
                    path,
                    Value::String(std::net::SocketAddr::new(host, port).to_string()),
                );
            }
            _ => errors.push(
                format!("PORT ({path})"),
                format!("`{raw}` is not a port number (1-65535)"),
            ),
        },
        _ => match typed(raw, kind) {
            Ok(value) => set_path(root, path, value),
            Err(expected) => errors.push(
                format!("{variable} ({path})"),
                format!("`{raw}` is not {expected}"),
            ),
        },
    }
}

fn typed(raw: &str, kind: EnvKind) -> Result<Value, &'static str> {
    match kind {
        EnvKind::Text => Ok(Value::String(raw.to_owned())),
        EnvKind::Number => {
            if let Ok(int) = raw.trim().parse::<u64>() {
                Ok(Value::Number(int.into()))
            } else {
                raw.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| Value::Number(f.into()))
                    .ok_or("a number")
            }
        }
        EnvKind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Bool(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Bool(false)),
            _ => Err("true or false"),
        },
        EnvKind::List => Ok(Value::Sequence(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect(),
        )),
    }
}

fn set_path(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if !matches!(node, Value::Mapping(_)) {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            unreachable!("made a mapping above")
        };
        if parts.peek().is_none() {
            map.insert(part.into(), value);
            return;
        }
        node = map.entry(part.into()).or_insert(Value::Null);
    }
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
