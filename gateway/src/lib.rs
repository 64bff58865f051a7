//! The LlamaGate gateway: its configuration, the OpenAI-compatible API with the MCP tool
//! loop, the MCP management API (`/v1/mcp/...`), the aggregated MCP server (`/mcp`) and the
//! sources of servers (file, cluster). The MCP client is the `llamagate-mcp` crate, the stdio
//! bridge `llamagate-bridge`, and the `llamagate` binary (`cli/`) runs them all.

pub mod aggregate;
pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod discovery;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod policy;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod toolloop;
