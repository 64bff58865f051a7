//! The reconcilers, and what they share: applying owned objects and publishing Events.

pub mod apply;
pub mod events;
pub mod llamagate;
pub mod mcpserver;
