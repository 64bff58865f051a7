//! What a 2025-era upstream keeps per session stays with the `/mcp` session that made it:
//! each client session has its own session at the mcp 1.30 peer over Streamable HTTP, on
//! every replica (the official Python SDK client's requests round-robin across two
//! replicas) and after a replica restart, and its DELETE ends it at the upstream.

mod support;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

const SCRIPT: &str = r#"
import asyncio, json, sys, httpx
from contextlib import AsyncExitStack
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

def text(result):
    return result.content[0].text

async def open_session(stack, url):
    read, write, _ = await stack.enter_async_context(streamablehttp_client(url, httpx_client_factory=factory))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session

async def main(url):
    async with AsyncExitStack() as watcher_stack:
        watcher = await open_session(watcher_stack, url)
        before = int(text(await watcher.call_tool("py__open_sessions", {})))
        async with AsyncExitStack() as stack:
            a = await open_session(stack, url)
            b = await open_session(stack, url)
            kept = [text(await a.call_tool("py__remember", {"note": "alpha"})),
                    text(await b.call_tool("py__remember", {"note": "beta"}))]
            recalled = [text(await s.call_tool("py__recall", {})) for s in (a, b, a, b)]
            during = int(text(await watcher.call_tool("py__open_sessions", {})))
            print(json.dumps({"kept": kept, "recalled": recalled, "added": during - before}), flush=True)
            # The test restarts one replica and names its new port.
            ports[0] = int(sys.stdin.readline())
            after = [text(await s.call_tool("py__recall", {})) for s in (b, a, b, a)]
            print(json.dumps({"after_restart": after}), flush=True)
            # The restarted replica opened pooled sessions of its own: counted from here.
            held = int(text(await watcher.call_tool("py__open_sessions", {})))
        # Both sessions ended (the SDK sends DELETE): so did theirs at the upstream.
        for _ in range(50):
            ended = int(text(await watcher.call_tool("py__open_sessions", {})))
            if ended == held - 2:
                break
            await asyncio.sleep(0.1)
        print(json.dumps({"ended_by_delete": held - ended}), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

fn next_json(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> serde_json::Value {
    let line = lines.next().and_then(Result::ok).unwrap_or_default();
    serde_json::from_str(&line).unwrap_or_else(|_| serde_json::json!({ "unreadable": line }))
}

#[tokio::test]
async fn each_client_session_keeps_its_own_upstream_session_across_replicas_and_a_restart() {
    let py = llamagate_test_peers::mcp1_peer("streamable-http");
    let support::Replicas {
        dir: _dir,
        config,
        first,
        second,
    } = support::Replicas::of("py", &py.url).await;
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
    let during = next_json(&mut lines);
    assert_eq!(
        during["kept"],
        serde_json::json!(["kept", "kept"]),
        "{during}"
    );
    // Each session reads its own note, whichever replica each request reached.
    assert_eq!(
        during["recalled"],
        serde_json::json!(["alpha", "beta", "alpha", "beta"]),
        "{during}"
    );
    // One upstream session per client session (not one per replica, not per request).
    assert_eq!(during["added"], 2, "{during}");

    drop(first);
    let restarted = support::serve_config(&config);
    support::wait_healthy_at(&restarted.addr, "py").await;
    writeln!(client.stdin.as_mut().unwrap(), "{}", restarted.port()).unwrap();
    let after = next_json(&mut lines);
    assert_eq!(
        after["after_restart"],
        serde_json::json!(["beta", "alpha", "beta", "alpha"]),
        "{after}"
    );
    let ended = next_json(&mut lines);
    let output = client.wait_with_output().unwrap();
    assert!(
        output.status.success() && ended["ended_by_delete"] == 2,
        "{ended}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn with_pooled_upstream_sessions_no_session_is_opened_per_client() {
    let py = llamagate_test_peers::mcp1_peer("streamable-http");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nmcp:\n  endpoint: {{ upstream_sessions: pooled }}\n  servers:\n    - {{ name: py, transport: streamable-http, url: \"{}\" }}\n",
            py.url
        ),
    )
    .unwrap();
    let gateway = support::serve_config(&config);
    support::wait_healthy_at(&gateway.addr, "py").await;
    let mut client = Command::new(support::python("mcp1"))
        .args([
            "-c",
            &support::with_round_robin(SCRIPT),
            &format!("http://{}/mcp", gateway.addr),
            &gateway.port(),
            &gateway.port(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let during = next_json(&mut lines);
    writeln!(client.stdin.as_mut().unwrap(), "{}", gateway.port()).unwrap();
    assert_eq!(during["added"], 0, "{during}");
    assert!(client.wait().unwrap().success());
}

const RESTART_SCRIPT: &str = r#"
import json, sys, anyio
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

async def main(url):
    async with streamablehttp_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.call_tool("py__remember", {"note": "alpha"})
            before = (await session.call_tool("py__recall", {})).content[0].text
            print(json.dumps({"before": before}), flush=True)
            # The test restarts the upstream, which forgets every session.
            sys.stdin.readline()
            after = [await session.call_tool("py__recall", {}) for _ in range(2)]
            print(json.dumps({"after": [[r.isError, r.content[0].text] for r in after]}), flush=True)

anyio.run(main, sys.argv[1])
"#;

/// An upstream that restarted has forgotten the session: the client's calls go on, on
/// pooled sessions (its state there is gone with the upstream's), with no error.
#[tokio::test]
async fn calls_go_on_when_the_upstream_forgot_the_session() {
    let port = llamagate_test_peers::free_port();
    let mut py = llamagate_test_peers::mcp1_peer_on_port("streamable-http", port);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("llamagate.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nmcp:\n  servers:\n    - {{ name: py, transport: streamable-http, url: \"{}\" }}\n",
            py.url
        ),
    )
    .unwrap();
    let gateway = support::serve_config(&config);
    support::wait_healthy_at(&gateway.addr, "py").await;
    let mut client = Command::new(support::python("mcp1"))
        .args([
            "-c",
            RESTART_SCRIPT,
            &format!("http://{}/mcp", gateway.addr),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    let before = next_json(&mut lines);
    assert_eq!(before["before"], "alpha", "{before}");
    py.kill();
    let _py = llamagate_test_peers::mcp1_peer_on_port("streamable-http", port);
    support::wait_healthy_at(&gateway.addr, "py").await;
    writeln!(client.stdin.as_mut().unwrap(), "go").unwrap();
    let after = next_json(&mut lines);
    let output = client.wait_with_output().unwrap();
    assert_eq!(
        after["after"],
        serde_json::json!([[false, "nothing"], [false, "nothing"]]),
        "{after}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

const SUBSCRIBE_SCRIPT: &str = r#"
import asyncio, json, sys
from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client

URI = "everything+demo://resource/dynamic/text/1"
updates = []

async def on_message(message):
    if isinstance(message, types.ServerNotification) and isinstance(message.root, types.ResourceUpdatedNotification):
        updates.append(str(message.root.params.uri))

async def main(url):
    async with streamablehttp_client(url, httpx_client_factory=factory) as (read, write, _):
        async with ClientSession(read, write, message_handler=on_message) as session:
            await session.initialize()
            # The SDK opens the session's GET stream in the background after `initialize`.
            await asyncio.sleep(0.5)
            await session.subscribe_resource(URI)
            # server-everything sends the session's subscribed resources' updates from now on
            # (one at once, then every 5 s), on the session's own GET stream.
            await session.call_tool("everything__toggle-subscriber-updates", {})
            for _ in range(100):
                if updates:
                    break
                await asyncio.sleep(0.05)
            heard = list(updates)
            await session.unsubscribe_resource(URI)
            await session.call_tool("everything__toggle-subscriber-updates", {})
            print(json.dumps({"heard": heard}), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

/// A session's `resources/subscribe` goes to its own upstream session: the updates come on
/// that session's GET stream, which follows the client's, so they reach the client on
/// whichever replica its GET stream is, whichever one the subscribe reached.
#[tokio::test]
async fn a_subscription_through_one_replica_is_heard_on_the_other() {
    let everything = llamagate_test_peers::everything("streamableHttp");
    let replicas = support::Replicas::of("everything", &everything.url).await;
    let got = support::python_round_robin(SUBSCRIBE_SCRIPT, &replicas.url(), replicas.ports());
    assert_eq!(
        got["heard"].as_array().and_then(|heard| heard.first()),
        Some(&serde_json::json!(
            "everything+demo://resource/dynamic/text/1"
        )),
        "{got}"
    );
}

const LOGGING_SCRIPT: &str = r#"
import asyncio, json, sys
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

heard = []

async def on_log(params):
    heard.append([params.level, params.logger])

async def toggled_on(session, count):
    # server-everything logs once at once, then every 5 s, on the session's own GET stream.
    await session.call_tool("everything__toggle-simulated-logging", {})
    for _ in range(40):
        if len(heard) >= count:
            break
        await asyncio.sleep(0.05)
    await session.call_tool("everything__toggle-simulated-logging", {})

async def main(url):
    async with streamablehttp_client(url, httpx_client_factory=factory) as (read, write, _):
        async with ClientSession(read, write, logging_callback=on_log) as session:
            await session.initialize()
            await asyncio.sleep(0.5)
            await session.set_logging_level("debug")
            await toggled_on(session, 1)
            at_debug = list(heard)
            heard.clear()
            await session.set_logging_level("emergency")
            await asyncio.sleep(0.3)
            await toggled_on(session, 1)
            print(json.dumps({"at_debug": at_debug, "at_emergency": heard}), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

/// The log messages of a session's own upstream session reach its GET stream, their logger
/// naming the server, at the level the client set (passed on to the upstream session).
#[tokio::test]
async fn a_session_hears_its_own_upstream_session_s_log_at_its_level() {
    let everything = llamagate_test_peers::everything("streamableHttp");
    let replicas = support::Replicas::of("everything", &everything.url).await;
    let got = support::python_round_robin(LOGGING_SCRIPT, &replicas.url(), replicas.ports());
    let at_debug = got["at_debug"].as_array().expect("a list");
    assert_eq!(at_debug.len(), 1, "the message logged at once: {got}");
    assert_eq!(at_debug[0][1], "everything", "{got}");
    // At `emergency` the upstream drops everything less severe (its message is of a random
    // level): whatever is heard is an emergency.
    let at_emergency = got["at_emergency"].as_array().expect("a list");
    assert!(at_emergency.iter().all(|m| m[0] == "emergency"), "{got}");
}
