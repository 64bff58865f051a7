//! Logging setup: text for people, JSON for pipelines; `RUST_LOG` overrides the configured
//! filter.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Our crates, whose events are written for operators.
const OURS: &[&str] = &["llamagate", "llamagate_mcp", "llamagate_operator"];

/// The filter of a configured level. A plain level (`info`) applies to our crates, and
/// dependencies (rmcp prints every server's instructions and capabilities at INFO for each
/// session) log one level quieter, so their chatter shows at `debug`. Directives of their
/// own (`llamagate=debug,rmcp=info`) are used as they are, like `RUST_LOG`.
pub fn directives(level: &str) -> String {
    let level = level.trim();
    let dependencies = match level.to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "info",
        "info" | "warn" => "warn",
        "error" => "error",
        "off" => "off",
        _ => return level.to_owned(),
    };
    let ours: Vec<String> = OURS
        .iter()
        .map(|krate| format!("{krate}={level}"))
        .collect();
    format!("{dependencies},{}", ours.join(","))
}

/// Install the global subscriber. Logs go to stderr so that stdout stays free for commands
/// whose output is data (`llamagate mcp … --output json`).
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(directives(&log.level)))
        .unwrap_or_else(|_| EnvFilter::new(directives("info")));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match log.format {
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Text if !std::io::IsTerminal::is_terminal(&std::io::stderr()) => registry
            .with(fmt::layer().with_ansi(false).with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Text => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
    };
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::directives;

    #[test]
    fn dependencies_log_one_level_quieter_than_ours() {
        assert_eq!(
            directives("info"),
            "warn,llamagate=info,llamagate_mcp=info,llamagate_operator=info"
        );
        assert!(directives("debug").starts_with("info,llamagate=debug"));
        assert_eq!(
            directives("llamagate=debug,rmcp=info"),
            "llamagate=debug,rmcp=info"
        );
        for level in [
            "trace",
            "debug",
            "info",
            "warn",
            "error",
            "off",
            "rmcp=info",
        ] {
            assert!(
                tracing_subscriber::EnvFilter::try_new(directives(level)).is_ok(),
                "{level}"
            );
        }
    }
}
