//! The `llamagate` binary: `serve`, `config check`, and the `mcp` commands.

/// mimalloc in place of the system allocator: a proxied call allocates and frees many small
/// buffers, and glibc's malloc and free were a seventh of the gateway's CPU per call
/// (docs/benchmarks.md: 1.5× the calls/s through a stateless server).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    llamagate_cli::main()
}
