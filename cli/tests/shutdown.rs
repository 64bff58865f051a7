//! SIGTERM while calls are in flight: every call finishes, then the gateway exits cleanly
//! and its stdio server is gone.

mod support;

use std::{process::Command, time::Duration};

use support::*;

#[test]
fn sigterm_during_in_flight_calls_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llamagate.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: 127.0.0.1:0\nmcp:\n  servers:\n    - {{ name: modern, transport: stdio, command: \"{}\", args: [mcp2_server.py, --transport, stdio], cwd: \"{}\" }}\n",
            python("mcp2"),
            peers_dir().display()
        ),
    )
    .unwrap();
    let mut gateway = serve_process(&["--config", path.to_str().unwrap()]);
    let addr = gateway.addr.clone();
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{addr}/v1/mcp/servers/modern/tools/slow");
    // Warm up: the server is connected before the calls start.
    let warm = client
        .post(format!("http://{addr}/v1/mcp/servers/modern/tools/echo"))
        .json(&serde_json::json!({"message": "x"}))
        .send()
        .unwrap();
    assert_eq!(warm.status(), 200);

    let calls: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            std::thread::spawn(move || {
                client
                    .post(url)
                    .json(&serde_json::json!({"seconds": 1.5}))
                    .send()
                    .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    Command::new("kill")
        .args(["-TERM", &gateway.child.id().to_string()])
        .status()
        .unwrap();
    for call in calls {
        let (status, body) = call.join().unwrap().expect("the call was answered");
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("slept 1.5s"), "{body}");
    }
    let status = gateway.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let log = gateway.log.join().unwrap();
    assert!(
        log.iter().any(|l| l.contains("llamagate stopped")),
        "{log:?}"
    );
}
