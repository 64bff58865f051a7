"""Tools, resources and prompts shared by the Python test peers (mcp 1.30 and 2.3).

Both SDKs expose the same decorator API (`@server.tool()`, `@server.resource(uri)`,
`@server.prompt()`), so one registration function serves both.
"""

import asyncio
import base64
import os

import anyio
from mcp import types

# A 1x1 transparent PNG.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def register(server, image_type, tool_error, context_type):
    @server.tool()
    def echo(message: str) -> str:
        """Echo the message back."""
        return message

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    def fail(reason: str = "asked to fail") -> str:
        """Always fails with the given reason."""
        raise tool_error(reason)

    @server.tool()
    async def slow(seconds: float) -> str:
        """Sleep, then answer. A cancellation is recorded in $PEER_CANCEL_LOG."""
        try:
            await asyncio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            log = os.environ.get("PEER_CANCEL_LOG")
            if log:
                with open(log, "a") as f:
                    f.write("cancelled\n")
            raise
        return f"slept {seconds}s"

    @server.tool()
    def meta_echo(ctx: context_type) -> str:
        """Return the `_meta` of this request (to check trace context propagation)."""
        meta = ctx.request_context.meta
        if meta is None:
            return "{}"
        dump = meta.model_dump(by_alias=True) if hasattr(meta, "model_dump") else dict(meta)
        return __import__("json").dumps(dump, default=str)

    @server.tool()
    async def flood(count: int, ctx: context_type) -> str:
        """Send `count` log notifications as fast as it can, then answer."""
        for number in range(count):
            await ctx.info(f"flood {number}")
        return f"flooded {count}"

    @server.tool()
    def garbage() -> str:
        """Write a line that is not JSON-RPC to stdout (a broken stdio server)."""
        # Straight to file descriptor 1: the SDK may have redirected sys.stdout.
        os.write(1, b"this is not JSON-RPC\n")
        return "wrote garbage"

    @server.tool()
    async def add_tool(name: str, ctx: context_type) -> str:
        """Register a tool at runtime and send notifications/tools/list_changed."""

        def dynamic() -> str:
            return f"I am {name}"

        server.add_tool(dynamic, name=name, description="added at runtime")
        if hasattr(ctx, "notify_tools_changed"):
            # mcp 2.x: published on the subscription bus (`subscriptions/listen`).
            await ctx.notify_tools_changed()
        else:
            await ctx.session.send_tool_list_changed()
        return f"added {name}"

    @server.tool()
    def vendor_fields():
        """Answer with a field no SDK knows and a `_meta` (both must reach the caller).

        mcp 1.x serializes such extra fields; mcp 2.x drops them before they are sent.
        """
        return types.CallToolResult(
            content=[types.TextContent(type="text", text="with extras")],
            vendorExtension={"kept": True},
            _meta={"io.example/trace": "abc"},
        )

    @server.tool()
    def big(size: int) -> str:
        """Return `size` bytes of text."""
        return "x" * size

    @server.tool()
    def tiny_png():
        """Return a 1x1 PNG image."""
        return image_type(data=TINY_PNG, format="png")

    @server.resource("test://text", mime_type="text/plain")
    def text_resource() -> str:
        """A text resource."""
        return "hello from a text resource"

    @server.resource("test://binary", mime_type="application/octet-stream")
    def binary_resource() -> bytes:
        """A binary resource."""
        return bytes(range(16))

    @server.resource("test://items/{item_id}", mime_type="text/plain")
    def item(item_id: str) -> str:
        """An item by id."""
        return f"item {item_id}"

    @server.prompt()
    def greet(name: str) -> str:
        """Greet someone."""
        return f"Please greet {name} warmly."
