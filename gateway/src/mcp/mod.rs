//! The MCP client: transports, sessions, pooling, caching and health of MCP servers. One
//! implementation used by the gateway, the CLI and (next stage) the operator's prober.

pub mod cache;
pub mod error;
pub mod events;
pub mod filter;
pub mod health;
mod lifecycle;
mod lists;
pub mod operations;
pub mod pool;
mod probe;
mod prober;
pub mod raw;
pub mod registry;
pub mod server;
pub mod session;
pub mod transport;
