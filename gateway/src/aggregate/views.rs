//! Which servers and tools an endpoint path shows a key: `/mcp` (every server the key may
//! use), `/mcp/{server}` (one, nothing renamed) and `/mcp/v/{name}` (a virtual server of
//! the configuration: some servers, some of their tools).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::http::StatusCode;
use llamagate_mcp::{description::ToolGlobs, filter::ToolFilter};

use super::{
    catalog::View,
    rpc::{INVALID_REQUEST, RpcError},
};
use crate::{auth::Principal, config::VirtualServerConfig, state::AppState};

/// Which servers an endpoint path shows.
#[derive(Debug, Clone)]
pub enum Target {
    /// `/mcp`.
    All,
    /// `/mcp/{server}`.
    One(String),
    /// `/mcp/v/{name}`.
    Virtual(String),
}

/// Virtual servers' tool filters, compiled once per configuration (globs compile to
/// regexes: far too slow to build per request).
#[derive(Default)]
pub struct Filters(Mutex<HashMap<String, (ToolGlobs, Arc<ToolFilter>)>>);

impl Filters {
    fn get(&self, config: &VirtualServerConfig) -> Arc<ToolFilter> {
        let globs: ToolGlobs = (&config.tools).into();
        let mut compiled = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match compiled.get(&config.name) {
            Some((known, filter)) if *known == globs => filter.clone(),
            _ => {
                let filter = Arc::new(ToolFilter::new(&globs, &ToolGlobs::default()));
                compiled.insert(config.name.clone(), (globs, filter.clone()));
                filter
            }
        }
    }
}

fn not_found(message: String) -> RpcError {
    RpcError::http(StatusCode::NOT_FOUND, INVALID_REQUEST, message)
}

/// The view of `target` for `principal`: only servers the key may use.
pub fn view(state: &AppState, principal: &Principal, target: Target) -> Result<View, RpcError> {
    let config = state.config();
    let mut servers = crate::policy::servers_for(state.registry(), principal);
    let all = View {
        path: "/mcp".into(),
        servers: Vec::new(),
        prefix: config.mcp.endpoint.prefix,
        single: false,
        tools: None,
        description: None,
        target: target.clone(),
    };
    match target {
        Target::All => Ok(View { servers, ..all }),
        Target::One(name) => {
            let server = servers
                .into_iter()
                .find(|s| s.name() == name)
                .ok_or_else(|| {
                    not_found(format!(
                        "no MCP server named `{name:.100}`; GET /v1/mcp/servers lists them"
                    ))
                })?;
            Ok(View {
                path: format!("/mcp/{name}"),
                servers: vec![server],
                prefix: false,
                single: true,
                ..all
            })
        }
        Target::Virtual(name) => {
            let chosen = config
                .mcp
                .endpoint
                .virtual_servers
                .iter()
                .find(|v| v.name == name)
                .ok_or_else(|| {
                    not_found(format!(
                        "no virtual server named `{name:.100}`; mcp.endpoint.virtual_servers lists them"
                    ))
                })?;
            servers.retain(|s| chosen.servers.iter().any(|n| n == s.name()));
            Ok(View {
                path: format!("/mcp/v/{name}"),
                servers,
                prefix: chosen.prefix,
                tools: Some(state.sessions().filters.get(chosen)),
                description: chosen.description.clone(),
                ..all
            })
        }
    }
}
