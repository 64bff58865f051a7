//! A chat request's `tools`: client functions and mcp:// references.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| llamagate_gateway::fuzzing::chat_tools(data));
