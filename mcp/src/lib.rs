//! The LlamaGate MCP client: one implementation of every transport (stdio, Streamable
//! HTTP, legacy HTTP+SSE, WebSocket) in both protocol eras, with pooled sessions, list
//! caches, health monitoring and a registry of servers fed by several sources. Used by the
//! gateway, the CLI, the stdio bridge and the operator's prober; it knows nothing of HTTP
//! servers or Kubernetes.
//!
//! * Describe a server with [`ServerDescription`] (the gateway's config file and the
//!   `McpServer` resource each convert into one).
//! * Use one server with [`ServerClient`], many with [`Registry`], both built on a
//!   [`Context`] (HTTP pool, [`McpMetrics`], the shared [`Prober`]).
//! * Check a server once with [`probe_once`] (the operator's status).
//! * Run a stdio server's process with [`stdio_process`] (the bridge).

pub mod address_guard;
pub mod bounded_body;
pub mod cache;
pub mod client_handler;
mod context;
pub mod description;
pub mod error;
pub mod filter;
#[doc(hidden)]
pub mod fuzzing;
pub mod health;
pub mod metrics;
mod one_shot_probe;
mod pool;
pub mod questions;
pub mod registry;
pub mod secret;
pub mod server;
mod session;
pub mod stdio_process;
mod transport;

pub use client_handler::Elicitation;
pub use context::Context;
pub use description::{
    Endpoint, ProtocolMode, RemoteEndpoint, RemoteTransport, ServerDescription, ServerName,
    StdioCommand, Transport,
};
pub use error::McpError;
pub use health::prober::Prober;
pub use metrics::McpMetrics;
pub use one_shot_probe::{FailureKind, ProbeFailure, ProbeFindings, ProbeReport, probe_once};
pub use pool::PoolStats;
pub use questions::{Asker, Question, Refusal};
pub use registry::{Applied, Registry, Source};
pub use secret::{REDACTED, Secret, redact_url};
pub use server::ServerClient;
pub use session::SessionInfo;
/// SEP-2243 routing headers: the gateway's `/mcp` checks what clients send with them.
pub use transport::param_headers;
