use super::*;
use proptest::prelude::*;
use serde_json::json;

fn property(header: Value, kind: &str) -> Value {
    json!({"type": "object", "properties": {"p": {"type": kind, "x-mcp-header": header}}})
}

#[test]
fn valid_annotations_pass() {
    assert_eq!(validate(&property(json!("Region"), "string")), Ok(()));
    assert_eq!(validate(&property(json!("Priority"), "integer")), Ok(()));
    assert_eq!(validate(&property(json!("Debug-1.x"), "boolean")), Ok(()));
    let nested = json!({"type": "object", "properties": {"outer": {"type": "object",
        "properties": {"inner": {"type": "string", "x-mcp-header": "Inner"}}}}});
    assert_eq!(validate(&nested), Ok(()));
    assert_eq!(validate(&json!({"type": "object"})), Ok(()));
}

#[test]
fn each_broken_rule_is_refused_and_named() {
    let cases = [
        (property(json!(""), "string"), "empty"),
        (property(json!("My Region"), "string"), "not an HTTP token"),
        (
            property(json!("Region:Primary"), "string"),
            "not an HTTP token",
        ),
        (property(json!("Région"), "string"), "not an HTTP token"),
        (property(json!("a\u{1}b"), "string"), "not an HTTP token"),
        (property(json!(7), "string"), "not a string"),
        (property(json!("Data"), "object"), "type Some(\"object\")"),
        (property(json!("Items"), "array"), "type Some(\"array\")"),
        (property(json!("Nil"), "null"), "type Some(\"null\")"),
        (property(json!("Score"), "number"), "type Some(\"number\")"),
        (
            json!({"properties": {"a": {"type": "string", "x-mcp-header": "MyField"},
                "b": {"type": "string", "x-mcp-header": "myfield"}}}),
            "used twice",
        ),
        (json!({"x-mcp-header": "Root"}), "on the schema itself"),
        (
            json!({"properties": {"list": {"type": "array",
                "items": {"type": "string", "x-mcp-header": "Item"}}}}),
            "not a property",
        ),
        (
            json!({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}),
            "not a property",
        ),
    ];
    for (schema, expected) in cases {
        let error = validate(&schema).expect_err(&schema.to_string());
        assert!(error.contains(expected), "{schema}: {error}");
    }
}

#[test]
fn a_call_carries_each_annotated_argument_encoded() {
    let schemas = ToolSchemas::default();
    schemas.replace(&[
        json!({"name": "t", "inputSchema": {"type": "object", "properties": {
        "region": {"type": "string", "x-mcp-header": "Region"},
        "priority": {"type": "integer", "x-mcp-header": "Priority"},
        "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
        "padded": {"type": "string", "x-mcp-header": "Padded"},
        "unicode": {"type": "string", "x-mcp-header": "Unicode"},
        "gone": {"type": "string", "x-mcp-header": "Gone"},
        "nothing": {"type": "string", "x-mcp-header": "Nothing"},
        "body_only": {"type": "string"},
        "outer": {"type": "object", "properties": {
            "inner": {"type": "string", "x-mcp-header": "Inner"}}}}}}),
    ]);
    let headers = schemas.headers_for_call(&json!({"name": "t", "arguments": {
        "region": "us-west1", "priority": 42, "verbose": false, "padded": " x ",
        "unicode": "Hello, 世界", "nothing": null, "body_only": "b",
        "outer": {"inner": "deep"}}}));
    let headers: HashMap<String, String> = headers
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let expected: HashMap<String, String> = [
        ("mcp-param-region", "us-west1".to_owned()),
        ("mcp-param-priority", "42".to_owned()),
        ("mcp-param-verbose", "false".to_owned()),
        (
            "mcp-param-padded",
            format!("=?base64?{}?=", BASE64_STANDARD.encode(" x ")),
        ),
        (
            "mcp-param-unicode",
            format!("=?base64?{}?=", BASE64_STANDARD.encode("Hello, 世界")),
        ),
        ("mcp-param-inner", "deep".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(headers, expected);
    assert!(schemas.knows("t"));
    assert!(!schemas.knows("other"));
    assert!(
        schemas
            .headers_for_call(&json!({"name": "other", "arguments": {"region": "x"}}))
            .is_empty()
    );
}

#[test]
fn a_new_listing_replaces_the_last() {
    let schemas = ToolSchemas::default();
    schemas.replace(&[json!({"name": "old", "inputSchema": {}})]);
    schemas.replace(&[json!({"name": "new", "inputSchema": {}}), json!("garbage")]);
    assert!(!schemas.knows("old"));
    assert!(schemas.knows("new"));
}

#[test]
fn the_revisions_with_the_headers() {
    assert!(applies_to("2026-07-28"));
    assert!(applies_to("2027-01-01"));
    assert!(!applies_to("2025-11-25"));
    assert!(!applies_to("2025-03-26"));
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("x-mcp-header"),
            Just("properties"),
            Just("type"),
            Just("items")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("x-mcp-header".to_owned()),
                    Just("properties".to_owned()),
                    Just("type".to_owned()),
                    "[a-z]{1,3}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Any string survives the trip through a header value, which is always a valid one.
    #[test]
    fn any_string_round_trips_through_a_header(value in any::<String>()) {
        let header = encode(&value);
        prop_assert!(HeaderValue::from_str(&header).is_ok());
        prop_assert_eq!(decode(&header), Some(value));
    }

    /// Any schema and arguments: no panic, and a schema that validates gives headers whose
    /// names are all `mcp-param-*`.
    #[test]
    fn any_schema_is_judged_without_panic(schema in arbitrary_json(), arguments in arbitrary_json()) {
        let valid = validate(&schema).is_ok();
        let schemas = ToolSchemas::default();
        schemas.replace(&[json!({"name": "t", "inputSchema": schema})]);
        let headers = schemas.headers_for_call(&json!({"name": "t", "arguments": arguments}));
        if valid {
            prop_assert!(headers.iter().all(|(name, _)| name.as_str().starts_with("mcp-param-")));
        }
    }
}
