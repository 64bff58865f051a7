//! What the rest of the gateway reads of one server besides calls: its cached lists (ages,
//! freshness, changes) and the `Mcp-Param-*` headers its tools' schemas ask for.

use std::time::Duration;

use super::ServerClient;
use crate::cache::{CacheScope, ListKind};

impl ServerClient {
    /// Drop every cached list (benchmarks and restarts).
    pub fn cache_clear(&self) {
        self.cache.clear();
    }

    /// Age of each cached list.
    pub fn cache_ages(&self) -> Vec<(ListKind, Duration)> {
        [
            ListKind::Tools,
            ListKind::Resources,
            ListKind::ResourceTemplates,
            ListKind::Prompts,
        ]
        .into_iter()
        .filter_map(|kind| self.cache.age(kind).map(|age| (kind, age)))
        .collect()
    }

    /// How much longer `principal`'s cached list of `kind` stays fresh, and its scope
    /// (`None`: not cached, the next listing asks the server).
    pub fn list_freshness(
        &self,
        kind: ListKind,
        principal: &str,
    ) -> Option<(Duration, CacheScope)> {
        self.cache.freshness(kind, principal)
    }

    /// The `Mcp-Param-*` headers a 2026-07-28 client sends with a call of `tool` with these
    /// arguments (SEP-2243), from the tool's schema as last listed; none for a tool not
    /// listed over Streamable HTTP 2026-07-28.
    pub fn param_headers(
        &self,
        tool: &str,
        arguments: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)> {
        self.tool_schemas.headers_for_tool(tool, Some(arguments))
    }

    /// Every change of this server's lists from now on (`list_changed`, a restart).
    pub fn list_changes(&self) -> tokio::sync::broadcast::Receiver<ListKind> {
        self.cache.changes()
    }
}
