//! Each parser of outside input the gateway owns, as a function of bytes, for the fuzz
//! targets (`fuzz/`, `scripts/fuzz`) and the property tests (`tests/parsers.rs`). Every
//! function must return, never panic, whatever it is given; a broken invariant (a tool name
//! that does not map back) panics on purpose, so that the fuzzer reports it. Not an API.

use crate::toolloop::{exposure, naming, resources};

/// A configuration file (YAML) with an empty environment.
pub fn config_file(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = crate::config::load_from_str(text, "fuzz.yaml", &|_| None);
    }
}

/// A chat request's `tools` (JSON): client functions and `mcp://` references.
pub fn chat_tools(bytes: &[u8]) {
    if let Ok(tools) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let _ = exposure::split_tools(Some(&tools));
    }
}

/// An `mcp_resource` block's `mcp://<server>/<resource uri>`.
pub fn resource_reference(text: &str) {
    if let Ok((server, uri)) = resources::parse_reference(text) {
        assert!(!server.is_empty() && !uri.is_empty(), "{text:?}");
    }
}

/// Tool names shown to the model for any server and tool names: each within the limit
/// clients enforce, and each maps back to its own tool, in one table of all of them.
pub fn tool_names(pairs: &[(String, String)]) {
    let mut table = naming::NameTable::default();
    let mut names = Vec::new();
    for (server, tool) in pairs {
        let tool = naming::ToolRef {
            server: server.clone(),
            tool: tool.clone(),
        };
        let name = table.insert(tool.clone());
        assert!(
            name.len() <= naming::MAX_WIRE_NAME
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "{name:?} for {tool:?}"
        );
        names.push((name, tool));
    }
    for (name, tool) in &names {
        assert_eq!(table.resolve(name), Some(tool), "{name:?}");
    }
}
