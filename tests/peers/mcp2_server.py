"""The 2026-07-28 peer (mcp 2.3): one Streamable HTTP endpoint serving stateless requests
(`server/discover`, `ttlMs`/`cacheScope`) and legacy `initialize` sessions; or stdio.

    .venv-mcp2/bin/python mcp2_server.py --transport streamable-http --port 8766  # http://127.0.0.1:8766/mcp
    .venv-mcp2/bin/python mcp2_server.py --transport stdio
"""

import argparse
from typing import Annotated

from pydantic import Field

from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ListPromptsResult, ListResourcesResult, ListToolsResult
from mcp_types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult
from mcp.server.mcpserver.utilities.types import Image

from mcp.server.mcpserver import Context
from common_tools import register


PAGE = 2


def page(items, params):
    """Items of the page the cursor (an offset) names, and the next cursor."""
    start = int(params.cursor) if params is not None and params.cursor else 0
    end = start + PAGE
    return items[start:end], (str(end) if end < len(items) else None)


class PagedServer(MCPServer):
    """Lists in pages of two, so clients must follow `nextCursor`."""

    async def _handle_list_tools(self, ctx, params):
        items, cursor = page(await self.list_tools(), params)
        return ListToolsResult(tools=items, next_cursor=cursor)

    async def _handle_list_resources(self, ctx, params):
        items, cursor = page(await self.list_resources(), params)
        return ListResourcesResult(resources=items, next_cursor=cursor)

    async def _handle_list_prompts(self, ctx, params):
        items, cursor = page(await self.list_prompts(), params)
        return ListPromptsResult(prompts=items, next_cursor=cursor)


def build() -> MCPServer:
    hints = {
        "tools/list": CacheHint(ttl_ms=60_000, scope="public"),
        "resources/list": CacheHint(ttl_ms=30_000, scope="private"),
        "prompts/list": CacheHint(ttl_ms=60_000, scope="public"),
    }
    server = PagedServer("llamagate-mcp2-peer", version="2.3.0-peer", cache_hints=hints)
    register(server, Image, ToolError, Context)

    @server.tool()
    async def confirm(action: str, ctx: Context):
        """Ask the user to confirm `action` (2026-07-28 multi-round-trip input)."""
        answers = ctx.input_responses
        if not answers:
            question = ElicitRequest(
                params=ElicitRequestFormParams(
                    message=f"Really {action}?",
                    requested_schema={"type": "object", "properties": {"sure": {"type": "boolean"}}},
                )
            )
            return InputRequiredResult(input_requests={"ok": question}, request_state=f"pending:{action}")
        answer = answers["ok"]
        return f"{action}: {getattr(answer, 'action', answer)} (state {ctx.request_state})"

    @server.prompt()
    async def approval(change: str, ctx: Context):
        """A change request, once the user says who approves it (multi-round-trip input)."""
        answers = ctx.input_responses
        if not answers:
            question = ElicitRequest(
                params=ElicitRequestFormParams(
                    message=f"Who approves {change}?",
                    requested_schema={"type": "object", "properties": {"approver": {"type": "string"}}},
                )
            )
            return InputRequiredResult(input_requests={"who": question}, request_state=f"approval:{change}")
        content = getattr(answers["who"], "content", None) or {}
        return f"Change {change}, approved by {content.get('approver', 'nobody')} (state {ctx.request_state})."

    @server.tool()
    async def touch(uri: str, ctx: Context) -> str:
        """Say the resource `uri` changed (to the `subscriptions/listen` streams that follow it)."""
        await ctx.notify_resource_updated(uri)
        return f"touched {uri}"

    @server.tool()
    def regional_echo(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], message: str
    ) -> str:
        """Echo, routed by region: clients also send `region` as `Mcp-Param-Region` (SEP-2243)."""
        return f"{region}: {message}"

    return server


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transport", choices=["stdio", "streamable-http"], required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = build()
    if args.transport == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.port, streamable_http_path="/mcp")


if __name__ == "__main__":
    main()
