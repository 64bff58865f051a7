//! The `llamagate` binary: `serve`, `config check`, and the `mcp` commands.

fn main() -> std::process::ExitCode {
    llamagate::cli::main()
}
