//! A chat request's `tools`: client functions and mcp:// references.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| llamagate::fuzzing::chat_tools(data));
