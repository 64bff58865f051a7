//! A 2025-era upstream's own requests in the middle of a call (sampling, elicitation) reach
//! the `/mcp` client that made the call, and its answers reach the upstream: the official
//! Python SDK client (mcp 1.30), its requests round-robin across two gateway replicas (so
//! every answer lands on the replica that does not hold the call), in front of
//! server-everything over Streamable HTTP (the question traced to its call by the stream it
//! came on) and over stdio (the call the only one in flight).

mod support;

use std::process::Command;

const SCRIPT: &str = r#"
import asyncio, json, sys, httpx
from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client

asked = []

async def sampling(context, params):
    asked.append(("sampling", params.maxTokens))
    text = params.messages[0].content.text
    return types.CreateMessageResult(role="assistant", model="scripted-model", stopReason="endTurn",
                                     content=types.TextContent(type="text", text="sampled: " + text))

async def elicit(context, params):
    properties = sorted(params.requestedSchema["properties"])
    asked.append(("elicitation", properties[:2]))
    if properties == ["audience"]:
        return types.ElicitResult(action="accept", content={"audience": "the on-call team"})
    return types.ElicitResult(action="accept", content={"name": "Ada Lovelace", "check": True})

def texts(result):
    return " ".join(c.text for c in result.content if c.type == "text")

async def main(url):
    out = {}
    async with streamablehttp_client(url, httpx_client_factory=factory) as (read, write, _):
        async with ClientSession(read, write, sampling_callback=sampling, elicitation_callback=elicit) as session:
            await session.initialize()
            tools = [t.name for t in (await session.list_tools()).tools]
            out["tools"] = sorted(t for t in tools if "trigger-" in t and "request" in t and "async" not in t)
            out["roots_tool"] = any("get-roots-list" in t for t in tools)
            for server in ["http", "local"]:
                s = await session.call_tool(f"{server}__trigger-sampling-request", {"prompt": f"hi {server}", "maxTokens": 21})
                e = await session.call_tool(f"{server}__trigger-elicitation-request", {})
                out[server] = {"sampling": texts(s), "elicitation": texts(e), "errors": [s.isError, e.isError]}
            prompt = await session.get_prompt("py__briefing", {"topic": "rust"})
            out["prompt"] = prompt.messages[0].content.text
    out["asked"] = asked
    # A session that declared nothing to answer with: the upstream is told so, no one is asked.
    async with streamablehttp_client(url, httpx_client_factory=factory) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            plain = await session.call_tool("http__trigger-sampling-request", {"prompt": "nobody"})
            out["plain"] = {"error": plain.isError, "text": texts(plain)}
    out["asked_after"] = len(asked)
    print(json.dumps(out))

asyncio.run(main(sys.argv[1]))
"#;

/// Two replicas sharing a session key, in front of server-everything over Streamable HTTP
/// (`http`) and over stdio (`local`, a process per replica), and the mcp 1.30 peer (`py`,
/// whose `briefing` prompt asks for its audience); the peers live as long as the first
/// element.
async fn two_replicas() -> (
    (
        llamagate_test_peers::Peer,
        llamagate_test_peers::Peer,
        tempfile::TempDir,
    ),
    support::ServeProcess,
    support::ServeProcess,
) {
    let http = support::everything("streamableHttp");
    let py = llamagate_test_peers::mcp1_peer("streamable-http");
    let local = llamagate_test_peers::everything_stdio();
    let args: Vec<String> = local.args.iter().map(|a| format!("\"{a}\"")).collect();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nmcp:\n  endpoint: {{ session_keys: [\"{}\"] }}\n  servers:\n    - {{ name: http, transport: streamable-http, url: \"{}\" }}\n    - {{ name: py, transport: streamable-http, url: \"{}\" }}\n    - {{ name: local, transport: stdio, command: \"{}\", args: [{}], cwd: \"{}\" }}\n",
            "ef".repeat(32),
            http.url,
            py.url,
            local.program,
            args.join(", "),
            local.cwd.display()
        ),
    )
    .unwrap();
    let first = support::serve_process(&["--config", config.to_str().unwrap()]);
    let second = support::serve_process(&["--config", config.to_str().unwrap()]);
    for replica in [&first, &second] {
        for server in ["http", "py", "local"] {
            support::wait_healthy_at(&replica.addr, server).await;
        }
    }
    ((http, py, dir), first, second)
}

#[tokio::test]
async fn sampling_and_elicitation_of_a_2025_upstream_reach_the_client_through_either_replica() {
    let (_peers, first, second) = two_replicas().await;
    let port = |addr: &str| addr.rsplit(':').next().unwrap().to_owned();
    let output = Command::new("timeout")
        .args([
            "120",
            &support::python("mcp1"),
            "-c",
            &support::with_round_robin(SCRIPT),
        ])
        .arg(format!("http://{}/mcp", first.addr))
        .args([port(&first.addr), port(&second.addr)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    // The upstreams saw a client that can answer, so they offer the tools that ask.
    assert_eq!(
        out["tools"],
        serde_json::json!([
            "http__trigger-elicitation-request",
            "http__trigger-sampling-request",
            "local__trigger-elicitation-request",
            "local__trigger-sampling-request"
        ])
    );
    assert_eq!(
        out["roots_tool"], false,
        "roots are not declared upstream: a pooled session would show one client's roots to the next"
    );
    for server in ["http", "local"] {
        let call = &out[server];
        assert_eq!(call["errors"], serde_json::json!([false, false]), "{call}");
        let sampled = call["sampling"].as_str().unwrap();
        assert!(
            sampled.contains("sampled: Resource trigger-sampling-request context: hi ")
                && sampled.contains(server)
                && sampled.contains("scripted-model"),
            "the client's completion reached {server}: {sampled}"
        );
        let elicited = call["elicitation"].as_str().unwrap();
        assert!(
            elicited.contains("- Name: Ada Lovelace") && elicited.contains("Agreed to terms: true"),
            "the client's form reached {server}: {elicited}"
        );
    }
    assert_eq!(
        out["asked"],
        serde_json::json!([
            ["sampling", 21],
            ["elicitation", ["birthdate", "check"]],
            ["sampling", 21],
            ["elicitation", ["birthdate", "check"]],
            ["elicitation", ["audience"]]
        ]),
        "each question asked once, of the client whose call it was"
    );
    assert_eq!(out["plain"]["error"], true, "{}", out["plain"]);
    assert!(
        out["plain"]["text"]
            .as_str()
            .unwrap()
            .contains("cannot answer sampling"),
        "the upstream is told why: {}",
        out["plain"]
    );
    assert_eq!(
        out["prompt"], "Brief the on-call team on rust.",
        "asked while the prompt was built"
    );
    assert_eq!(out["asked_after"], 5, "nobody else was asked");
}

/// The headers and `_meta` a 2026-07-28 client sends with a `tools/call`.
fn stateless_call(
    client: &reqwest::Client,
    addr: &str,
    tool: &str,
    capabilities: serde_json::Value,
    extra: serde_json::Value,
) -> reqwest::RequestBuilder {
    stateless_request(client, addr, "tools/call", tool, capabilities, extra)
}

/// The same for any `method` naming `name` (a tool or prompt).
fn stateless_request(
    client: &reqwest::Client,
    addr: &str,
    method: &str,
    tool: &str,
    capabilities: serde_json::Value,
    extra: serde_json::Value,
) -> reqwest::RequestBuilder {
    let mut params = serde_json::json!({"name": tool, "arguments": {}, "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": capabilities,
        "io.modelcontextprotocol/clientInfo": {"name": "test", "version": "1"}}});
    if let (Some(params), Some(extra)) = (params.as_object_mut(), extra.as_object()) {
        params.extend(extra.clone());
    }
    client
        .post(format!("http://{addr}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method)
        .header("mcp-name", tool)
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 9, "method": method, "params": params}))
}

async fn result_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    // One message, as JSON or as the one event of an SSE answer.
    let text = response.text().await.unwrap();
    let json = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text);
    let body: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(body["id"], 9, "{body}");
    body
}

/// A 2025-era upstream's mid-call question reaches a 2026-07-28 client as `input_required`;
/// the retry, sent to the other replica, is passed on to the one holding the call.
#[tokio::test]
async fn a_2025_upstreams_question_reaches_a_stateless_client_as_input_required() {
    let (_peers, first, second) = two_replicas().await;
    let client = reqwest::Client::new();
    let forms = serde_json::json!({"elicitation": {"form": {}}, "sampling": {}});

    // Elicitation over Streamable HTTP: asked on the first replica, answered on the second.
    let tool = "http__trigger-elicitation-request";
    let asked = result_of(stateless_call(
        &client,
        &first.addr,
        tool,
        forms.clone(),
        serde_json::json!({}),
    ))
    .await;
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let requests = result["inputRequests"].as_object().unwrap();
    assert_eq!(requests.len(), 1);
    let (key, question) = requests.iter().next().unwrap();
    assert_eq!(question["method"], "elicitation/create");
    assert!(question["params"]["requestedSchema"]["properties"]["name"].is_object());
    let state = result["requestState"].clone();
    let answer = serde_json::json!({"inputResponses": {key: {"action": "accept",
        "content": {"name": "Grace Hopper", "check": false}}}, "requestState": state});
    let done = result_of(stateless_call(
        &client,
        &second.addr,
        tool,
        forms.clone(),
        answer.clone(),
    ))
    .await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    let text = done["result"]["content"].to_string();
    assert!(
        text.contains("- Name: Grace Hopper") && text.contains("Agreed to terms: false"),
        "{text}"
    );

    // The state is spent: replayed, it leads nowhere; changed, it is refused.
    let replayed = result_of(stateless_call(
        &client,
        &second.addr,
        tool,
        forms.clone(),
        answer,
    ))
    .await;
    assert!(
        replayed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is gone"),
        "{replayed}"
    );
    let forged = serde_json::json!({"inputResponses": {}, "requestState": format!("{}x", state.as_str().unwrap())});
    let refused = result_of(stateless_call(
        &client,
        &first.addr,
        tool,
        forms.clone(),
        forged,
    ))
    .await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");

    // Sampling over stdio (the call the only one in flight), retried on the same replica.
    let tool = "local__trigger-sampling-request";
    let prompt = serde_json::json!({"arguments": {"prompt": "ping", "maxTokens": 5}});
    let asked = result_of(stateless_call(
        &client,
        &second.addr,
        tool,
        forms.clone(),
        prompt.clone(),
    ))
    .await;
    let result = &asked["result"];
    let (key, question) = result["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(question["method"], "sampling/createMessage", "{asked}");
    assert_eq!(question["params"]["maxTokens"], 5);
    let mut answer = prompt.clone();
    answer["inputResponses"] = serde_json::json!({key: {"role": "assistant", "model": "scripted",
        "content": {"type": "text", "text": "pong"}, "stopReason": "endTurn"}});
    answer["requestState"] = result["requestState"].clone();
    let done = result_of(stateless_call(
        &client,
        &second.addr,
        tool,
        forms.clone(),
        answer,
    ))
    .await;
    let text = done["result"]["content"].to_string();
    assert!(text.contains("pong") && text.contains("scripted"), "{done}");

    // A question asked while a prompt is built, answered through the other replica.
    let topic = serde_json::json!({"arguments": {"topic": "wasm"}});
    let prompt = |addr: &str, extra: serde_json::Value| {
        stateless_request(
            &client,
            addr,
            "prompts/get",
            "py__briefing",
            forms.clone(),
            extra,
        )
    };
    let asked = result_of(prompt(&first.addr, topic.clone())).await;
    let result = &asked["result"];
    let (key, question) = result["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    assert_eq!(
        question["params"]["message"], "Who is the briefing on wasm for?",
        "{asked}"
    );
    let mut answer = topic.clone();
    answer["inputResponses"] =
        serde_json::json!({key: {"action": "accept", "content": {"audience": "the SREs"}}});
    answer["requestState"] = result["requestState"].clone();
    let done = result_of(prompt(&second.addr, answer)).await;
    assert_eq!(
        done["result"]["messages"][0]["content"]["text"], "Brief the SREs on wasm.",
        "{done}"
    );

    // A client that cannot answer: the upstream hears so, nobody is asked.
    let plain = result_of(stateless_call(
        &client,
        &first.addr,
        "http__trigger-elicitation-request",
        serde_json::json!({}),
        serde_json::json!({}),
    ))
    .await;
    assert_eq!(plain["result"]["resultType"], "complete", "{plain}");
    assert!(
        plain["result"]["content"].to_string().contains("declined"),
        "{plain}"
    );
}
