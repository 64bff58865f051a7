//! LlamaGate gateway library.
