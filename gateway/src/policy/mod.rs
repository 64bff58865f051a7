//! Who sees what: which servers a caller may use, which of their tools it sees and may call,
//! and how their lists are gathered. One decision for the chat tool loop, the REST API
//! (`/v1/mcp/...`) and `/mcp`, so nothing is listed that cannot be called and nothing is
//! callable that is not listed.

pub mod exposure;

pub use exposure::{Listed, Source, list_each, server_for, servers_for, shows_tool};
