//! Reading a configuration file into a validated [`Config`].

use std::{fmt, path::Path};

use llamagate_crds::FieldErrors;
use serde::de::DeserializeOwned;
use serde_norway::Value;

use super::{Config, ServerConfig, env, validate};

/// Why a configuration could not be used: every problem, each with the key path.
#[derive(Debug)]
pub struct ConfigError {
    /// The file (or other source) the configuration came from.
    pub source_name: String,
    /// One entry per problem.
    pub problems: FieldErrors,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.0.len();
        writeln!(
            f,
            "{}: {count} configuration problem{}:",
            self.source_name,
            if count == 1 { "" } else { "s" }
        )?;
        for (i, problem) in self.problems.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "  {}: {}: {}",
                self.source_name, problem.path, problem.message
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Load the file at `path`, with `${VAR}` and overrides from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let source_name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let mut problems = FieldErrors::default();
        problems.push("(file)", format!("cannot read the configuration file: {e}"));
        ConfigError {
            source_name: source_name.clone(),
            problems,
        }
    })?;
    load_from_str(&text, &source_name, &|name| std::env::var(name).ok())
}

/// Load configuration text; `lookup` resolves environment variables.
pub fn load_from_str(
    text: &str,
    source_name: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let fail = |problems| ConfigError {
        source_name: source_name.to_owned(),
        problems,
    };
    let mut problems = FieldErrors::default();
    let mut root = match serde_norway::from_str::<Value>(text) {
        Ok(Value::Null) => Value::Mapping(Default::default()),
        Ok(root @ Value::Mapping(_)) => root,
        Ok(_) => {
            problems.push(
                "(top level)",
                "expected a mapping of keys such as `listen`, `upstream`, `mcp`",
            );
            return Err(fail(problems));
        }
        Err(e) => {
            let at = e
                .location()
                .map(|l| format!("line {}, column {}", l.line(), l.column()))
                .unwrap_or_else(|| "(yaml)".to_owned());
            problems.push(at, format!("not valid YAML: {e}"));
            return Err(fail(problems));
        }
    };
    env::expand(&mut root, "", lookup, &mut problems);
    env::apply_overrides(&mut root, lookup, &mut problems);
    if !problems.0.is_empty() {
        return Err(fail(problems));
    }

    // Each top-level section, and each server, is deserialized on its own so that a mistake
    // in one does not hide mistakes in the others.
    let servers = root
        .get_mut("mcp")
        .and_then(|mcp| mcp.as_mapping_mut())
        .and_then(|mcp| mcp.remove("servers"));
    let mut config = sections(root, &mut problems);
    match servers {
        None | Some(Value::Null) => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                if let Some(server) =
                    deserialize::<ServerConfig>(item, &format!("mcp.servers[{i}]"), &mut problems)
                {
                    config.mcp.servers.push(server);
                }
            }
        }
        Some(_) => problems.push("mcp.servers", "expected a list of servers (`- name: ...`)"),
    }
    read_keys_file(&mut config, &mut problems);
    normalize(&mut config);
    // Sections that did not deserialize hold defaults: only check the others, so every
    // message is about what the file says.
    let broken: Vec<String> = problems
        .0
        .iter()
        .map(|p| section_of(&p.path).to_owned())
        .collect();
    let mut semantic = FieldErrors::default();
    validate::validate(&config, &mut semantic);
    problems.0.extend(
        semantic
            .0
            .into_iter()
            .filter(|p| !broken.iter().any(|b| b == section_of(&p.path))),
    );
    problems.into_result().map(|()| config).map_err(fail)
}

/// Build a [`Config`] section by section; a section with a problem keeps its defaults.
fn sections(root: Value, problems: &mut FieldErrors) -> Config {
    let Value::Mapping(map) = root else {
        return Config::default();
    };
    let mut config = Config::default();
    for (key, value) in map {
        let Some(key) = key.as_str().map(str::to_owned) else {
            problems.push(
                "(top level)",
                format!("keys must be strings, found {key:?}"),
            );
            continue;
        };
        macro_rules! section {
            ($field:ident) => {
                if let Some(section) = deserialize(value, &key, problems) {
                    config.$field = section;
                }
            };
        }
        match key.as_str() {
            "listen" => section!(listen),
            "log" => section!(log),
            "upstream" => section!(upstream),
            "auth" => section!(auth),
            "rate_limit" => section!(rate_limit),
            "server" => section!(server),
            "mcp" => section!(mcp),
            "discovery" => section!(discovery),
            _ => problems.push(
                key.as_str(),
                "unknown key; expected one of listen, log, upstream, auth, rate_limit, server, mcp, discovery",
            ),
        }
    }
    config
}

/// Add the keys of `auth.keys_file` (a YAML list of keys) to `auth.keys`.
fn read_keys_file(config: &mut Config, problems: &mut FieldErrors) {
    let Some(path) = config.auth.keys_file.clone() else {
        return;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => {
            problems.push(
                "auth.keys_file",
                format!("cannot read `{}`: {error}", path.display()),
            );
            return;
        }
    };
    match serde_norway::from_str::<Value>(&text) {
        Ok(Value::Sequence(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                let prefix = format!("auth.keys_file[{i}]");
                if let Some(key) = deserialize(item, &prefix, problems) {
                    config.auth.keys.push(key);
                }
            }
        }
        Ok(Value::Null) => {}
        Ok(_) => problems.push(
            "auth.keys_file",
            format!(
                "`{}` must hold a list of keys (`- key: ...`)",
                path.display()
            ),
        ),
        // The parser's message may quote the file, which holds secrets: give the place only.
        Err(error) => problems.push(
            "auth.keys_file",
            format!(
                "`{}` is not valid YAML{}",
                path.display(),
                error
                    .location()
                    .map(|at| format!(" (line {}, column {})", at.line(), at.column()))
                    .unwrap_or_default()
            ),
        ),
    }
}

fn section_of(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

/// An empty credential (say `${TOKEN:-}` with the variable unset) means "none".
fn normalize(config: &mut Config) {
    let empty =
        |secret: &Option<super::Secret>| secret.as_ref().is_some_and(|s| s.expose().is_empty());
    if empty(&config.upstream.api_key) {
        config.upstream.api_key = None;
    }
    for server in &mut config.mcp.servers {
        if empty(&server.api_key) {
            server.api_key = None;
        }
    }
}

/// What a field expects, judged by its name, added to serde's terse messages.
fn hint(path: &str) -> Option<&'static str> {
    let leaf = path.rsplit('.').next().unwrap_or(path);
    if leaf == "listen" {
        Some("expected HOST:PORT, e.g. `127.0.0.1:11435`")
    } else if leaf.ends_with("timeout")
        || leaf.ends_with("_ttl")
        || leaf.ends_with("interval")
        || leaf.ends_with("grace")
    {
        Some("e.g. `500ms`, `30s` or `5m`")
    } else if leaf.ends_with("_bytes") {
        Some("e.g. `64KiB`, `1MiB` or a number of bytes")
    } else {
        None
    }
}

fn deserialize<T: DeserializeOwned>(
    value: Value,
    prefix: &str,
    problems: &mut FieldErrors,
) -> Option<T> {
    serde_path_to_error::deserialize(value)
        .map_err(|error| {
            let inner = error.path().to_string();
            let path = match (prefix.is_empty(), inner.as_str()) {
                (true, ".") => "(top level)".to_owned(),
                (true, _) => inner,
                (false, ".") => prefix.to_owned(),
                (false, _) => format!("{prefix}.{inner}"),
            };
            let mut message = error.into_inner().to_string();
            if let Some(hint) = hint(&path).filter(|_| !message.contains("unknown field")) {
                message = format!("{message}; {hint}");
            }
            problems.push(path, message);
        })
        .ok()
}
