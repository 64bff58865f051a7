//! The official TypeScript SDK client (1.32, under Node 22) through two gateway replicas,
//! each of its HTTP requests sent to the other one (its `fetch` round-robins), in front of
//! server-everything over Streamable HTTP: the server's roots request after the handshake,
//! and its sampling and elicitation requests mid-call, reach the client and its answers
//! reach the server; the session goes on after one replica restarts.

mod support;

use std::{
    io::{BufRead, BufReader, Write},
    process::Stdio,
};

use serde_json::{Value, json};

const SCRIPT: &str = r#"
const sdk = process.env.SDK;
const { Client } = await import(`${sdk}/client/index.js`);
const { StreamableHTTPClientTransport } = await import(`${sdk}/client/streamableHttp.js`);
const { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } = await import(`${sdk}/types.js`);
const readline = await import("node:readline");

const ports = [process.argv[3], process.argv[4]];
let turn = 0;
const roundRobin = (url, init) => {
  const next = new URL(url);
  next.port = ports[turn++ % 2];
  return fetch(next, init);
};
const asked = [];
const client = new Client({ name: "llamagate-ts", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } });
client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
  asked.push("sampling");
  const text = request.params.messages[0].content.text;
  return { role: "assistant", model: "scripted-model", stopReason: "endTurn",
    content: { type: "text", text: `sampled: ${text}` } };
});
client.setRequestHandler(ElicitRequestSchema, async () => {
  asked.push("elicitation");
  return { action: "accept", content: { name: "Ada Lovelace", check: true } };
});
client.setRequestHandler(ListRootsRequestSchema, async () => {
  asked.push("roots");
  return { roots: [{ uri: "file:///work/ts", name: "ts" }] };
});
await client.connect(new StreamableHTTPClientTransport(new URL(process.argv[2]), { fetch: roundRobin }));
const texts = (result) => result.content.filter((c) => c.type === "text").map((c) => c.text).join(" ");
// server-everything asks for the roots 350 ms after the handshake, on the session's GET stream.
for (let i = 0; i < 100 && !asked.includes("roots"); i++) await new Promise((r) => setTimeout(r, 50));
const sampled = await client.callTool({ name: "everything__trigger-sampling-request",
  arguments: { prompt: "hi ts", maxTokens: 21 } });
const elicited = await client.callTool({ name: "everything__trigger-elicitation-request", arguments: {} });
console.log(JSON.stringify({ asked, sampling: texts(sampled), elicitation: texts(elicited),
  errors: [!!sampled.isError, !!elicited.isError] }));
// The test restarts one replica and names its new port.
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
ports[0] = (await lines.next()).value.trim();
const again = await client.callTool({ name: "everything__trigger-sampling-request",
  arguments: { prompt: "after the restart", maxTokens: 5 } });
console.log(JSON.stringify({ again: texts(again), error: !!again.isError, asked }));
await client.close();
process.exit(0);
"#;

fn next_json(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Value {
    let line = lines.next().and_then(Result::ok).unwrap_or_default();
    serde_json::from_str(&line).unwrap_or_else(|_| json!({ "unreadable": line }))
}

#[tokio::test]
async fn the_typescript_sdk_answers_roots_sampling_and_elicitation_through_either_replica() {
    let everything = support::everything("streamableHttp");
    let support::Replicas {
        dir,
        config,
        first,
        second,
    } = support::Replicas::of("everything", &everything.url).await;
    let script = dir.path().join("client.mjs");
    std::fs::write(&script, SCRIPT).unwrap();
    let mut client = support::typescript_sdk(&script)
        .arg(format!("http://{}/mcp", first.addr))
        .args([first.port(), second.port()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node 22 beside the conformance suite (tests/peers/install.sh)");
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let during = next_json(&mut lines);
    assert_eq!(
        during["asked"],
        json!(["roots", "sampling", "elicitation"]),
        "each request of the server asked once: {during}"
    );
    assert_eq!(during["errors"], json!([false, false]), "{during}");
    let sampled = during["sampling"].as_str().unwrap_or_default();
    assert!(
        sampled.contains("sampled: Resource trigger-sampling-request context: hi ts")
            && sampled.contains("scripted-model"),
        "the client's completion reached the server: {during}"
    );
    let elicited = during["elicitation"].as_str().unwrap_or_default();
    assert!(
        elicited.contains("- Name: Ada Lovelace") && elicited.contains("Agreed to terms: true"),
        "the client's form reached the server: {during}"
    );

    drop(first);
    let restarted = support::serve_config(&config);
    support::wait_healthy_at(&restarted.addr, "everything").await;
    writeln!(client.stdin.as_mut().unwrap(), "{}", restarted.port()).unwrap();
    let after = next_json(&mut lines);
    let output = client.wait_with_output().unwrap();
    assert!(
        output.status.success() && after["error"] == false,
        "{after}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        after["again"].as_str().is_some_and(|text| text
            .contains("sampled: Resource trigger-sampling-request context: after the restart")),
        "{after}"
    );
}
