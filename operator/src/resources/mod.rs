//! Pure builders of the objects the operator owns: the same resource gives the same
//! object, byte for byte, so that server-side apply writes only when something changed.

pub mod llamagate;
pub mod mcpserver;
