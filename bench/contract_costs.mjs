#!/usr/bin/env node
// Execution cost of every render-farm public function (and the provider list reader) on simnet (the real Clarity cost model),
// as a share of the Stacks block limit, with the cheapest call (set-availability) as the baseline.
//
//   node bench/contract_costs.mjs [--json]     (or: .venv/bin/python -m bench.contract_costs)
//
// Uses @stacks/clarinet-sdk from contract/node_modules (the version the local chain runs).
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const contractDir = join(dirname(fileURLToPath(import.meta.url)), "..", "contract");
const require = createRequire(join(contractDir, "package.json"));
const { initSimnet } = require("@stacks/clarinet-sdk");
const { Cl } = require("@stacks/transactions");
const { DEVNET_PUBLIC_KEYS, advanceSeconds, sha256 } = await import(join(contractDir, "fuzz", "simnet-helpers.mjs"));

const asJson = process.argv.includes("--json");
if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log("usage: contract_costs.mjs [--json]\nPrints each render-farm public function's execution cost as a share of the block limit.");
  process.exit(0);
}

// Contract prints are logged by the SDK; keep the report readable.
const log = console.log;
const quiet = (fn) => { console.log = () => {}; try { return fn(); } finally { console.log = log; } };

const simnet = await quiet(() => initSimnet(join(contractDir, "Clarinet.toml"), true, { trackCosts: true }));
const accounts = simnet.getAccounts();
const [requester, provA, provB, provC] = ["wallet_1", "wallet_2", "wallet_3", "wallet_4"].map((n) => accounts.get(n));
const rows = [];
let limit = null;

function measure(label, fn, args, sender) {
  const res = quiet(() => simnet.callPublicFn("render-farm", fn, args, sender));
  if (res.result.type !== "ok") throw new Error(`${label}: expected ok, got ${JSON.stringify(res.result)}`);
  if (!res.costs) throw new Error("no cost data: this clarinet-sdk does not report costs");
  limit = res.costs.limit;
  rows.push({ label, cost: res.costs.total });
  return res.result.value;
}

const hash = (b) => Cl.buffer(new Uint8Array(32).fill(b));
const register = (who, gpus) => measure("register-provider", "register-provider",
  [Cl.bufferFromHex(DEVNET_PUBLIC_KEYS[who]), Cl.uint(gpus), Cl.uint(24576), Cl.uint(1000), Cl.uint(10), Cl.uint(1_000_000_000)], who);
const job = (provider) => measure("create-job", "create-job", [Cl.principal(provider), Cl.uint(2_000_000), Cl.uint(1000),
  Cl.uint(600), Cl.uint(0), hash(1), Cl.uint(1), Cl.uint(10), Cl.stringAscii("https://relay.example:8700")], requester).value;
const secret = new Uint8Array(32).fill(7);

register(provA, 64);
register(provB, 4);
register(provC, 64);
measure("set-availability", "set-availability", [Cl.bool(true)], provA);
measure("update-resources", "update-resources", [Cl.uint(64), Cl.uint(24576), Cl.uint(1100), Cl.uint(10)], provA);
measure("add-bond", "add-bond", [Cl.uint(1_000_000)], provA);
measure("withdraw-bond", "withdraw-bond", [Cl.uint(1_000_000)], provA);
const j1 = job(provA);
measure("start-job", "start-job", [Cl.uint(j1)], provA);
measure("submit-result", "submit-result", [Cl.uint(j1), hash(9), Cl.buffer(sha256(secret))], provA);
measure("approve-result", "approve-result", [Cl.uint(j1)], requester);
measure("claim", "claim", [Cl.uint(j1), Cl.buffer(secret)], provA);
measure("withdraw", "withdraw", [Cl.uint(2_000_000)], provA);
const j2 = job(provA);
measure("start-job", "start-job", [Cl.uint(j2)], provA);
measure("submit-result", "submit-result", [Cl.uint(j2), hash(9), Cl.buffer(sha256(secret))], provA);
measure("reject-result", "reject-result", [Cl.uint(j2)], requester);
measure("reassign-job", "reassign-job", [Cl.uint(j2), Cl.principal(provB), hash(2)], requester);
measure("decline-job", "decline-job", [Cl.uint(j2)], provB);
measure("cancel-job", "cancel-job", [Cl.uint(j2)], requester);
const j3 = job(provB);
advanceSeconds(simnet, 3601);
measure("expire-job", "expire-job", [Cl.uint(j3)], requester);
for (const n of [10, 25, 50, 100]) {
  const chunks = Array.from({ length: n }, (_, i) => Cl.tuple({
    provider: Cl.principal(i % 2 ? provA : provC), reward: Cl.uint(1_000_000), complexity: Cl.uint(1000),
    "estimated-duration": Cl.uint(600), "scene-hash": hash(i), "frame-start": Cl.uint(i * 10 + 1), "frame-end": Cl.uint(i * 10 + 10),
  }));
  const batch = measure(`create-jobs (${n} chunks)`, "create-jobs", [Cl.list(chunks), Cl.uint(0), Cl.stringAscii("https://relay.example:8700")], requester);
  // free the GPU slots (64 each on providers A and C) for the next batch
  const first = Number(batch.value["first-job-id"].value);
  for (let id = first; id < first + n; id++) {
    quiet(() => simnet.callPublicFn("render-farm", "cancel-job", [Cl.uint(id)], requester));
  }
}
measure("deregister-provider", "deregister-provider", [], provB);

// Read-only: listing providers. A node bounds each read-only call by its own limit (stacks-core's
// default read_only_call_limit allows 30 reads), not the block limit; the table shows the block share,
// the note after it the reads.
const readOnly = [];
for (const n of [1, 10, 50]) {
  const res = quiet(() => simnet.callReadOnlyFn("render-farm", "get-providers",
    [Cl.list(Array.from({ length: n }, (_, i) => Cl.uint(i % 3)))], requester));
  if (!res.costs) throw new Error("no cost data for read-only calls: this clarinet-sdk does not report them");
  rows.push({ label: `get-providers (${n})`, cost: res.costs.total });
  readOnly.push({ n, reads: res.costs.total.readCount });
}

// One row per function (the first measurement; later ones of the same label are averaged in).
const dims = ["runtime", "readCount", "readLength", "writeCount", "writeLength"];
const byLabel = new Map();
for (const { label, cost } of rows) {
  const seen = byLabel.get(label) ?? { label, n: 0, cost: Object.fromEntries(dims.map((d) => [d, 0])) };
  seen.n += 1;
  for (const d of dims) seen.cost[d] += cost[d];
  byLabel.set(label, seen);
}
const table = [...byLabel.values()].map(({ label, n, cost }) => {
  const avg = Object.fromEntries(dims.map((d) => [d, cost[d] / n]));
  const share = Object.fromEntries(dims.map((d) => [d, avg[d] / limit[d]]));
  return { function: label, cost: avg, share, max_share: Math.max(...dims.map((d) => share[d])) };
});
const baseline = table.find((r) => r.function === "set-availability");
for (const r of table) r.vs_baseline = r.cost.runtime / baseline.cost.runtime;
const batch = table.find((r) => r.function === "create-jobs (50 chunks)");

if (asJson) {
  log(JSON.stringify({ block_limit: limit, functions: table, get_providers_reads: readOnly }, null, 2));
} else {
  const pct = (x) => `${(x * 100).toFixed(3)}%`.padStart(9);
  log(`Block limit: runtime ${limit.runtime}, read_count ${limit.readCount}, read_length ${limit.readLength}, ` +
      `write_count ${limit.writeCount}, write_length ${limit.writeLength}`);
  log(`${"function".padEnd(26)}${"runtime".padStart(9)}${"reads".padStart(9)}${"read len".padStart(9)}` +
      `${"writes".padStart(9)}${"write len".padStart(10)} ${"runtime x baseline".padStart(19)}`);
  for (const r of table) {
    log(`${r.function.padEnd(26)}${pct(r.share.runtime)}${pct(r.share.readCount)}${pct(r.share.readLength)}` +
        `${pct(r.share.writeCount)} ${pct(r.share.writeLength)} ${r.vs_baseline.toFixed(1).padStart(18)}x`);
  }
  log(`baseline: set-availability (runtime ${baseline.cost.runtime})`);
  log(`get-providers reads: ${readOnly.map((r) => `${r.n} indices ${r.reads}`).join(", ")} ` +
      "(a node's read-only call limit bounds this; stacks-core's default is 30 reads)");
  log(`create-jobs with 50 chunks uses at most ${(batch.max_share * 100).toFixed(2)}% of any block-limit dimension: ` +
      `${batch.max_share < 0.5 ? "fits well inside one block" : "DOES NOT fit comfortably in a block"}`);
}
process.exit(batch.max_share < 0.5 ? 0 : 1);
