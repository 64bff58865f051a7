"""WebSocket MCP peer (mcp 1.30): subprotocol `mcp`, one JSON-RPC message per text frame.

    .venv-mcp1/bin/python ws_server.py --port 8765     # ws://127.0.0.1:8765/ws
"""

import argparse
import warnings

import uvicorn
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


async def ws_endpoint(websocket):
    async with websocket_server(websocket.scope, websocket.receive, websocket._send) as (read, write):
        low_level = server._mcp_server
        await low_level.run(read, write, low_level.create_initialization_options())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = Starlette(routes=[WebSocketRoute("/ws", ws_endpoint)])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
