//! The reconcilers.

pub mod mcpserver;
