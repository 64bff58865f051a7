//! Property tests of every parser of outside input the MCP client owns (the fuzz targets'
//! entry points, `llamagate_mcp::fuzzing`), in the normal test run: any bytes, no panic.
//! `scripts/fuzz` runs the same entry points under libFuzzer for longer.

use llamagate_mcp::fuzzing;
use proptest::prelude::*;

/// Bytes that look like what servers send often enough to get past the first check.
fn message_like() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<Vec<u8>>(),
        "\\PC{0,200}".prop_map(String::into_bytes),
        (any::<i64>(), "\\PC{0,40}", any::<bool>()).prop_map(|(id, text, error)| {
            let body = if error {
                format!(r#""error":{{"code":{id},"message":"{text}"}}"#)
            } else {
                format!(r#""result":{{"content":[{{"type":"text","text":"{text}"}}]}}"#)
            };
            format!(r#"{{"jsonrpc":"2.0","id":{id},{body}}}"#).into_bytes()
        }),
    ]
}

fn sse_like() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just("data: {}\n".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        "id: [a-z0-9]{0,8}\n",
        "retry: [0-9]{0,6}\n",
        "event: [a-z]{0,8}\n",
        "data: \\PC{0,30}\n",
        ":\\PC{0,10}\n",
        "\\PC{0,20}",
    ];
    prop::collection::vec(line, 0..20).prop_map(|lines| lines.concat().into_bytes())
}

fn answer_head_like() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        "content-length: [0-9 ]{0,22}\r\n",
        Just("transfer-encoding: chunked\r\n".to_owned()),
        "transfer-encoding: [a-z, ]{0,12}\r\n",
        "connection: [a-z, ]{0,12}\r\n",
        "[a-z-]{1,10}: \\PC{0,10}\r\n",
    ];
    (
        "HTTP/1\\.[0-9] [0-9]{1,4} [A-Za-z ]{0,10}\r\n",
        prop::collection::vec(header, 0..8),
        prop::option::of(Just("\r\n")),
    )
        .prop_map(|(status, headers, end)| {
            format!("{status}{}{}", headers.concat(), end.unwrap_or_default()).into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn server_messages(bytes in message_like()) {
        fuzzing::server_message(&bytes);
    }

    #[test]
    fn sse_streams(bytes in sse_like(), cuts in prop::collection::vec(0usize..400, 0..6), limit in 0usize..64) {
        fuzzing::sse_stream(&bytes, &cuts, limit);
    }

    #[test]
    fn stdio_stdout(lines in prop::collection::vec(message_like(), 0..6), max_line in 1usize..300) {
        let mut bytes = Vec::new();
        for line in lines {
            bytes.extend_from_slice(&line);
            bytes.push(b'\n');
        }
        fuzzing::stdio_stdout(&bytes, max_line);
    }

    #[test]
    fn prober_answers(bytes in prop_oneof![answer_head_like(), any::<Vec<u8>>()]) {
        fuzzing::prober_answer(&bytes);
    }

    #[test]
    fn tool_schemas(schema in "\\PC{0,80}", arguments in "\\PC{0,40}") {
        fuzzing::tool_schema(schema.as_bytes(), arguments.as_bytes());
    }
}
