//! Resources through `/mcp` as the official Python SDK client (mcp 1.30) uses them: the
//! resource a tool makes for one session (server-everything's `gzip-file-as-resource`)
//! comes back as a link the client can read, from either replica, and no other session can;
//! and with `mcp.endpoint.prefix: false` every server's resources are read by the URIs the
//! list shows.

mod support;

use serde_json::json;

const SESSION_RESOURCE_SCRIPT: &str = r#"
import asyncio, json, sys
from contextlib import AsyncExitStack
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared.exceptions import McpError

async def open_session(stack, url):
    read, write, _ = await stack.enter_async_context(streamablehttp_client(url, httpx_client_factory=factory))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session

async def main(url):
    out = {}
    async with AsyncExitStack() as stack:
        maker = await open_session(stack, url)
        other = await open_session(stack, url)
        made = await maker.call_tool("everything__gzip-file-as-resource",
                                     {"name": "notes.txt.gz", "data": "data:text/plain;base64,aGVsbG8gZnJvbSBh"})
        links = [c.uri for c in made.content if c.type == "resource_link"]
        out["links"] = [str(u) for u in links]
        reads = []
        for _ in range(2):
            contents = (await maker.read_resource(links[0])).contents
            reads.append([str(contents[0].uri), len(contents[0].blob) > 0])
        out["reads"] = reads
        out["listed"] = [any(str(r.uri) == str(links[0]) for r in (await s.list_resources()).resources)
                         for s in (maker, other)]
        try:
            await other.read_resource(links[0])
            out["other"] = "read it"
        except McpError as e:
            out["other"] = "refused"
    print(json.dumps(out), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

const UNPREFIXED_SCRIPT: &str = r#"
import asyncio, json, sys
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client

async def main(url):
    async with streamablehttp_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            listed = [str(r.uri) for r in (await session.list_resources()).resources]
            picked = [next(u for u in listed if u.startswith(s)) for s in ("demo://", "test://")]
            read = []
            for uri in picked:
                contents = (await session.read_resource(uri)).contents
                read.append([uri, str(contents[0].uri)])
            print(json.dumps({"read": read}), flush=True)

asyncio.run(main(sys.argv[1]))
"#;

fn config(dir: &tempfile::TempDir, yaml: &str) -> std::path::PathBuf {
    let path = dir.path().join("llamagate.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[tokio::test]
async fn a_resource_a_tool_made_for_a_session_is_read_by_that_session_alone() {
    let everything = support::everything("streamableHttp");
    let replicas = support::Replicas::of("everything", &everything.url).await;
    let got =
        support::python_round_robin(SESSION_RESOURCE_SCRIPT, &replicas.url(), replicas.ports());
    let uri = "everything+demo://resource/session/notes.txt.gz";
    // The link is named as the client reads it, and reads from either replica.
    assert_eq!(got["links"], json!([uri]), "{got}");
    assert_eq!(got["reads"], json!([[uri, true], [uri, true]]), "{got}");
    // Another session's upstream session never had it: it is listed to its maker alone.
    assert_eq!(got["other"], "refused", "{got}");
    assert_eq!(got["listed"], json!([true, false]), "{got}");
}

#[tokio::test]
async fn without_prefixes_every_server_s_resources_are_read_by_their_listed_uris() {
    let everything = support::everything("streamableHttp");
    let ws = support::ws_peer();
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        &dir,
        &format!(
            "listen: 127.0.0.1:0\nmcp:\n  endpoint: {{ prefix: false }}\n  servers:\n    - {{ name: everything, transport: streamable-http, url: \"{}\" }}\n    - {{ name: peer, transport: websocket, url: \"{}\" }}\n",
            everything.url, ws.url
        ),
    );
    let gateway = support::serve_config(&config);
    for server in ["everything", "peer"] {
        support::wait_healthy_at(&gateway.addr, server).await;
    }
    let url = format!("http://{}/mcp", gateway.addr);
    let got =
        support::python_round_robin(UNPREFIXED_SCRIPT, &url, [gateway.port(), gateway.port()]);
    let read = got["read"].as_array().expect("both read");
    assert_eq!(read.len(), 2, "{got}");
    for pair in read {
        assert_eq!(
            pair[0], pair[1],
            "the contents name the URI asked for: {got}"
        );
    }
}
