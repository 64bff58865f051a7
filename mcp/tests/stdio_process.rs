//! The stdio child handling the client and the bridge share: only whole JSON lines reach the
//! reader, a line that is not JSON ends the stream, an oversized line becomes an error
//! answer to its request, and terminating ends the child's whole process group.

use std::time::Duration;

use llamagate_mcp::{StdioCommand, stdio_process};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn shell(script: &str, marker: &str) -> StdioCommand {
    let mut command = StdioCommand::new("sh").unwrap();
    command.args = vec!["-c".to_owned(), script.to_owned(), marker.to_owned()];
    command
}

fn running(marker: &str) -> bool {
    let found = std::process::Command::new("pgrep")
        .args(["-f", marker])
        .output()
        .unwrap();
    !String::from_utf8_lossy(&found.stdout).trim().is_empty()
}

#[tokio::test]
async fn only_json_lines_pass_and_garbage_ends_the_stream() {
    let marker = format!("stdio-garbage-{}", std::process::id());
    let script = r#"echo '{"jsonrpc":"2.0","id":1,"result":{}}'; echo 'hello, I am a banner'; echo '{"id":2}'; sleep 30"#;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = seen.clone();
    let (pipes, child) = stdio_process::spawn("garbled", &shell(script, &marker), 1024, move |m| {
        recorded.lock().unwrap().push(m.to_owned())
    })
    .unwrap();
    let mut lines = BufReader::new(pipes.stdout).lines();
    let first = lines.next_line().await.unwrap();
    assert_eq!(
        first.as_deref(),
        Some(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
    );
    let after = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
        .await
        .expect("the stream ends at the banner");
    assert_eq!(
        after.unwrap(),
        None,
        "nothing after a line that is not JSON"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    child.terminate().await;
}

#[tokio::test]
async fn an_oversized_line_becomes_an_error_answer_to_its_request() {
    let marker = format!("stdio-oversized-{}", std::process::id());
    let script = r#"printf '{"jsonrpc":"2.0","id":7,"result":{"text":"'; head -c 5000 /dev/zero | tr '\0' x; printf '"}}\n'; sleep 30"#;
    let (pipes, child) =
        stdio_process::spawn("big", &shell(script, &marker), 1024, |_| {}).unwrap();
    let mut lines = BufReader::new(pipes.stdout).lines();
    let answer: serde_json::Value =
        serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(answer["id"], 7);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("larger than the limit of 1024 bytes"),
        "{answer}"
    );
    child.terminate().await;
}

#[tokio::test]
async fn terminating_ends_the_whole_process_group() {
    let marker = format!("stdio-group-{}", std::process::id());
    // The shell starts a grandchild that would outlive a kill of the shell alone.
    let script = "sleep 300 & cat";
    let (mut pipes, child) =
        stdio_process::spawn("group", &shell(script, &marker), 1024, |_| {}).unwrap();
    pipes.stdin.write_all(b"{\"id\":1}\n").await.unwrap();
    let mut lines = BufReader::new(pipes.stdout).lines();
    assert_eq!(
        lines.next_line().await.unwrap().as_deref(),
        Some("{\"id\":1}")
    );
    assert!(running(&marker));
    // The child leads its own process group: the group id is its pid.
    let group = child.id().unwrap().to_string();
    let members = || {
        // Living members only (`/proc/PID/stat`: state, then the group id): a killed
        // grandchild stays a zombie until whoever adopted it reaps it.
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(Result::ok)
            .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
            .filter(|stat| {
                let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
                let fields: Vec<&str> = after_name.split_whitespace().collect();
                fields.len() > 2 && fields[0] != "Z" && fields[2] == group
            })
            .count()
    };
    assert!(members() >= 2, "the shell, its sleep (and cat)");
    child.terminate().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!running(&marker), "the shell is gone");
    assert_eq!(members(), 0, "and the grandchild with it");
}
