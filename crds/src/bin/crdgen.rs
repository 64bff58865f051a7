//! Writes the CRD YAML of every LlamaGate custom resource into `crds/generated/`
//! (or the directory given as the first argument).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated"));
    std::fs::create_dir_all(&out)?;
    for (name, yaml) in llamagate_crds::crd_documents() {
        let path = out.join(name);
        std::fs::write(&path, yaml)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
