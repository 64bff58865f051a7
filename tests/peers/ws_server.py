"""The mcp 1.30 peer: WebSocket (subprotocol `mcp`, one JSON-RPC message per text frame) by
default, or stdio, Streamable HTTP and legacy HTTP+SSE.

    .venv-mcp1/bin/python ws_server.py --port 8765                              # ws://127.0.0.1:8765/ws
    .venv-mcp1/bin/python ws_server.py --transport stdio
    .venv-mcp1/bin/python ws_server.py --transport streamable-http --port 8766  # http://127.0.0.1:8766/mcp
    .venv-mcp1/bin/python ws_server.py --transport sse --port 8767              # http://127.0.0.1:8767/sse
"""

import argparse
import anyio
import json
import os
import warnings
import weakref

import uvicorn
from pydantic import BaseModel
from mcp.server.fastmcp import FastMCP, Image
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.websocket import websocket_server
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from mcp.server.fastmcp import Context
from common_tools import register

warnings.filterwarnings("ignore", category=DeprecationWarning)

server = FastMCP("llamagate-ws-peer")
register(server, Image, ToolError, Context)


async def list_tools_with_a_vendor_field():
    """FastMCP's tool list, with a field no SDK knows on `vendor_fields` (it must reach the
    gateway's clients)."""
    tools = await server.list_tools()
    for tool in tools:
        if tool.name == "vendor_fields":
            tool.vendorHint = "kept"
    return tools


server._mcp_server.list_tools()(list_tools_with_a_vendor_field)


# What each MCP session kept (`remember`), as a stateful server keeps per-session state.
notes = weakref.WeakKeyDictionary()


@server.tool()
def remember(note: str, ctx: Context) -> str:
    """Keep `note` in this MCP session."""
    notes[ctx.session] = note
    return "kept"


@server.tool()
def recall(ctx: Context) -> str:
    """The note this MCP session kept, or `nothing`."""
    return notes.get(ctx.session, "nothing")


@server.tool()
def open_sessions() -> int:
    """How many Streamable HTTP sessions the server holds (ended ones are gone)."""
    manager = getattr(server, "_session_manager", None)
    return len(manager._server_instances) if manager is not None else 0


@server.tool()
async def workspace(ctx: Context) -> str:
    """The URIs of the roots the client of this MCP session gives, one per line (asked now:
    the Python SDK sends the request on the session's GET stream)."""
    with anyio.fail_after(20):
        result = await ctx.session.list_roots()
    return "\n".join(str(root.uri) for root in result.roots) or "no roots"


class Audience(BaseModel):
    audience: str


@server.prompt()
async def briefing(topic: str, ctx: Context) -> str:
    """A briefing on `topic`, for an audience the user is asked for while the prompt is built
    (a 2025-era server's own elicitation request in the middle of `prompts/get`)."""
    answer = await ctx.elicit(message=f"Who is the briefing on {topic} for?", schema=Audience)
    who = answer.data.audience if answer.action == "accept" else "nobody in particular"
    return f"Brief {who} on {topic}."


async def ws_endpoint(websocket):
    async with websocket_server(websocket.scope, websocket.receive, websocket._send) as (read, write):
        low_level = server._mcp_server
        await low_level.run(read, write, low_level.create_initialization_options())


def require_headers(app):
    """With $PEER_REQUIRE_HEADERS (a JSON object of header: value), answer 401 to every HTTP
    request that lacks one of them: a server that needs auth and a tenant header."""
    expected = json.loads(os.environ.get("PEER_REQUIRE_HEADERS") or "{}")
    if not expected:
        return app

    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            if any(headers.get(name.lower()) != value for name, value in expected.items()):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"missing credentials"})
                return
        await app(scope, receive, send)

    return guarded


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", default="ws", choices=["ws", "stdio", "streamable-http", "sse"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--json", action="store_true", help="Streamable HTTP answers as JSON, not SSE")
    args = parser.parse_args()
    server.settings.json_response = args.json
    if args.transport == "stdio":
        server.run("stdio")
        return
    if args.port is None:
        parser.error("--port is needed for a network transport")
    if args.transport == "streamable-http":
        app = server.streamable_http_app()
    elif args.transport == "sse":
        app = server.sse_app()
    else:
        app = Starlette(routes=[WebSocketRoute("/ws", ws_endpoint)])
    uvicorn.run(require_headers(app), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
