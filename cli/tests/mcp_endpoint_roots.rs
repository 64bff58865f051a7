//! Roots reach the upstream session of the client that gave them, and no other: a 2025-era
//! session that declared roots owns its sessions at the upstreams, and a server's roots
//! request (mid-call, or on its own after the handshake) reaches that client on its GET
//! stream, whichever replica holds it; the answer may be POSTed to the other replica. The
//! official Python SDK client (mcp 1.30), its requests round-robin across two replicas, in
//! front of the mcp 1.30 peer and server-everything over Streamable HTTP.

mod support;

use serde_json::json;

/// Three clients: two with roots of their own, one that declared none.
const WORKSPACE_SCRIPT: &str = r#"
import asyncio, json, sys
from contextlib import AsyncExitStack
from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client

def roots_of(*uris):
    async def give(context):
        return types.ListRootsResult(roots=[types.Root(uri=uri) for uri in uris])
    return give

async def open_session(stack, url, roots):
    read, write, _ = await stack.enter_async_context(streamablehttp_client(url, httpx_client_factory=factory))
    session = await stack.enter_async_context(ClientSession(read, write, list_roots_callback=roots))
    await session.initialize()
    return session

async def main(url):
    async with AsyncExitStack() as stack:
        a = await open_session(stack, url, roots_of("file:///work/alpha", "file:///work/shared"))
        b = await open_session(stack, url, roots_of("file:///work/beta"))
        none = await open_session(stack, url, None)
        # The SDK opens each session's GET stream in the background after `initialize`.
        await asyncio.sleep(0.5)
        seen = []
        for session in (a, b, a, b):
            result = await session.call_tool("py__workspace", {})
            seen.append(result.content[0].text)
        refused = await none.call_tool("py__workspace", {})
        print(json.dumps({"seen": seen, "refused": [refused.isError, refused.content[0].text]}), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

/// One client with roots, left alone: server-everything asks for them after the handshake,
/// and again when told they changed.
const ON_ITS_OWN_SCRIPT: &str = r#"
import asyncio, json, sys
from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client

asked = []

async def give(context):
    asked.append(len(asked))
    return types.ListRootsResult(roots=[types.Root(uri="file:///work/alpha", name="alpha")])

async def wait_for(count):
    for _ in range(100):
        if len(asked) >= count:
            return
        await asyncio.sleep(0.05)

async def main(url):
    async with streamablehttp_client(url, httpx_client_factory=factory) as (read, write, _):
        async with ClientSession(read, write, list_roots_callback=give) as session:
            await session.initialize()
            await wait_for(1)
            after_handshake = len(asked)
            await session.send_roots_list_changed()
            await wait_for(2)
            # server-everything offers a session with roots a tool that shows them.
            tools = [t.name for t in (await session.list_tools()).tools]
            shown = await session.call_tool("everything__get-roots-list", {})
            print(json.dumps({"after_handshake": after_handshake, "after_change": len(asked),
                              "listed": "everything__get-roots-list" in tools,
                              "shown": shown.content[0].text}), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

#[tokio::test]
async fn a_mid_call_roots_request_reaches_the_client_of_the_call_and_no_other() {
    let py = llamagate_test_peers::mcp1_peer("streamable-http");
    let replicas = support::Replicas::of("py", &py.url).await;
    let got = support::python_round_robin(WORKSPACE_SCRIPT, &replicas.url(), replicas.ports());
    assert_eq!(
        got["seen"],
        json!([
            "file:///work/alpha\nfile:///work/shared",
            "file:///work/beta",
            "file:///work/alpha\nfile:///work/shared",
            "file:///work/beta"
        ]),
        "{got}"
    );
    // A client that declared no roots is not asked: the server is told why.
    assert_eq!(got["refused"][0], true, "{got}");
    assert!(
        got["refused"][1]
            .as_str()
            .is_some_and(|text| text.contains("did not declare")),
        "{got}"
    );
}

#[tokio::test]
async fn a_roots_request_of_the_server_on_its_own_reaches_the_client() {
    let everything = llamagate_test_peers::everything("streamableHttp");
    let replicas = support::Replicas::of("everything", &everything.url).await;
    let got = support::python_round_robin(ON_ITS_OWN_SCRIPT, &replicas.url(), replicas.ports());
    // Asked once after the handshake (server-everything waits 350 ms), once after the
    // client said its roots changed.
    assert_eq!(got["after_handshake"], 1, "{got}");
    assert_eq!(got["after_change"], 2, "{got}");
    // The session's own tool list, with the tool offered to clients with roots, which
    // shows the roots this client gave.
    assert_eq!(got["listed"], true, "{got}");
    assert!(
        got["shown"]
            .as_str()
            .is_some_and(|text| text.contains("file:///work/alpha")),
        "{got}"
    );
}
