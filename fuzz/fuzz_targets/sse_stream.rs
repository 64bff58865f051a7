//! A Streamable HTTP answer's SSE stream, cut anywhere, through the event limiter.
#![no_main]
libfuzzer_sys::fuzz_target!(|input: (Vec<u8>, Vec<u16>, u16)| {
    let (bytes, cuts, limit) = input;
    let cuts: Vec<usize> = cuts.into_iter().map(usize::from).collect();
    llamagate_mcp::fuzzing::sse_stream(&bytes, &cuts, usize::from(limit));
});
