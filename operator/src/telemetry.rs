//! Logging: text for people, JSON lines for pipelines; `RUST_LOG` overrides the default
//! (`info` for the operator and the MCP client, `warn` for dependencies).

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

const DEFAULT: &str = "warn,llamagate_operator=info,llamagate_mcp=info";

/// Install the global subscriber (a second call keeps the first).
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if json {
        registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init()
    } else {
        registry
            .with(fmt::layer().with_ansi(false).with_writer(std::io::stderr))
            .try_init()
    };
}
