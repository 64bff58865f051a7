//! Listing tools, resources, templates and prompts: every page, merged, with the server's
//! caching hints.

use std::{sync::Arc, time::Duration};

use rmcp::service::{Peer, RoleClient};

use super::{
    cache::{CacheScope, ListKind, Loaded},
    server::Listing,
};

pub(crate) fn list_method(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tools => "tools/list",
        ListKind::Resources => "resources/list",
        ListKind::ResourceTemplates => "resources/templates/list",
        ListKind::Prompts => "prompts/list",
    }
}

/// Every page of a list, merged, with the server's caching hints.
pub(crate) async fn list_all(
    peer: &Peer<RoleClient>,
    kind: ListKind,
) -> Result<Loaded<Listing>, rmcp::ServiceError> {
    fn items<T: serde::Serialize>(items: Vec<T>) -> Listing {
        Arc::new(
            items
                .iter()
                .filter_map(|item| serde_json::to_value(item).ok())
                .collect(),
        )
    }
    let (value, ttl_ms, scope) = match kind {
        ListKind::Tools => {
            let merged = peer.list_all_tools_with_cache_hint().await?;
            (items(merged.items), merged.ttl_ms, merged.cache_scope)
        }
        ListKind::Resources => {
            let merged = peer.list_all_resources_with_cache_hint().await?;
            (items(merged.items), merged.ttl_ms, merged.cache_scope)
        }
        ListKind::ResourceTemplates => {
            let merged = peer.list_all_resource_templates_with_cache_hint().await?;
            (items(merged.items), merged.ttl_ms, merged.cache_scope)
        }
        ListKind::Prompts => {
            let merged = peer.list_all_prompts_with_cache_hint().await?;
            (items(merged.items), merged.ttl_ms, merged.cache_scope)
        }
    };
    let scope = match scope {
        Some(rmcp::model::CacheScope::Private) => CacheScope::Private,
        _ => CacheScope::Shared,
    };
    Ok(Loaded {
        value,
        ttl_hint: ttl_ms.map(Duration::from_millis),
        scope,
    })
}

impl super::server::ServerClient {
    /// One page of a list, exactly as the server sent it (items and `nextCursor`), for
    /// clients that page themselves. Not cached: cursors are the server's to interpret.
    pub async fn list_page(
        &self,
        kind: ListKind,
        cursor: &str,
    ) -> Result<serde_json::Value, super::error::McpError> {
        let params: rmcp::model::PaginatedRequestParams =
            serde_json::from_value(if cursor.is_empty() {
                serde_json::json!({})
            } else {
                serde_json::json!({ "cursor": cursor })
            })
            .map_err(|e| super::error::McpError::Protocol {
                server: self.name().to_owned(),
                method: list_method(kind).to_owned(),
                detail: e.to_string(),
            })?;
        let timeout = self.settings.call_timeout;
        self.request(list_method(kind), timeout, |peer| async move {
            let params = Some(params);
            let page = match kind {
                ListKind::Tools => serde_json::to_value(peer.list_tools(params).await?),
                ListKind::Resources => serde_json::to_value(peer.list_resources(params).await?),
                ListKind::ResourceTemplates => {
                    serde_json::to_value(peer.list_resource_templates(params).await?)
                }
                ListKind::Prompts => serde_json::to_value(peer.list_prompts(params).await?),
            };
            Ok(page.unwrap_or_default())
        })
        .await
    }
}
