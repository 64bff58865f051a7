//! LlamaGate gateway library: configuration, the HTTP surface, the tool loop and the CLI.
//! The MCP client is its own crate, `llamagate-mcp`.
//! The `llamagate` binary is a thin wrapper around [`cli::main`].

pub mod aggregate;
pub mod api;
pub mod app;
pub mod auth;
pub mod bridge;
pub mod cli;
pub mod config;
pub mod discovery;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod toolloop;
