//! Resource URIs as the client of a view sees them, and back. A prefixed view names a
//! server's resource `<server>+<uri>` everywhere the client meets it: in lists, in read
//! contents, and in the resource links and embedded resources of tool and prompt results
//! (so a link a tool returns can be read through the gateway). An unprefixed view shows the
//! servers' own URIs, and finds the server by the list that names one.

use std::{collections::BTreeMap, sync::Arc};

use llamagate_mcp::{ServerClient, cache::ListKind};
use serde_json::{Value, json};

use super::{
    catalog::{self, View},
    dispatch::{find, unknown},
    rpc::RpcError,
};
use crate::{auth::Principal, state::AppState};

/// The server and its own URI behind `uri`, as the client of `view` named it. In an
/// unprefixed view: the server whose list names it, then the `<server>+<uri>` form (a URI
/// two servers share), then the one server of the view that offers resources (a template's
/// URI, a link a tool returned).
pub async fn resolve(
    (state, principal, view): (&AppState, &Principal, &View),
    owned: &BTreeMap<String, String>,
    uri: &str,
) -> Result<(Arc<ServerClient>, String), RpcError> {
    if view.prefix || view.single {
        return catalog::split_uri(view, uri)
            .map(|(server, original)| (server.clone(), original))
            .ok_or_else(|| unknown("resource", uri));
    }
    let listed = find((state, principal, view), owned, ListKind::Resources, uri).await;
    if let Some(found) = listed {
        return Ok(found);
    }
    if let Some((server, original)) = catalog::split_prefixed(view, uri) {
        return Ok((server.clone(), original));
    }
    let mut offering = view.servers.iter().filter(|server| {
        server
            .info()
            .is_some_and(|info| info.capabilities.get("resources").is_some())
    });
    match (offering.next(), offering.next()) {
        (Some(only), None) => Ok((only.clone(), uri.to_owned())),
        _ => Err(unknown("resource", uri)),
    }
}

/// The prefix a prefixed view gives `server`'s URIs (`None`: they are shown as they are).
pub fn prefix_of(view: &View, server: &ServerClient) -> Option<String> {
    (view.prefix && !view.single).then(|| server.name().to_owned())
}

fn prefixed(prefix: &str, uri: &str) -> String {
    format!("{prefix}+{uri}")
}

/// Contents of a read under the URIs the client sees: `<prefix>+<uri>`.
pub fn name_contents(result: &mut Value, prefix: Option<&str>) {
    let Some(prefix) = prefix else { return };
    if let Some(contents) = result.get_mut("contents").and_then(Value::as_array_mut) {
        for content in contents {
            if let Some(inner) = content.get("uri").and_then(Value::as_str) {
                content["uri"] = json!(prefixed(prefix, inner));
            }
        }
    }
}

/// The resource links and embedded resources of a tool result (`content`) or a prompt
/// (`messages[].content`) under the URIs the client sees.
pub fn name_links(result: &mut Value, prefix: Option<&str>) {
    let Some(prefix) = prefix else { return };
    if let Some(content) = result.get_mut("content").and_then(Value::as_array_mut) {
        content
            .iter_mut()
            .for_each(|block| name_block(block, prefix));
    }
    if let Some(messages) = result.get_mut("messages").and_then(Value::as_array_mut) {
        for message in messages {
            match message.get_mut("content") {
                Some(Value::Array(blocks)) => blocks
                    .iter_mut()
                    .for_each(|block| name_block(block, prefix)),
                Some(block) => name_block(block, prefix),
                None => {}
            }
        }
    }
}

fn name_block(block: &mut Value, prefix: &str) {
    let target = match block.get("type").and_then(Value::as_str) {
        Some("resource_link") => Some(&mut *block),
        Some("resource") => block.get_mut("resource"),
        _ => None,
    };
    if let Some(target) = target
        && let Some(uri) = target.get("uri").and_then(Value::as_str)
    {
        target["uri"] = json!(prefixed(prefix, uri));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_embedded_resources_are_named_as_the_client_sees_them() {
        let mut result = json!({"content": [
            {"type": "text", "text": "see demo://a"},
            {"type": "resource_link", "uri": "demo://a", "name": "a"},
            {"type": "resource", "resource": {"uri": "demo://b", "text": "b"}},
            {"type": "resource_link"},
        ]});
        name_links(&mut result, Some("everything"));
        assert_eq!(
            result["content"][0]["text"], "see demo://a",
            "text is left alone"
        );
        assert_eq!(result["content"][1]["uri"], "everything+demo://a");
        assert_eq!(
            result["content"][2]["resource"]["uri"],
            "everything+demo://b"
        );
        assert!(result["content"][3].get("uri").is_none());

        let mut prompt = json!({"messages": [
            {"role": "user", "content": {"type": "resource", "resource": {"uri": "demo://c"}}},
            {"role": "user", "content": [{"type": "resource_link", "uri": "demo://d"}]},
        ]});
        name_links(&mut prompt, Some("everything"));
        assert_eq!(
            prompt["messages"][0]["content"]["resource"]["uri"],
            "everything+demo://c"
        );
        assert_eq!(
            prompt["messages"][1]["content"][0]["uri"],
            "everything+demo://d"
        );

        let mut unprefixed = json!({"content": [{"type": "resource_link", "uri": "demo://a"}]});
        name_links(&mut unprefixed, None);
        assert_eq!(unprefixed["content"][0]["uri"], "demo://a");
    }
}
