//! The official TypeScript SDK client (1.32, beside the conformance suite) against `/mcp`
//! (hearing an upstream's list change on its session's GET stream),
//! and the official Python SDK client (mcp 1.30), with its requests sent
//! round-robin to two gateway replicas (each request to the other one), and one replica
//! restarted mid-session: the session continues, with no sticky sessions and no store.

mod support;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

const SCRIPT: &str = r#"
import asyncio, sys, httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

async def main(url):
    async with streamablehttp_client(url, httpx_client_factory=factory) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = [t.name for t in (await session.list_tools()).tools]
            added = await session.call_tool("peer__add", {"a": 2, "b": 3})
            resources = [str(r.uri) for r in (await session.list_resources()).resources]
            text = await session.read_resource("peer+test://text")
            prompts = [p.name for p in (await session.list_prompts()).prompts]
            print("before", "everything__echo" in tools, added.content[0].text, "peer+test://text" in resources,
                  text.contents[0].text[:20].replace(" ", "_"), any(p.startswith("everything__") for p in prompts), flush=True)
            # The test restarts one replica and names its new port.
            ports[0] = int(sys.stdin.readline())
            echoed = await session.call_tool("everything__echo", {"message": "after a restart"})
            again = [t.name for t in (await session.list_tools()).tools]
            print("after", echoed.content[0].text.replace(" ", "_"), len(again) == len(tools), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn the_python_sdk_keeps_its_session_across_two_replicas_and_a_restart() {
    let everything = support::everything("streamableHttp");
    let ws = support::ws_peer();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nmcp:\n  endpoint: {{ session_keys: [\"{}\"] }}\n  servers:\n    - {{ name: everything, transport: streamable-http, url: \"{}\" }}\n    - {{ name: peer, transport: websocket, url: \"{}\" }}\n",
            "ab".repeat(32),
            everything.url,
            ws.url
        ),
    )
    .unwrap();
    let first = support::serve_config(&config);
    let second = support::serve_config(&config);
    // Both replicas have opened their servers before the client starts.
    for replica in [&first, &second] {
        for server in ["everything", "peer"] {
            support::wait_healthy_at(&replica.addr, server).await;
        }
    }
    let mut client = Command::new(support::python("mcp1"))
        .args([
            "-c",
            &support::with_round_robin(SCRIPT),
            &format!("http://{}/mcp", first.addr),
            &first.port(),
            &second.port(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let before = lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(
        before, "before True 5 True hello_from_a_text_re True",
        "{before}"
    );

    drop(first);
    let restarted = support::serve_config(&config);
    for server in ["everything", "peer"] {
        support::wait_healthy_at(&restarted.addr, server).await;
    }
    writeln!(client.stdin.as_mut().unwrap(), "{}", restarted.port()).unwrap();
    let after = lines.next().and_then(Result::ok).unwrap_or_default();
    let output = client.wait_with_output().unwrap();
    assert!(
        output.status.success() && after.starts_with("after Echo:_after_a_restart True"),
        "{after}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const TS_SCRIPT: &str = r#"
const sdk = process.env.SDK;
const { Client } = await import(`${sdk}/client/index.js`);
const { StreamableHTTPClientTransport } = await import(`${sdk}/client/streamableHttp.js`);
const { ToolListChangedNotificationSchema } = await import(`${sdk}/types.js`);
const client = new Client({ name: "llamagate-test", version: "1.0.0" });
let announced;
const changed = new Promise((resolve) => { announced = resolve; });
client.setNotificationHandler(ToolListChangedNotificationSchema, () => announced(true));
await client.connect(new StreamableHTTPClientTransport(new URL(process.argv[2])));
const tools = (await client.listTools()).tools.map((t) => t.name);
const added = await client.callTool({ name: "peer__add", arguments: { a: 20, b: 22 } });
const read = await client.readResource({ uri: "peer+test://text" });
const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
// A tool added at an upstream reaches the client on the session's GET stream.
await client.callTool({ name: "forms__add_tool", arguments: { name: "fresh" } });
const heard = await Promise.race([changed, new Promise((r) => setTimeout(() => r(false), 10000))]);
const fresh = (await client.listTools()).tools.some((t) => t.name === "forms__fresh");
console.log(JSON.stringify({ echo: tools.includes("everything__echo"), added: added.content[0].text,
  text: read.contents[0].text, prompt: prompts.some((p) => p.startsWith("everything__")),
  listChanged: heard, fresh }));
await client.close();
"#;

#[tokio::test]
async fn the_typescript_sdk_lists_calls_reads_prompts_and_hears_list_changes() {
    let everything = support::everything("streamableHttp");
    let ws = support::ws_peer();
    let forms = support::mcp2_http();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nmcp:\n  servers:\n    - {{ name: everything, transport: streamable-http, url: \"{}\" }}\n    - {{ name: peer, transport: websocket, url: \"{}\" }}\n    - {{ name: forms, transport: streamable-http, url: \"{}\" }}\n",
            everything.url, ws.url, forms.url
        ),
    )
    .unwrap();
    let gateway = support::serve_config(&config);
    for server in ["everything", "peer", "forms"] {
        support::wait_healthy_at(&gateway.addr, server).await;
    }
    let script = dir.path().join("client.mjs");
    std::fs::write(&script, TS_SCRIPT).unwrap();
    let output = support::typescript_sdk(&script)
        .arg(format!("http://{}/mcp", gateway.addr))
        .output()
        .expect("node 22 beside the conformance suite (tests/peers/install.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"echo": true, "added": "42", "text": "hello from a text resource", "prompt": true,
            "listChanged": true, "fresh": true})
    );
}

const ELICIT_SCRIPT: &str = r#"
import asyncio, json, sys, httpx
from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client

asked = []

async def elicit(context, params):
    asked.append(params.message)
    if params.message.startswith("Who approves"):
        return types.ElicitResult(action="accept", content={"approver": "Grace"})
    return types.ElicitResult(action="accept", content={"sure": True})

async def main(url):
    async with streamablehttp_client(url, httpx_client_factory=factory) as (read, write, _):
        async with ClientSession(read, write, elicitation_callback=elicit) as session:
            await session.initialize()
            texts = []
            for action in ["deploy", "rollback"]:
                # Bounded: an answer that never reaches its call fails the test, not hangs it.
                done = await asyncio.wait_for(session.call_tool("forms__confirm", {"action": action}), 60)
                texts.append(done.content[0].text)
            # The same for a prompt: its `input_required` becomes an elicitation request.
            prompt = await asyncio.wait_for(session.get_prompt("forms__approval", {"change": "schema-v2"}), 60)
            print(json.dumps({"asked": asked, "texts": texts, "prompt": prompt.messages[0].content.text}), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

/// An upstream's question (2026-07-28 `input_required`, in a tool call and in a prompt)
/// reaches a 2025-era session as an elicitation request, and the answer, POSTed to whichever replica the round-robin picks,
/// reaches the call waiting for it.
#[tokio::test]
async fn the_python_sdk_answers_an_upstream_question_through_either_replica() {
    let forms = support::mcp2_http();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nmcp:\n  endpoint: {{ session_keys: [\"{}\"] }}\n  servers:\n    - {{ name: forms, transport: streamable-http, url: \"{}\" }}\n",
            "cd".repeat(32),
            forms.url
        ),
    )
    .unwrap();
    let first = support::serve_config(&config);
    let second = support::serve_config(&config);
    for replica in [&first, &second] {
        support::wait_healthy_at(&replica.addr, "forms").await;
    }
    let output = Command::new(support::python("mcp1"))
        .args([
            "-c",
            &support::with_round_robin(ELICIT_SCRIPT),
            &format!("http://{}/mcp", first.addr),
            &first.port(),
            &second.port(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        answer["asked"],
        serde_json::json!([
            "Really deploy?",
            "Really rollback?",
            "Who approves schema-v2?"
        ])
    );
    assert_eq!(
        answer["prompt"], "Change schema-v2, approved by Grace (state approval:schema-v2).",
        "the prompt's upstream got the answer and its own state"
    );
    for (text, action) in answer["texts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["deploy", "rollback"])
    {
        let text = text.as_str().unwrap();
        assert!(
            text.starts_with(&format!("{action}: accept"))
                && text.contains(&format!("pending:{action}")),
            "the upstream got the answer and its own state: {text}"
        );
    }
}
