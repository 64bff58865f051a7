// Conformance client adapter. `conformance client --command "node tests/conformance/client.mjs"`
// runs this with the scenario's server URL as the last argument, the scenario's name in
// MCP_CONFORMANCE_SCENARIO and its inputs in MCP_CONFORMANCE_CONTEXT. Every step is the real
// CLI, `llamagate mcp --config client.yaml ...`, straight to the server with no gateway, as a
// user would type it; LLAMAGATE names the binary. What a step prints goes to stderr, so the
// suite's log shows it; a failed step fails the run.
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const config = join(dirname(fileURLToPath(import.meta.url)), "client.yaml");
const url = process.argv.at(-1);
const scenario = process.env.MCP_CONFORMANCE_SCENARIO;
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}");

function mcp(...args) {
  const out = execFileSync(
    process.env.LLAMAGATE ?? "llamagate",
    ["mcp", "--config", config, "--output", "json", ...args],
    { env: { ...process.env, MCP_CONFORMANCE_URL: url }, encoding: "utf8" },
  );
  process.stderr.write(`llamagate mcp ${args.join(" ")}\n${out}\n`);
  return JSON.parse(out);
}
const call = (tool, args = {}) => mcp("tool", "conformance", tool, "--json", JSON.stringify(args));
const tools = () => mcp("tools", "conformance").data;

// Arguments that satisfy a tool's required properties, by type.
function placeholders(schema) {
  const sample = { string: "x", integer: 1, number: 1, boolean: true, object: {}, array: [] };
  const args = {};
  for (const name of schema?.required ?? []) {
    args[name] = sample[schema.properties?.[name]?.type] ?? "x";
  }
  return args;
}

switch (scenario) {
  case "tools_call":
    call("add_numbers", { a: 2, b: 3 });
    break;
  case "sse-retry":
    call("test_reconnection");
    break;
  case "elicitation-sep1034-client-defaults":
    // The server asks for a form during the call; the CLI accepts it with its defaults.
    mcp("--elicitation", "accept-defaults", "tool", "conformance", "test_client_elicitation_defaults");
    break;
  case "sep-2322-client-request-state":
    // Each tool answers `input_required` (or not); the CLI answers and retries.
    for (const tool of tools()) {
      mcp("--elicitation", "accept-defaults", "tool", "conformance", tool.name);
    }
    break;
  case "json-schema-2020-12-preservation": {
    const focal = tools().find((t) => t.name === "json_schema_2020_12_tool");
    call("json_schema_echo", { schema: focal.inputSchema });
    break;
  }
  case "http-standard-headers":
    // Every kind of request: each listed tool, resource and prompt is used once.
    for (const tool of tools()) call(tool.name, placeholders(tool.inputSchema));
    for (const resource of mcp("resources", "conformance").data) {
      mcp("read", "conformance", resource.uri);
    }
    for (const prompt of mcp("prompts", "conformance").data) {
      mcp("prompt", "conformance", prompt.name);
    }
    break;
  case "http-invalid-tool-headers":
    // Whatever the client lists, it would let a model call: call all of it.
    for (const tool of tools()) call(tool.name, placeholders(tool.inputSchema));
    break;
  default:
    tools();
    for (const { name, arguments: args } of context.toolCalls ?? []) call(name, args);
}
