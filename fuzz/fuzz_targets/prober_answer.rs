//! The head of an HTTP answer the shared prober reads.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| llamagate_mcp::fuzzing::prober_answer(data));
