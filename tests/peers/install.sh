#!/usr/bin/env bash
# Installs the pinned real MCP peers the tests start: npm packages (package-lock.json) and two
# Python virtualenvs (mcp 1.30 with the WebSocket server, mcp-server-time and the openai SDK;
# mcp 2.3, the 2026-07-28 peer), the Helm v4 engine (helm-python-sdk) the chart tests use, and
# the MCP conformance suite (tests/conformance). Skips work whose pins did not change since the last install.
set -euo pipefail
cd "$(dirname "$0")"

stamp_ok() { [ -f ".stamp-$1" ] && [ "$(cat ".stamp-$1")" = "$2" ]; }
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "tests/peers/install.sh: '$1' is required (install $2)" >&2; exit 1; }
}
need node "Node.js 20 or newer"
need npm "npm"
need python3 "Python 3.10 or newer"

npm_pin=$(digest package.json package-lock.json)
if ! stamp_ok npm "$npm_pin" || [ ! -d node_modules/@modelcontextprotocol/server-everything ]; then
  echo "installing npm peers..." >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_pin" > .stamp-npm
fi

venv() {
  local name=$1 requirements=$2
  local pin
  pin=$(digest "$requirements")
  if ! stamp_ok "$name" "$pin" || [ ! -x ".venv-$name/bin/python" ]; then
    echo "installing Python peers into tests/peers/.venv-$name..." >&2
    rm -rf ".venv-$name"
    python3 -m venv ".venv-$name"
    ".venv-$name/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$pin" > ".stamp-$name"
  fi
}
# The official MCP conformance suite and the Node 22 it needs, apart from the peers so that
# they keep the machine's Node (cli/tests/conformance.rs).
conformance_pin=$(digest ../conformance/package.json ../conformance/package-lock.json)
if ! stamp_ok conformance "$conformance_pin" || [ ! -d ../conformance/node_modules/@modelcontextprotocol/conformance ]; then
  echo "installing the MCP conformance suite..." >&2
  (cd ../conformance && npm ci --no-audit --no-fund --loglevel=error)
  echo "$conformance_pin" > .stamp-conformance
fi

venv mcp1 requirements-mcp1.txt
venv mcp2 requirements-mcp2.txt
venv helm requirements-helm.txt
echo "test peers ready" >&2
