//! LlamaGate gateway library: configuration, the HTTP surface, the MCP client and the CLI.
//! The `llamagate` binary is a thin wrapper around [`cli::main`].

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod limits;
pub mod mcp;
pub mod metrics;
pub mod middleware;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod toolloop;
