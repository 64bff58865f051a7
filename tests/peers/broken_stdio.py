"""A deliberately broken stdio MCP server (2025-06-18): correct until `tools/call` of
`garbage`, which writes a line that is not JSON-RPC to stdout. Uses no SDK so that nothing
can filter what it writes.

    python3 broken_stdio.py
"""

import json
import sys


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    request = json.loads(line)
    method, ident = request.get("method"), request.get("id")
    if ident is None:
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": ident, "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "broken", "version": "1"},
        }})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": ident, "result": {}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": ident, "result": {"tools": [
            {"name": "echo", "inputSchema": {"type": "object"}},
            {"name": "garbage", "inputSchema": {"type": "object"}},
        ]}})
    elif method == "tools/call" and request["params"]["name"] == "garbage":
        sys.stdout.write("this is not JSON-RPC\n")
        sys.stdout.flush()
        send({"jsonrpc": "2.0", "id": ident, "result": {"content": [{"type": "text", "text": "too late"}]}})
    elif method == "tools/call":
        send({"jsonrpc": "2.0", "id": ident, "result": {"content": [{"type": "text", "text": "ok"}]}})
    else:
        send({"jsonrpc": "2.0", "id": ident, "error": {"code": -32601, "message": f"no method {method}"}})
