//! Property tests of every parser of outside input the gateway owns (the fuzz targets'
//! entry points, `llamagate::fuzzing`), in the normal test run: any input, no panic, and
//! tool names that always map back. `scripts/fuzz` runs them under libFuzzer for longer.

use llamagate::fuzzing;
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
