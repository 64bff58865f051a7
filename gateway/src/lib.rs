//! LlamaGate gateway library: configuration, the HTTP surface, the MCP client and the CLI.

pub mod config;
