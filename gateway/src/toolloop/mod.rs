//! Chat completions with MCP tools: naming, exposure, `mcp_resource` inlining, the loop
//! (streaming and not) and the upstream client.

pub mod calls;
pub mod exposure;
pub mod naming;
pub mod resources;
pub mod run;
pub mod stream;
pub mod upstream;
