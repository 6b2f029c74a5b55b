#!/usr/bin/env node
// The local Stacks chain: simnet behind the node/API endpoints our clients use.
// Usage: node devnet/server.mjs [--port N] [--host H] [--state DIR] [--reset]   (see --help)
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Chain, contractsFingerprint } from "./lib/chain.mjs";
import { createHttpServer } from "./lib/http.mjs";
import { routes } from "./lib/routes.mjs";
import { silenceConsole } from "./lib/simnet.mjs";
import { FileLog, MemoryLog, StateLogError, resetState } from "./lib/statelog.mjs";

const HELP = `Local Stacks chain for development and tests (simnet + the node/API endpoints).

  node devnet/server.mjs [options]

  --port N       TCP port (default 3999; 0 picks a free one)
  --host H       interface to listen on (default 127.0.0.1)
  --state DIR    keep the chain in DIR/chain.jsonl and replay it at start; without it the chain
                 lives in memory only
  --reset        start a new chain in DIR (deletes DIR/chain.jsonl)
  --block-time S mine a block every S seconds (decimals allowed): transactions wait as "pending"
                 until then, as on testnet; default 0 mines each transaction as it arrives
  --read-only-reads N  refuse a read-only call that makes more than N reads, as a node's
                 read_only_call_limit_read_count does (default 0: no limit)
  --help         this text

Deploys every contract of contract/Clarinet.toml; the accounts of settings/Devnet.toml are funded.
On start it prints one JSON line to stdout: {"event":"ready","url":…}. Logs go to stderr.
Endpoints: contract/devnet/README.md.`;

const CONTRACT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const log = (line) => process.stderr.write(`devnet: ${line}\n`);

function fail(message, code = 2) {
  log(message);
  process.exit(code);
}

function options() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string", default: "3999" },
        host: { type: "string", default: "127.0.0.1" },
        state: { type: "string" },
        reset: { type: "boolean", default: false },
        "block-time": { type: "string", default: "0" },
        "read-only-reads": { type: "string", default: "0" },
        help: { type: "boolean", default: false },
      },
    }));
  } catch (e) {
    fail(`${e.message}\nRun with --help for the options.`);
  }
  if (values.help) {
    process.stdout.write(HELP + "\n");
    process.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0..65535, got ${values.port}`);
  if (values.reset && !values.state) fail("--reset needs --state DIR (an in-memory chain is always new)");
  const blockTime = Number(values["block-time"]);
  if (!Number.isFinite(blockTime) || blockTime < 0 || blockTime > 3600) {
    fail(`--block-time must be a number of seconds from 0 to 3600, got ${values["block-time"]}`);
  }
  const readOnlyReads = Number(values["read-only-reads"]);
  if (!Number.isInteger(readOnlyReads) || readOnlyReads < 0) {
    fail(`--read-only-reads must be a whole number of reads (0 = no limit), got ${values["read-only-reads"]}`);
  }
  return { ...values, port, readOnlyReads, blockTimeMs: Math.round(blockTime * 1000), state: values.state && path.resolve(values.state) };
}

function openLog(opts, fingerprint) {
  const newGenesis = () => ({ genesis_ms: Math.floor(Date.now() / 1000) * 1000, contracts: fingerprint });
  if (!opts.state) return new MemoryLog(newGenesis());
  if (opts.reset) resetState(opts.state);
  const stateLog = new FileLog(opts.state, newGenesis);
  if (stateLog.genesis.contracts !== fingerprint) {
    stateLog.close();
    throw new StateLogError(
      `the chain in ${opts.state} was made with other contracts or settings (Clarinet.toml, settings/Devnet.toml or contracts/*.clar changed); ` +
        "start with --reset to begin a new chain, or use another --state directory",
    );
  }
  return stateLog;
}

async function main() {
  const opts = options();
  process.chdir(CONTRACT_DIR); // simnet reads the manifest and writes its deployment plan here
  silenceConsole();
  let stateLog;
  try {
    stateLog = openLog(opts, contractsFingerprint(CONTRACT_DIR));
  } catch (e) {
    if (e instanceof StateLogError) fail(e.message);
    throw e;
  }
  const chain = new Chain({ log: stateLog, manifestPath: "./Clarinet.toml", devnetToml: path.join(CONTRACT_DIR, "settings/Devnet.toml"), blockTimeMs: opts.blockTimeMs, readOnlyReads: opts.readOnlyReads });
  try {
    await chain.start();
  } catch (e) {
    fail(`could not start the chain: ${e?.message ?? e}\nFix the contract or Clarinet.toml (try \`clarinet check\`), or start with --reset if the saved chain no longer replays.`, 1);
  }
  log(`replayed ${stateLog.entries.length} logged actions in ${chain.lastRebuildMs.toFixed(0)} ms`);
  chain.startMining();

  const server = createHttpServer(routes(chain), log);
  server.on("error", (e) => fail(e.code === "EADDRINUSE" ? `port ${opts.port} is in use: pick another with --port` : `server error: ${e.message}`, 1));
  server.listen(opts.port, opts.host, () => {
    const { port } = server.address();
    const url = `http://${opts.host}:${port}`;
    process.stdout.write(JSON.stringify({ event: "ready", url, replayed: stateLog.entries.length, state: opts.state ?? null, block_time_ms: opts.blockTimeMs }) + "\n");
  });

  const stop = () => {
    server.close();
    server.closeAllConnections?.();
    chain.serial(() => chain.close()).finally(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main();
