//! The MCP client: transports, sessions, pooling, caching and health of MCP servers.

pub mod cache;
