//! A message from an MCP server, as any transport hands it over.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| llamagate_mcp::fuzzing::server_message(data));
