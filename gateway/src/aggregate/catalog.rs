//! What one `/mcp` view shows: the servers a key may use, their lists merged and namespaced
//! reversibly, and the servers left out (slow, unhealthy) named rather than waited for.
//!
//! Names: on `/mcp` a tool or prompt `t` of server `s` is `s__t` and a resource URI `u` is
//! `s+u` (a template keeps working: `s+file:///{path}`); tool names stay within the 128
//! characters clients enforce, long ones shortened with a hash. With `prefix: false` a name
//! is shown as the server has it, unless an earlier server (by name) took it. On
//! `/mcp/{server}` nothing is renamed. Going back is a lookup in the same catalog, so it is
//! exact whatever the names contain.

use std::{collections::HashMap, sync::Arc, time::Duration};

use llamagate_mcp::{
    ServerClient,
    cache::{CacheScope, ListKind},
    description::ToolGlobs,
    filter::ToolFilter,
};

pub use crate::policy::Source;
use crate::policy::{self, Listed};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{rpc::RpcError, stateless::CacheHint};

/// Longest tool name clients accept (SEP-986).
pub const MAX_TOOL_NAME: usize = 128;

/// The servers of one endpoint for one key.
#[derive(Clone)]
pub struct View {
    /// `/mcp` or `/mcp/<server>` (sessions are bound to it).
    pub path: String,
    /// Servers in the view, by name.
    pub servers: Vec<Arc<ServerClient>>,
    /// Names and URIs carry their server.
    pub prefix: bool,
    /// One server, nothing renamed.
    pub single: bool,
    /// A virtual server's own tool filter, over `<server>__<tool>`.
    pub tools: Option<Arc<ToolFilter>>,
    /// A virtual server's description (its instructions).
    pub description: Option<String>,
    /// The endpoint path it was made for (change streams rebuild it from this).
    pub target: super::views::Target,
}

impl View {
    /// True when the view shows `tool` of `server`: the exposure policy's filters (the
    /// gateway's `mcp.tools` and the server's own), then a virtual server's own.
    pub fn shows_tool(&self, server: &ServerClient, global: &ToolGlobs, tool: &str) -> bool {
        policy::shows_tool(server, global, tool)
            && self
                .tools
                .as_ref()
                .is_none_or(|filter| filter.allows(&format!("{}__{tool}", server.name())))
    }
}

/// A merged list.
#[derive(Default)]
pub struct Catalog {
    /// Items as the client sees them.
    pub items: Vec<Value>,
    /// Exposed name → (server index, the name on that server).
    names: HashMap<String, (usize, String)>,
    /// Servers left out, with why.
    pub unavailable: Vec<Value>,
    /// How long the merged list may be cached: the shortest freshness left of its parts at
    /// this gateway, private when any part is; not at all when a server was left out.
    pub hint: CacheHint,
}

impl Catalog {
    /// The server and original name behind an exposed one.
    pub fn resolve<'a>(
        &self,
        view: &'a View,
        exposed: &str,
    ) -> Option<(&'a Arc<ServerClient>, String)> {
        let (index, original) = self.names.get(exposed)?;
        Some((&view.servers[*index], original.clone()))
    }
}

/// The field that names an item of `kind`.
pub fn key_field(kind: ListKind) -> &'static str {
    match kind {
        ListKind::Tools | ListKind::Prompts => "name",
        ListKind::Resources => "uri",
        ListKind::ResourceTemplates => "uriTemplate",
    }
}

/// `server__name`, shortened with a hash past `MAX_TOOL_NAME`.
fn prefixed_name(server: &str, name: &str) -> String {
    let plain = format!("{server}__{name}");
    if plain.len() <= MAX_TOOL_NAME {
        return plain;
    }
    let digest = Sha256::digest(plain.as_bytes());
    let suffix: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    let mut keep = MAX_TOOL_NAME - suffix.len() - 1;
    while !plain.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}_{suffix}", &plain[..keep])
}

fn exposed(kind: ListKind, server: &str, original: &str) -> String {
    match kind {
        ListKind::Tools | ListKind::Prompts => prefixed_name(server, original),
        ListKind::Resources | ListKind::ResourceTemplates => format!("{server}+{original}"),
    }
}

/// The URI the client of `view` sees for `server`'s resource `uri` (the inverse of
/// [`split_uri`]).
pub fn client_uri(view: &View, server: &str, uri: &str) -> String {
    if view.single {
        uri.to_owned()
    } else {
        exposed(ListKind::Resources, server, uri)
    }
}

/// Split a resource URI of a prefixed (or single-server) view into server and original URI;
/// an unprefixed view's URIs need its lists (`uris::resolve`).
pub fn split_uri<'a>(view: &'a View, uri: &str) -> Option<(&'a Arc<ServerClient>, String)> {
    if view.single {
        return Some((&view.servers[0], uri.to_owned()));
    }
    if !view.prefix {
        return None;
    }
    split_prefixed(view, uri)
}

/// `<server>+<uri>` split into a server of `view` and its URI.
pub fn split_prefixed<'a>(view: &'a View, uri: &str) -> Option<(&'a Arc<ServerClient>, String)> {
    let (server, original) = uri.split_once('+')?;
    let server = view.servers.iter().find(|s| s.name() == server)?;
    Some((server, original.to_owned()))
}

/// Every server's list of `kind`, merged under the view's names; servers that do not answer
/// within `timeout` are left out and named in `unavailable` (the exposure policy gathers
/// them: `policy::list_each`).
pub async fn build(
    view: &View,
    kind: ListKind,
    (principal, source): (&str, Source<'_>),
    global: &ToolGlobs,
    timeout: Duration,
) -> Catalog {
    let listings = policy::list_each(&view.servers, kind, principal, source, timeout).await;
    let mut catalog = Catalog::default();
    let mut ttl: Option<Duration> = None;
    for (index, (server, listing)) in view.servers.iter().zip(listings).enumerate() {
        let list = match listing {
            Listed::Items(list, freshness) => {
                let left = freshness.map_or(Duration::ZERO, |(left, _)| left);
                ttl = Some(ttl.map_or(left, |t| t.min(left)));
                catalog.hint.private |=
                    freshness.is_some_and(|(_, scope)| scope == CacheScope::Private);
                list
            }
            Listed::NotOffered => continue,
            Listed::Failed(error) => {
                catalog
                    .unavailable
                    .push(json!({"server": server.name(), "reason": error.to_string()}));
                continue;
            }
        };
        catalog.merge(view, (index, server), kind, &list, global);
    }
    catalog.hint.ttl_ms = match ttl {
        Some(ttl) if catalog.unavailable.is_empty() => {
            u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
        }
        _ => 0,
    };
    catalog
}

impl Catalog {
    /// Add the items of `server`'s `list` the policy shows, named for the view: prefixed
    /// where the view prefixes, or where an earlier server took the name.
    fn merge(
        &mut self,
        view: &View,
        (index, server): (usize, &ServerClient),
        kind: ListKind,
        list: &[Value],
        global: &ToolGlobs,
    ) {
        let field = key_field(kind);
        for item in list {
            let Some(original) = item.get(field).and_then(Value::as_str) else {
                continue;
            };
            if kind == ListKind::Tools && !view.shows_tool(server, global, original) {
                continue;
            }
            let mut name = original.to_owned();
            if view.prefix && !view.single || self.names.contains_key(&name) {
                name = exposed(kind, server.name(), original);
            }
            if self.names.contains_key(&name) {
                continue;
            }
            let mut item = item.clone();
            item[field] = Value::String(name.clone());
            self.names.insert(name, (index, original.to_owned()));
            self.items.push(item);
        }
    }
}

/// One page of `catalog` at `cursor`: the list result (`tools`, `nextCursor`, the servers
/// left out in `_meta`).
pub fn page(
    catalog: Catalog,
    result_field: &str,
    cursor: Option<&str>,
    size: usize,
) -> Result<Value, RpcError> {
    let start = match cursor {
        None => 0,
        Some(cursor) => decode_cursor(cursor)
            .filter(|start| *start <= catalog.items.len())
            .ok_or_else(|| RpcError::params("`params.cursor` is not a cursor this list gave; list again from the start without one"))?,
    };
    let end = (start + size).min(catalog.items.len());
    let mut result = json!({ result_field: catalog.items[start..end] });
    if end < catalog.items.len() {
        result["nextCursor"] = json!(encode_cursor(end));
    }
    if !catalog.unavailable.is_empty() {
        result["_meta"] = json!({"io.llamagate/unavailable": catalog.unavailable});
    }
    Ok(result)
}

fn encode_cursor(offset: usize) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("llamagate:{offset}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("llamagate:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_stay_within_the_limit_and_apart() {
        let a = prefixed_name("srv", &"x".repeat(200));
        let b = prefixed_name("srv", &format!("{}y", "x".repeat(199)));
        assert!(a.len() <= MAX_TOOL_NAME && b.len() <= MAX_TOOL_NAME);
        assert_ne!(a, b);
        assert_eq!(prefixed_name("fs", "read"), "fs__read");
        let wide = prefixed_name("s", &"é".repeat(100));
        assert!(wide.len() <= MAX_TOOL_NAME);
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let catalog = || Catalog {
            items: (0..5).map(|i| json!({"name": i})).collect(),
            ..Default::default()
        };
        let first = page(catalog(), "tools", None, 2).unwrap();
        assert_eq!(first["tools"].as_array().unwrap().len(), 2);
        let next = first["nextCursor"].as_str().unwrap().to_owned();
        let second = page(catalog(), "tools", Some(&next), 2).unwrap();
        assert_eq!(second["tools"][0]["name"], 2);
        let last = page(catalog(), "tools", second["nextCursor"].as_str(), 2).unwrap();
        assert!(last.get("nextCursor").is_none());
        for bad in ["", "abc", &encode_cursor(99)] {
            assert!(page(catalog(), "tools", Some(bad), 2).is_err(), "{bad}");
        }
    }
}
