// Drives a memory MCP server through a full episode lifecycle with the
// official TypeScript SDK client. Usage: node lifecycle.mjs <mcp-url>
// Prints a JSON summary on success; exits non-zero with a message on failure.
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = process.argv[2];
if (!url) {
  console.error("usage: node lifecycle.mjs <mcp-url>");
  process.exit(2);
}

const client = new Client({ name: "ts-lifecycle", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));

async function call(name, args) {
  const res = await client.callTool({ name, arguments: args });
  if (res.isError) {
    throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
  }
  return res.structuredContent;
}

const { tools } = await client.listTools();
const names = tools.map((t) => t.name).sort();
const del = tools.find((t) => t.name === "delete_episode");
assert.equal(del.annotations.destructiveHint, true, "delete_episode is destructive");
assert.equal(tools.find((t) => t.name === "query_memory").annotations.readOnlyHint, true);

// A distractor first, so that ranking, not insertion order, puts ours first.
await call("create_episode", { task_description: "write release notes for the dashboard" });
const ep = await call("create_episode", {
  task_description: "calibrate the zircon flux capacitor in the build pipeline",
  domain: "infrastructure",
  task_type: "bugfix",
  context: { language: "typescript", complexity: "medium", tags: ["ci"] },
});
assert.match(ep.id, /^ep_/);

const steps = [
  { tool: "shell", action: "run the failing build", result: { status: "error", error: "flux out of range" } },
  { tool: "editor", action: "adjust the zircon calibration", result: { status: "success" } },
  { tool: "shell", action: "rerun the build", result: { status: "success", output: "green" }, latency_ms: 900 },
];
for (const [i, s] of steps.entries()) {
  const ack = await call("add_episode_step", { episode_id: ep.id, ...s });
  assert.equal(ack.seq, i + 1);
}

const bad = await client.callTool({
  name: "add_episode_step",
  arguments: { episode_id: ep.id, tool: "shell", result: { status: "exploded" } },
});
assert.equal(bad.isError, true, "an invalid step status is refused");

const done = await call("complete_episode", {
  episode_id: ep.id,
  outcome: { status: "success", verdict: "build is green", artifacts: ["ci.yaml"] },
});
assert.ok(done.reward.total > 0.5, `reward ${done.reward.total} is high for a success`);

const q = await call("query_memory", { query: "zircon flux calibration", limit: 5 });
assert.equal(q.results[0].id, ep.id, "our episode ranks first");

const refused = await client.callTool({ name: "delete_episode", arguments: { episode_id: ep.id } });
assert.equal(refused.isError, true, "delete without confirm is refused");
await call("delete_episode", { episode_id: ep.id, confirm: true });
const gone = await client.callTool({ name: "get_episode", arguments: { episode_id: ep.id } });
assert.equal(gone.isError, true, "a deleted episode is gone");

await client.close();
console.log(JSON.stringify({ tools: names, episode: ep.id, reward: done.reward.total, top: q.results[0].id }));
