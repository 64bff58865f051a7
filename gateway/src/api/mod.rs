//! HTTP handlers, one module per part of the API.

pub mod chat;
pub mod health;
pub mod json;
pub mod mcp;
pub mod openapi;
