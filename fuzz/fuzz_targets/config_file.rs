//! A gateway configuration file.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| llamagate_gateway::fuzzing::config_file(data));
