//! McpServer and LlamaGate manifests, as `llamagate-operator validate-only` reads them.
#![no_main]
libfuzzer_sys::fuzz_target!(|text: &str| {
    let _ = llamagate_crds::manifests::validate_documents(text);
});
