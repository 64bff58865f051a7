//! A tool's input schema and a call's arguments, NUL-separated.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (schema, arguments) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    llamagate_mcp::fuzzing::tool_schema(schema, arguments);
});
