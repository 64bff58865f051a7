"""A stdio MCP server that answers `server/discover` with an empty result instead of an
error, as the official conformance suite's client scenarios do: in front of the mcp 1.30
stdio peer, it answers `server/discover` itself and passes every other line through.

    .venv-mcp1/bin/python discover_empty_shim.py
"""

import json
import os
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    server = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "ws_server.py"), "--transport", "stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=HERE,
    )
    lock = threading.Lock()

    def write_out(line):
        with lock:
            sys.stdout.buffer.write(line)
            sys.stdout.buffer.flush()

    def pump_server():
        for line in server.stdout:
            write_out(line)

    threading.Thread(target=pump_server, daemon=True).start()
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("method") == "server/discover":
            answer = {"jsonrpc": "2.0", "id": message.get("id"), "result": {}}
            write_out((json.dumps(answer) + "\n").encode())
            continue
        server.stdin.write(line)
        server.stdin.flush()
    server.stdin.close()
    server.wait()


if __name__ == "__main__":
    main()
