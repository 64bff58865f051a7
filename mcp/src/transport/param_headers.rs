//! SEP-2243 (2026-07-28, Streamable HTTP): a tool's input schema may mark arguments with
//! `x-mcp-header: Name`, and a client then sends each such argument again as an
//! `Mcp-Param-Name` header, so that proxies can route on it without reading the body. A
//! server checks those headers against the body and refuses a call that lacks them.
//!
//! rmcp's worker adds them only on the session that listed the tools, from its own listings.
//! A gateway lists on one pooled session and calls on any, and a one-shot CLI call may not
//! list at all, so the schemas are kept per server ([`ToolSchemas`]) and the recording
//! client adds the headers to every `tools/call`. A tool whose annotations break the rules
//! must not be used by a client: [`validate`] tells which, and the listing leaves it out.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, RwLock},
};

use base64::{Engine, prelude::BASE64_STANDARD};
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;

/// The first protocol revision with these headers.
pub const FIRST_VERSION: &str = "2026-07-28";

/// True when a session of `version` (a dated revision, as negotiated) sends the headers.
pub fn applies_to(version: &str) -> bool {
    // Revisions are ISO dates: their order is the order of the text.
    version >= FIRST_VERSION
}

/// The input schemas of one server's tools, by tool name, from its last tool listing.
#[derive(Debug, Clone, Default)]
pub struct ToolSchemas(Arc<RwLock<HashMap<String, Arc<Value>>>>);

impl ToolSchemas {
    /// Keep the schemas of `tools` (tool objects as listed) in place of the last ones.
    pub fn replace(&self, tools: &[Value]) {
        let schemas = tools
            .iter()
            .filter_map(|tool| {
                let name = tool.get("name")?.as_str()?;
                let schema = tool.get("inputSchema")?;
                Some((name.to_owned(), Arc::new(schema.clone())))
            })
            .collect();
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = schemas;
    }

    /// True when the last listing held `tool`.
    pub fn knows(&self, tool: &str) -> bool {
        self.read().contains_key(tool)
    }

    fn get(&self, tool: &str) -> Option<Arc<Value>> {
        self.read().get(tool).cloned()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Value>>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The `Mcp-Param-*` headers of a `tools/call` with these params (`name`, `arguments`),
    /// from the called tool's schema; none for a tool not listed.
    pub fn headers_for_call(&self, params: &Value) -> Vec<(HeaderName, HeaderValue)> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Vec::new();
        };
        self.headers_for_tool(name, params.get("arguments").and_then(Value::as_object))
    }

    /// The same, from the call's tool name and arguments as they are.
    pub fn headers_for_tool(
        &self,
        name: &str,
        arguments: Option<&serde_json::Map<String, Value>>,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let Some(schema) = self.get(name) else {
            return Vec::new();
        };
        annotations(&schema)
            .into_iter()
            .filter_map(|(path, header)| {
                let (first, rest) = path.split_first()?;
                let value = rest
                    .iter()
                    .try_fold(arguments?.get(*first)?, |v, key| v.get(*key))?;
                let text = match value {
                    Value::String(s) => encode(s),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    // Null, or an object or array where a primitive was promised: no header,
                    // as for an argument left out.
                    _ => return None,
                };
                let name = HeaderName::try_from(format!("mcp-param-{header}")).ok()?;
                Some((name, HeaderValue::from_str(&text).ok()?))
            })
            .collect()
    }
}

/// Every `x-mcp-header` reached from the root through `properties` alone: the property path
/// and the header name (well-formed names only).
fn annotations(schema: &Value) -> Vec<(Vec<&str>, &str)> {
    let mut found = Vec::new();
    walk_properties(schema, &mut Vec::new(), &mut |path, property| {
        if let Some(Value::String(header)) = property.get("x-mcp-header")
            && !header.is_empty()
        {
            found.push((path.to_vec(), header.as_str()));
        }
    });
    found
}

fn walk_properties<'a>(
    schema: &'a Value,
    path: &mut Vec<&'a str>,
    visit: &mut dyn FnMut(&[&'a str], &'a Value),
) {
    let Some(Value::Object(properties)) = schema.get("properties") else {
        return;
    };
    for (name, property) in properties {
        path.push(name);
        visit(path, property);
        walk_properties(property, path, visit);
        path.pop();
    }
}

/// Whether a tool with this input schema may be used: each `x-mcp-header` is a non-empty
/// HTTP token, unique regardless of case, on a `string`, `integer` or `boolean` property
/// reached from the root through `properties` alone. The first broken rule, said.
pub fn validate(schema: &Value) -> Result<(), String> {
    if schema.get("x-mcp-header").is_some() {
        return Err("x-mcp-header on the schema itself, not on a property".to_owned());
    }
    if off_the_properties_path(schema, true) {
        return Err("x-mcp-header inside a subschema that is not a property".to_owned());
    }
    let mut problem = None;
    let mut seen = HashSet::new();
    walk_properties(schema, &mut Vec::new(), &mut |path, property| {
        let Some(header) = property.get("x-mcp-header") else {
            return;
        };
        if problem.is_some() {
            return;
        }
        let at = path.join(".");
        problem = match header {
            Value::String(h) if h.is_empty() => Some(format!("`{at}`: x-mcp-header is empty")),
            Value::String(h) if !h.chars().all(is_token_char) => {
                Some(format!("`{at}`: x-mcp-header `{h}` is not an HTTP token"))
            }
            Value::String(h) if !seen.insert(h.to_ascii_lowercase()) => {
                Some(format!("`{at}`: x-mcp-header `{h}` is used twice"))
            }
            Value::String(_) => match property.get("type").and_then(Value::as_str) {
                Some("string" | "integer" | "boolean") => None,
                other => Some(format!(
                    "`{at}`: x-mcp-header on a property of type {other:?}, not string, integer or boolean"
                )),
            },
            _ => Some(format!("`{at}`: x-mcp-header is not a string")),
        };
    });
    problem.map_or(Ok(()), Err)
}

/// True when an `x-mcp-header` sits somewhere other than on the root's `properties` chain
/// (in `items`, `anyOf`, `$defs`, ...). `on_path` says `schema` is the root or such a property.
fn off_the_properties_path(schema: &Value, on_path: bool) -> bool {
    match schema {
        Value::Object(map) => map.iter().any(|(key, value)| match key.as_str() {
            "x-mcp-header" => !on_path,
            "properties" => value.as_object().is_some_and(|properties| {
                properties
                    .values()
                    .any(|property| off_the_properties_path(property, on_path))
            }),
            // Instance data and names, not schemas.
            "default" | "const" | "enum" | "examples" | "required" | "dependentRequired" => false,
            _ => off_the_properties_path(value, false),
        }),
        Value::Array(items) => items
            .iter()
            .any(|item| off_the_properties_path(item, false)),
        _ => false,
    }
}

/// RFC 9110 `tchar`.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A string argument as a header value: as it is when it can travel so, otherwise (leading
/// or trailing whitespace, control or non-ASCII characters, or text that looks encoded)
/// as `=?base64?…?=`.
fn encode(value: &str) -> String {
    let plain = value.trim_matches([' ', '\t']) == value
        && value.chars().all(|c| (' '..='~').contains(&c))
        && !(value.starts_with("=?base64?") && value.ends_with("?="));
    if plain {
        value.to_owned()
    } else {
        format!("=?base64?{}?=", BASE64_STANDARD.encode(value))
    }
}

/// A header value as sent, decoded: `=?base64?…?=` is base64 of UTF-8 text, anything else
/// is the text itself; `None` for a broken encoding.
pub fn decode(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => String::from_utf8(BASE64_STANDARD.decode(encoded).ok()?).ok(),
        None => Some(value.to_owned()),
    }
}

#[cfg(test)]
#[path = "param_headers_tests.rs"]
mod tests;
