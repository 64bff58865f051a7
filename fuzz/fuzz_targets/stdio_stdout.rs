//! A stdio server's stdout, line by line, with any line limit.
#![no_main]
libfuzzer_sys::fuzz_target!(|input: (Vec<u8>, u16)| {
    llamagate_mcp::fuzzing::stdio_stdout(&input.0, usize::from(input.1));
});
