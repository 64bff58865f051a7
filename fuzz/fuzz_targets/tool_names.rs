//! Server and tool names to model-facing names and back.
#![no_main]
libfuzzer_sys::fuzz_target!(|pairs: Vec<(String, String)>| llamagate_gateway::fuzzing::tool_names(&pairs));
