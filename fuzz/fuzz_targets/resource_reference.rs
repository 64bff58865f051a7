//! An mcp_resource block's mcp://<server>/<resource uri>.
#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| llamagate_gateway::fuzzing::resource_reference(text));
