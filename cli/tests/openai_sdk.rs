//! The real Python `openai` SDK as the client of a running gateway (scripted upstream, real
//! MCP server): a non-streaming and a streaming completion in which the model used a tool.

mod support;

use llamagate_gateway::{config::load_from_str, serve::Gateway};
use support::{llm::*, *};

const CLIENT: &str = r#"
import json, sys
from openai import OpenAI
client = OpenAI(base_url=sys.argv[1], api_key="sdk-key-0123456789")
plain = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "add"}])
chunks = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "add"}], stream=True)
streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
models = [m.id for m in client.models.list()]
print(json.dumps({"plain": plain.choices[0].message.content, "streamed": streamed, "models": models, "total": plain.usage.total_tokens}))
"#;

#[tokio::test]
async fn python_openai_sdk_gets_answers_that_used_mcp_tools() {
    let peer = ws_peer();
    let add = ("mcp__peer__add", r#"{"a": 19, "b": 23}"#);
    let script = Script::new(vec![
        calls(&[add]),
        text("it is 42"),
        calls(&[add]),
        text("streamed 42"),
    ]);
    let upstream = start(script.clone()).await;
    let yaml = format!(
        "listen: 127.0.0.1:0\nupstream: {{ url: \"{upstream}\" }}\nauth: {{ keys: [ {{ key: sdk-key-0123456789, scopes: [chat] }} ] }}\nmcp:\n  servers:\n    - {{ name: peer, transport: websocket, url: \"{}\" }}\n",
        peer.url
    );
    let config = load_from_str(&yaml, "test.yaml", &|_| None).unwrap();
    let gateway = Gateway::bind(config).await.unwrap();
    let addr = gateway.local_addr();
    let state = gateway.state();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway.run(async move {
        let _ = stopped.await;
    }));
    wait_healthy(&state, "peer").await;

    let output = tokio::process::Command::new(python("mcp1"))
        .args(["-c", CLIENT, &format!("http://{addr}/v1")])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["plain"], "it is 42");
    assert_eq!(answer["streamed"], "streamed 42");
    assert_eq!(answer["models"][0], "scripted");
    assert_eq!(answer["total"], 30);
    let requests = script.requests();
    assert!(
        requests[1]["messages"]
            .to_string()
            .contains("\"content\":\"42\""),
        "the tool result reached the model"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
