use std::collections::HashMap;

use super::*;

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn expand_text(text: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut value = Value::String(text.to_owned());
    let mut errors = FieldErrors::default();
    expand(&mut value, "k", &lookup(vars), &mut errors);
    if errors.0.is_empty() {
        Ok(value.as_str().unwrap().to_owned())
    } else {
        Err(errors.to_string())
    }
}

#[test]
fn expands_variables_defaults_and_escapes() {
    assert_eq!(expand_text("a${X}b", &[("X", "1")]).unwrap(), "a1b");
    assert_eq!(
        expand_text("${MISSING:-fallback}", &[]).unwrap(),
        "fallback"
    );
    assert_eq!(
        expand_text("${X:-fallback}", &[("X", "set")]).unwrap(),
        "set"
    );
    assert_eq!(
        expand_text("cost $$5 and $HOME", &[]).unwrap(),
        "cost $5 and $HOME"
    );
}

#[test]
fn missing_variable_names_it_and_the_key() {
    let err = expand_text("${NOT_SET_ANYWHERE}", &[]).unwrap_err();
    assert!(err.starts_with("k: "), "{err}");
    assert!(err.contains("`NOT_SET_ANYWHERE` is not set"), "{err}");
}

#[test]
fn malformed_references_are_errors() {
    assert!(
        expand_text("${UNCLOSED", &[])
            .unwrap_err()
            .contains("unclosed")
    );
    assert!(
        expand_text("${a b}", &[])
            .unwrap_err()
            .contains("not a variable reference")
    );
}

fn overridden(vars: &[(&str, &str)]) -> (Value, FieldErrors) {
    let mut root: Value =
        serde_norway::from_str("listen: 0.0.0.0:1\nmcp: {limits: {max_tool_rounds: 3}}").unwrap();
    let mut errors = FieldErrors::default();
    apply_overrides(&mut root, &lookup(vars), &mut errors);
    (root, errors)
}

#[test]
fn llamagate_variables_override_the_file_and_win_over_aliases() {
    let (root, errors) = overridden(&[
        ("MCP_MAX_TOOL_ROUNDS", "5"),
        ("LLAMAGATE_MCP_LIMITS_MAX_TOOL_ROUNDS", "7"),
        ("LLAMAGATE_MCP_TOOLS_DENY", "rm_*, drop_*"),
        ("LLAMAGATE_MCP_ENABLED", "no"),
    ]);
    assert!(errors.0.is_empty(), "{errors}");
    assert_eq!(root["mcp"]["limits"]["max_tool_rounds"], Value::from(7));
    assert_eq!(
        root["mcp"]["tools"]["deny"],
        Value::Sequence(vec!["rm_*".into(), "drop_*".into()])
    );
    assert_eq!(root["mcp"]["enabled"], Value::Bool(false));
}

#[test]
fn original_llamagate_names_are_translated() {
    let (root, errors) = overridden(&[
        ("OLLAMA_HOST", "http://gpu-box:11434"),
        ("PORT", "9000"),
        ("API_KEY", "0123456789abcdef-key"),
        ("MCP_ALLOW_TOOLS", "read_*"),
    ]);
    assert!(errors.0.is_empty(), "{errors}");
    assert_eq!(
        root["upstream"]["url"],
        Value::from("http://gpu-box:11434/v1")
    );
    assert_eq!(
        root["listen"],
        Value::from("0.0.0.0:9000"),
        "PORT keeps the host of `listen`"
    );
    assert_eq!(
        root["auth"]["keys"][0]["key"],
        Value::from("0123456789abcdef-key")
    );
    assert_eq!(
        root["mcp"]["tools"]["allow"],
        Value::Sequence(vec!["read_*".into()])
    );
}

#[test]
fn bad_values_name_the_variable_and_key() {
    let (_, errors) = overridden(&[
        ("PORT", "eighty"),
        ("LLAMAGATE_MCP_CONNECTION_POOL_SIZE", "many"),
    ]);
    let text = errors.to_string();
    assert!(
        text.contains("PORT (listen): `eighty` is not a port number"),
        "{text}"
    );
    assert!(
        text.contains(
            "LLAMAGATE_MCP_CONNECTION_POOL_SIZE (mcp.connection_pool_size): `many` is not a number"
        ),
        "{text}"
    );
}

#[test]
fn every_overridable_key_has_a_derived_name() {
    let names = env_overrides();
    assert!(names.contains(&(
        "LLAMAGATE_MCP_CACHE_TOOL_DEFINITIONS_TTL".to_owned(),
        "mcp.cache.tool_definitions_ttl"
    )));
    assert_eq!(names.len(), OVERRIDABLE_KEYS.len());
}
