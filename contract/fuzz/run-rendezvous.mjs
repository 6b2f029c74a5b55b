#!/usr/bin/env node
// Run the rendezvous invariant and property tests of render-farm.clar and print a short summary.
//
//   node contract/fuzz/run-rendezvous.mjs [--runs N] [--seed S] [--mode invariant|test|both] [--log FILE]
//
// --runs defaults to $RENDEZVOUS_RUNS or 1500 per mode. Exits 0 only when every mode passed.
// rendezvous 0.12 needs @stacks/clarinet-sdk 3.12.0, whose deployment-plan format differs from the
// 3.21 plan the local chain writes into contract/deployments/, so each run works on a fresh copy
// of the Clarinet project (Clarinet.toml, contracts/, settings/) in a temporary directory.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { CONTRACT_DIR } from "./simnet-helpers.mjs";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: process.env.RENDEZVOUS_RUNS ?? "1500" },
    seed: { type: "string" },
    mode: { type: "string", default: "both" },
    log: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: run-rendezvous.mjs [--runs N] [--seed S] [--mode invariant|test|both] [--log FILE]\n" +
    "Runs the rendezvous invariants and property tests of render-farm.clar; RENDEZVOUS_RUNS sets the default --runs.");
  process.exit(0);
}
const modes = values.mode === "both" ? ["invariant", "test"] : [values.mode];
if (!modes.every((m) => m === "invariant" || m === "test")) {
  console.error(`error: --mode must be invariant, test or both (got ${values.mode})`);
  process.exit(2);
}
const runs = Number.parseInt(values.runs, 10);
if (!(runs > 0)) {
  console.error(`error: --runs must be a positive integer (got ${values.runs})`);
  process.exit(2);
}
const seed = values.seed ?? String(Math.floor(Math.random() * 2 ** 31));

const require = createRequire(import.meta.url);
const rvApp = join(dirname(require.resolve("@stacks/rendezvous/package.json")), "dist", "app.js");
const stripAnsi = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");

let failed = false;
const logs = [];
for (const mode of modes) {
  const project = mkdtempSync(join(tmpdir(), "render-farm-rv-"));
  try {
    for (const part of ["Clarinet.toml", "contracts", "settings"]) {
      cpSync(join(CONTRACT_DIR, part), join(project, part), { recursive: true });
    }
    const started = Date.now();
    const run = spawnSync(process.execPath, [rvApp, project, "render-farm", mode, `--runs=${runs}`, `--seed=${seed}`],
      { encoding: "utf8", maxBuffer: 1 << 30 });
    const output = stripAnsi(`${run.stdout ?? ""}${run.stderr ?? ""}`);
    logs.push(`===== ${mode} (runs=${runs}, seed=${seed}) =====\n${output}`);
    const passed = run.status === 0 && /OK, (invariants|properties) passed after \d+ runs/.test(output);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const calls = (output.match(/^₿ /gm) ?? []).length;
    console.log(`${passed ? "PASS" : "FAIL"} ${mode}: ${runs} runs, ${calls} calls, seed ${seed}, ${seconds}s`);
    // The summary: everything from the verdict on (statistics tree), or the counterexample.
    const verdict = output.search(/OK, (invariants|properties) passed|Error: Property failed/);
    console.log(verdict >= 0 ? output.slice(verdict).trimEnd() : output.split("\n").slice(-40).join("\n"));
    if (!passed) failed = true;
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}
if (values.log) writeFileSync(values.log, logs.join("\n"));
if (failed) {
  console.error(`rendezvous found a violation: replay with --seed ${seed} --runs ${runs}` +
    (values.log ? ` (full log: ${values.log})` : " (add --log FILE for the full call log)"));
}
process.exit(failed ? 1 : 0);
