//! Property tests of every parser of outside input the gateway owns (the fuzz targets'
//! entry points, `llamagate_gateway::fuzzing`), in the normal test run: any input, no panic, and
//! tool names that always map back. `scripts/fuzz` runs them under libFuzzer for longer.

use llamagate_gateway::fuzzing;
use proptest::prelude::*;

fn yaml_like() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("mcp:\n".to_owned()),
        Just("  servers:\n".to_owned()),
        Just("    - name: a\n".to_owned()),
        "      transport: [a-z-]{0,16}\n",
        "      url: \\PC{0,20}\n",
        "      command: \\PC{0,10}\n",
        "[a-z_]{1,12}: \\PC{0,12}\n",
        "  [a-z_]{1,12}: [0-9a-zA-Z${}:.-]{0,12}\n",
        "\\PC{0,20}\n",
    ];
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.concat())
}

fn tools_like() -> impl Strategy<Value = String> {
    let tool = prop_oneof![
        "\\{\"type\": \"mcp\", \"uri\": \"mcp://[a-z/]{0,12}\"\\}",
        "\\{\"type\": \"function\", \"function\": \\{\"name\": \"\\PC{0,12}\"\\}\\}",
        "\\{\"type\": \"[a-z]{0,8}\"\\}",
        "\\PC{0,12}",
    ];
    prop::collection::vec(tool, 0..5).prop_map(|tools| format!("[{}]", tools.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn config_files(text in prop_oneof![yaml_like(), "\\PC{0,200}"]) {
        fuzzing::config_file(text.as_bytes());
    }

    #[test]
    fn chat_tools(text in prop_oneof![tools_like(), "\\PC{0,100}"]) {
        fuzzing::chat_tools(text.as_bytes());
    }

    #[test]
    fn resource_references(text in prop_oneof!["mcp://\\PC{0,30}", "\\PC{0,30}"]) {
        fuzzing::resource_reference(&text);
    }

    /// Any server and tool names, colliding ones included, map back to their own tool.
    #[test]
    fn tool_names_round_trip(pairs in prop::collection::vec(("\\PC{0,40}", "\\PC{0,80}"), 0..12)) {
        fuzzing::tool_names(&pairs);
    }
}

mod support;

/// Any resource URI, percent-encoded into the read route's path, reaches the server exactly
/// as it was: the answer through the route is the answer to the same URI read directly by
/// the gateway's client (the peer itself normalizes some characters, so the comparison is
/// with what it makes of the very same string).
#[test]
fn percent_encoded_resource_uris_reach_the_server_exactly() {
    use axum::http::Method;
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let peer = support::ws_peer();
    let state = runtime.block_on(support::api::gateway(&peer.url, ""));
    let server = state.registry().get("peer").unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(48));
    runner
        .run(&"[^/\\p{Cc}]{1,24}", |id| {
            let uri = format!("test://items/{id}");
            let path = format!(
                "/v1/mcp/servers/peer/resources/{}",
                utf8_percent_encode(&uri, NON_ALPHANUMERIC)
            );
            let (status, through_route) = runtime.block_on(support::api::send(
                &state,
                Method::GET,
                &path,
                Some(support::api::READER),
                None,
            ));
            let direct = runtime
                .block_on(server.read_resource(&uri, Default::default()))
                .map_err(|e| e.to_string());
            prop_assert_eq!(status, 200, "{}: {}", uri, through_route);
            prop_assert_eq!(Ok(through_route), direct, "{}", uri);
            Ok(())
        })
        .unwrap();
}
