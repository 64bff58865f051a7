//! The container image, checked as far as a machine without a container engine can: the
//! binaries the Dockerfile copies are the ones the workspace builds, the final stage runs as
//! a non-root user with no shell, and every command the chart and the operator's builders
//! run is a binary the image holds.

use std::{collections::BTreeSet, path::PathBuf, process::Command};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The last stage of the Dockerfile: its `FROM` and the rest of its lines.
fn final_stage(dockerfile: &str) -> (String, Vec<String>) {
    let all: Vec<&str> = dockerfile.lines().collect();
    let start = all
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM line");
    let lines: Vec<String> = all[start..].iter().map(|l| (*l).to_owned()).collect();
    (lines[0].clone(), lines[1..].to_vec())
}

/// `target/release/<bin>` → `/usr/local/bin/<bin>` for each COPY of the final stage.
fn copied(lines: &[String]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("COPY --from=build "))
        .map(|rest| {
            let mut parts = rest.split_whitespace();
            let from = parts.next().unwrap().rsplit('/').next().unwrap().to_owned();
            (from, parts.next().unwrap().to_owned())
        })
        .collect()
}

/// The binaries of the gateway and operator packages, from `cargo metadata`.
fn workspace_binaries() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("metadata JSON");
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] == "llamagate" || p["name"] == "llamagate-operator")
        .flat_map(|p| p["targets"].as_array().unwrap().clone())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_image_holds_the_workspace_binaries_and_runs_as_non_root_without_a_shell() {
    let dockerfile = read("Dockerfile");
    let (from, lines) = final_stage(&dockerfile);
    assert!(
        from.contains("distroless") && from.ends_with(":nonroot"),
        "a base with no shell, non-root: {from}"
    );
    let user = lines
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric user");
    assert_ne!(uid, 0, "not root");
    assert!(
        !lines.iter().any(|l| l.starts_with("RUN ")),
        "nothing runs a shell in the final stage"
    );

    let copies = copied(&lines);
    let binaries: BTreeSet<String> = copies.iter().map(|(from, _)| from.clone()).collect();
    assert_eq!(
        binaries,
        workspace_binaries(),
        "the image copies exactly the workspace's binaries"
    );
    for (from, to) in &copies {
        assert_eq!(to, &format!("/usr/local/bin/{from}"));
        assert!(
            dockerfile.contains(&format!("--bin {from}")),
            "the build stage builds {from}"
        );
    }
}

#[test]
fn every_command_the_chart_and_the_operator_run_is_in_the_image() {
    let (_, lines) = final_stage(&read("Dockerfile"));
    let in_image: BTreeSet<String> = copied(&lines).into_iter().map(|(_, to)| to).collect();
    let sources = [
        "charts/llamagate/templates/deployment.yaml",
        "charts/llamagate/templates/tests/test-endpoint.yaml",
        "operator/tests/snapshots/gateway-objects.yaml",
        "operator/tests/snapshots/time-deployment.yaml",
    ];
    let mut seen = 0;
    for source in sources {
        let text = read(source);
        for path in text
            .split(['"', ' ', '[', ']', '\n'])
            .filter(|w| w.starts_with("/usr/local/bin/"))
        {
            assert!(
                in_image.contains(path),
                "{source} runs {path}, which the image does not hold"
            );
            seen += 1;
        }
    }
    assert!(seen >= 4, "the commands were found ({seen})");
    let (_, lines) = final_stage(&read("Dockerfile"));
    let entrypoint = lines
        .iter()
        .find_map(|l| l.strip_prefix("ENTRYPOINT "))
        .unwrap();
    assert!(
        entrypoint.contains("/usr/local/bin/llamagate\""),
        "{entrypoint}"
    );
}
