use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

fn meta(version: &str) -> Value {
    json!({"_meta": {META_VERSION: version, META_CAPABILITIES: {"elicitation": {}}}})
}

fn call(name: &str) -> Value {
    let mut params = meta(VERSION);
    params["name"] = json!(name);
    params
}

const GOOD: [(&str, &str); 2] = [
    ("mcp-protocol-version", VERSION),
    ("mcp-method", "tools/list"),
];

#[test]
fn a_well_formed_request_passes_with_what_the_client_declared() {
    let declared = check(&headers(&GOOD), "tools/list", &meta(VERSION)).unwrap();
    assert!(declared.capabilities.contains_key("elicitation"));
    // Header names are case-insensitive, values are trimmed, names may be base64.
    let named = headers(&[
        ("MCP-Protocol-Version", VERSION),
        ("MCP-METHOD", "tools/call"),
        ("mcp-name", " =?base64?w6ljaG8=?= "),
    ]);
    assert!(check(&named, "tools/call", &call("écho")).is_ok());
}

#[test]
fn each_broken_rule_gets_its_own_code_and_http_400() {
    let cases: Vec<(HeaderMap, &str, Value, i64, &str)> = vec![
        (
            headers(&[("mcp-method", "tools/list")]),
            "tools/list",
            meta(VERSION),
            HEADER_MISMATCH,
            "MCP-Protocol-Version",
        ),
        (
            headers(&GOOD),
            "tools/list",
            json!({}),
            super::super::rpc::INVALID_PARAMS,
            "_meta",
        ),
        (
            headers(&GOOD),
            "tools/list",
            meta("2026-01-01"),
            HEADER_MISMATCH,
            "disagrees",
        ),
        (
            headers(&[("mcp-protocol-version", "v9"), ("mcp-method", "tools/list")]),
            "tools/list",
            meta("v9"),
            UNSUPPORTED_VERSION,
            "not supported",
        ),
        (
            headers(&[("mcp-protocol-version", VERSION)]),
            "tools/list",
            meta(VERSION),
            HEADER_MISMATCH,
            "Mcp-Method",
        ),
        (
            headers(&[
                ("mcp-protocol-version", VERSION),
                ("mcp-method", "TOOLS/LIST"),
            ]),
            "tools/list",
            meta(VERSION),
            HEADER_MISMATCH,
            "disagrees",
        ),
        (
            headers(&[
                ("mcp-protocol-version", VERSION),
                ("mcp-method", "tools/call"),
            ]),
            "tools/call",
            call("echo"),
            HEADER_MISMATCH,
            "Mcp-Name",
        ),
        (
            headers(&[
                ("mcp-protocol-version", VERSION),
                ("mcp-method", "tools/call"),
                ("mcp-name", "other"),
            ]),
            "tools/call",
            call("echo"),
            HEADER_MISMATCH,
            "params.name",
        ),
    ];
    for (headers, method, params, code, names) in cases {
        let error = check(&headers, method, &params).unwrap_err();
        assert_eq!(
            (error.code, error.status),
            (code, StatusCode::BAD_REQUEST),
            "{error:?}"
        );
        assert!(error.message.contains(names), "{names}: {}", error.message);
    }
    let unsupported = check(
        &headers(&[("mcp-protocol-version", "v9"), ("mcp-method", "tools/list")]),
        "tools/list",
        &meta("v9"),
    )
    .unwrap_err();
    let data = unsupported.data.unwrap();
    assert_eq!(data["requested"], "v9");
    assert_eq!(data["supported"][0], VERSION);
}

#[test]
fn the_era_is_told_by_the_session_and_the_version_header() {
    assert!(applies(&headers(&GOOD), "tools/list"));
    assert!(
        applies(&HeaderMap::new(), "tools/list"),
        "no version, no session"
    );
    assert!(!applies(&HeaderMap::new(), "initialize"));
    assert!(!applies(
        &headers(&[("mcp-protocol-version", "2025-11-25")]),
        "tools/list"
    ));
    assert!(!applies(
        &headers(&[("mcp-session-id", "x"), ("mcp-protocol-version", VERSION)]),
        "tools/list"
    ));
    assert!(applies(
        &headers(&[("mcp-protocol-version", VERSION)]),
        "initialize"
    ));
}

#[test]
fn results_say_their_type_the_gateway_and_their_cache_hint() {
    let hint = CacheHint {
        ttl_ms: 5000,
        private: false,
    };
    let listed = finish(
        json!({"tools": [], "_meta": {META_SERVER_INFO: "upstream"}}),
        Some(hint),
    );
    assert_eq!(listed["resultType"], "complete");
    assert_eq!(
        (listed["ttlMs"].clone(), listed["cacheScope"].clone()),
        (json!(5000), json!("public"))
    );
    assert_eq!(listed["_meta"][META_SERVER_INFO]["name"], "llamagate");
    let asked = finish(json!({"resultType": "input_required"}), None);
    assert_eq!(asked["resultType"], "input_required");
    assert!(asked.get("ttlMs").is_none());
    let read = finish(
        json!({"contents": [], "ttlMs": 10, "cacheScope": "public"}),
        Some(CacheHint::NONE),
    );
    assert_eq!(
        (read["ttlMs"].clone(), read["cacheScope"].clone()),
        (json!(10), json!("public")),
        "the upstream's own hint"
    );
    assert_eq!(unknown_method("ping").status, StatusCode::NOT_FOUND);
}

#[test]
fn param_headers_must_be_sent_and_agree_with_the_arguments() {
    let expected = [(
        axum::http::HeaderName::from_static("mcp-param-region"),
        axum::http::HeaderValue::from_static("=?base64?SGVsbG8=?="),
    )];
    let sent = |value: &str| Declared {
        param_headers: vec![("mcp-param-region".into(), value.into())],
        ..Declared::default()
    };
    assert!(
        check_param_headers(&sent("Hello"), &expected).is_ok(),
        "plain or encoded alike"
    );
    assert!(check_param_headers(&sent("=?base64?SGVsbG8=?="), &expected).is_ok());
    for bad in ["Bye", "=?base64?SGVsbG8?=", "=?base64?SGVs!!!bG8=?="] {
        let error = check_param_headers(&sent(bad), &expected).unwrap_err();
        assert_eq!(
            (error.code, error.status),
            (HEADER_MISMATCH, StatusCode::BAD_REQUEST),
            "{bad}"
        );
    }
    let missing = check_param_headers(&Declared::default(), &expected).unwrap_err();
    assert!(
        missing.message.contains("mcp-param-region"),
        "{}",
        missing.message
    );
    assert!(
        check_param_headers(&Declared::default(), &[]).is_ok(),
        "a tool without annotations"
    );
}
