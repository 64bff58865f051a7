//! The LlamaGate operator binary. The reconcilers for `McpServer` and `LlamaGate` are the
//! next stage of the project (see docs/architecture.md); until they land this binary only
//! validates manifests, so that CI and users can check resources before applying them.

use std::process::ExitCode;

fn main() -> ExitCode {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() || files.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!(
            "usage: llamagate-operator validate-only FILE...\n\n\
             Checks McpServer and LlamaGate manifests with the same rules as the CRDs' CEL\n\
             validations. The reconcilers are not part of this release."
        );
        return ExitCode::from(2);
    }
    let mut failed = false;
    for file in files.iter().filter(|f| *f != "validate-only") {
        match llamagate_operator::validate_manifest_file(std::path::Path::new(file)) {
            Ok(count) => println!("{file}: {count} resource(s) valid"),
            Err(message) => {
                eprintln!("{message}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
