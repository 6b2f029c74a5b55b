// The devnet chain: a simnet plus what simnet lacks (nonces, fees, post-conditions, a durable
// log, rollback). Every action runs one at a time through `serial`.
//
// Rollback: simnet cannot undo a block. When a payload must not take effect (post-condition
// failure, runtime error), the action is logged as "fee only" and the whole chain is rebuilt from
// genesis by replaying the log; the rebuilt chain holds the fee and nonce but nothing else.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Cl } from "@stacks/transactions";
import { admit } from "./admission.mjs";
import { argumentsMismatch, typeMismatch } from "./argtypes.mjs";
import { cvToHex, hexToCV } from "./clarity.mjs";
import { ERR_NONE, FEE_RECIPIENT, executeFeeOnly, executeInBlock } from "./execute.mjs";
import { assetMapFromEvents, postConditionFailure } from "./postconditions.mjs";
import { bootSimnet, clarityVersionNumber } from "./simnet.mjs";
import { decodeTransaction } from "./txdecode.mjs";

const OK_TRUE = Cl.ok(Cl.bool(true));
const SECONDS_PER_BURN_BLOCK = 600; // what simnet adds to the chain clock per burn block
const SECONDS_PER_STACKS_BLOCK = 10; // and per Stacks block
// A panic inside the WASM leaves the SDK object unusable ("recursive use of an object" after it).
const PANIC = /unreachable|recursive use/i;

/** Hash of Clarinet.toml, the settings and every contract: a log only replays on the same code. */
export function contractsFingerprint(contractDir) {
  const hash = crypto.createHash("sha256");
  const files = ["Clarinet.toml", "settings/Devnet.toml"];
  const contracts = path.join(contractDir, "contracts");
  if (fs.existsSync(contracts)) {
    for (const f of fs.readdirSync(contracts).sort()) if (f.endsWith(".clar")) files.push(path.join("contracts", f));
  }
  for (const f of files) {
    const p = path.join(contractDir, f);
    hash.update(f + "\0" + (fs.existsSync(p) ? fs.readFileSync(p) : "") + "\0");
  }
  return hash.digest("hex");
}

export class Chain {
  /** `log` is a FileLog or MemoryLog; `manifestPath` relative to the cwd (the contract dir). */
  constructor({ log, manifestPath, devnetToml, blockTimeMs = 0, readOnlyReads = 0 }) {
    this.log = log;
    // Like a node's read_only_call_limit_read_count: a read-only call making more reads is refused
    // (0: no limit). Lets clients be tested against the limits public nodes apply.
    this.readOnlyReads = readOnlyReads;
    this.manifestPath = manifestPath;
    this.devnetToml = devnetToml;
    this.queue = Promise.resolve();
    this.lastRebuildMs = 0;
    // With a block time, admitted transactions wait in a mempool (status "pending") until the next
    // block; without one, each is mined as it arrives. The mempool is not logged, like a node's.
    this.blockTimeMs = blockTimeMs;
    this.mempool = [];
    this.timer = null;
  }

  /** Start mining the mempool every blockTimeMs (no-op without a block time). */
  startMining() {
    if (!this.blockTimeMs || this.timer) return;
    this.timer = setInterval(() => this.serial(() => this.mineMempool()), this.blockTimeMs);
  }

  /** Mine every waiting transaction, in arrival order, each in its own block as without a block time. */
  async mineMempool() {
    const waiting = this.mempool;
    this.mempool = [];
    for (const { bytes } of waiting) {
      const { rejection } = await this.#mine(bytes);
      if (rejection) this.dropped.set(rejection.txid, rejection);
    }
  }

  /** The next nonce a sender may use: past its mined nonce and every one it has waiting. */
  nextNonceOf(principal) {
    let next = this.nonceOf(principal);
    for (const { d } of this.mempool) if (d.sender === principal && Number(d.nonce) >= next) next = Number(d.nonce) + 1;
    return next;
  }

  /** A waiting transaction's decoded form, or null. */
  pending(txid) {
    return this.mempool.find((entry) => entry.d.txid === txid)?.d ?? null;
  }

  /** Run `fn` after every action queued before it; actions never interleave. */
  serial(fn) {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => {});
    return run;
  }

  async start() {
    await this.#rebuild(false);
  }

  // ---- state rebuilt from the log ------------------------------------------------------------

  async #rebuild(fresh) {
    const t0 = performance.now();
    this.simnet = await bootSimnet({ manifestPath: this.manifestPath, genesisMs: this.log.genesis.genesis_ms, fresh });
    this.nonces = new Map();
    this.records = new Map();
    this.dropped ??= new Map(); // txid → why a waiting transaction could not be mined after all
    this.publishHeights = new Map();
    this.interfaces = null;
    this.epoch = Number.parseFloat(this.simnet.currentEpoch);
    this.maxClarityVersion = clarityVersionNumber(this.simnet.getDefaultClarityVersionForCurrentEpoch());
    for (const entry of this.log.entries) this.#replay(entry);
    this.lastRebuildMs = performance.now() - t0;
  }

  #replay(entry) {
    switch (entry.kind) {
      case "tx": {
        const d = decodeTransaction(Buffer.from(entry.hex, "hex"));
        if (entry.outcome === "fee_only") {
          this.#mineFeeOnly(d, entry.status, hexToCV(entry.result), entry.vm_error);
        } else {
          const run = executeInBlock(this.simnet, d, this.maxClarityVersion);
          if (run.runtimeError) {
            throw new Error(`replaying ${d.txid} failed where it had succeeded (${run.runtimeError}); the chain is not deterministic`);
          }
          this.#recordExecuted(d, run);
        }
        break;
      }
      case "faucet":
        this.simnet.mintSTX(entry.address, BigInt(entry.amount));
        break;
      case "advance":
        for (const [kind, count] of entry.steps) this.#mineEmpty(kind, count);
        break;
      default:
        throw new Error(`unknown log entry kind ${entry.kind}`);
    }
  }

  #block() {
    return { height: this.simnet.stacksBlockHeight, burnHeight: this.simnet.burnBlockHeight, time: Number(this.simnet.getBlockTime()) };
  }

  #consumeNonce(d) {
    this.nonces.set(d.sender, Number(d.nonce) + 1);
  }

  #mineFeeOnly(d, status, result, vmError) {
    executeFeeOnly(this.simnet, d);
    this.#consumeNonce(d);
    this.records.set(d.txid, { d, status, result, events: [], costs: null, vmError, block: this.#block(), function: this.#functionOf(d) });
  }

  #recordExecuted(d, run) {
    this.#consumeNonce(d);
    let { result } = run;
    if (d.kind === "smart_contract") {
      result = OK_TRUE;
      this.interfaces = null;
      this.publishHeights.set(d.contractId, this.simnet.stacksBlockHeight);
    }
    const status = result.type === "err" ? "abort_by_response" : "success";
    this.records.set(d.txid, { d, status, result, events: run.events, costs: run.costs, vmError: null, block: this.#block(), function: this.#functionOf(d) });
  }

  #functionOf(d) {
    if (d.kind !== "contract_call") return null;
    return this.contractInterface(d.contractId)?.functions.find((f) => f.name === d.functionName) ?? null;
  }

  // ---- actions (each appended to the log before it is acknowledged) ----------------------------

  /** Raw signed bytes → { txid } or { rejection } (the node's 400 body). */
  async submitTransaction(bytes) {
    if (!this.blockTimeMs) return this.#mine(bytes);
    const view = {
      nonceOf: (p) => this.nextNonceOf(p),
      balanceOf: (p) => this.balanceOf(p),
      contractInterface: (id) => this.contractInterface(id),
      epoch: this.epoch,
      maxClarityVersion: this.maxClarityVersion,
    };
    const { admitted: d, rejection } = admit(bytes, view);
    if (rejection) return { rejection };
    if (!this.pending(d.txid) && !this.records.has(d.txid)) this.mempool.push({ d, bytes });
    return { txid: d.txid };
  }

  async #mine(bytes) {
    const { admitted: d, rejection } = admit(bytes, this);
    if (rejection) return { rejection };
    const run = executeInBlock(this.simnet, d, this.maxClarityVersion);
    let failure = null;
    if (run.runtimeError) {
      failure = { status: "abort_by_response", result: ERR_NONE, vm_error: run.runtimeError };
    } else if (d.kind !== "token_transfer") {
      // A node checks no post-conditions on a plain STX transfer (it admits none).
      const reason = postConditionFailure(d.tx.postConditions.values, d.tx.postConditionMode, d.sender, assetMapFromEvents(run.events));
      if (reason) failure = { status: "abort_by_post_condition", result: run.result, vm_error: reason };
    }
    if (!failure) {
      this.log.append({ kind: "tx", hex: d.hex, outcome: "executed" });
      this.#recordExecuted(d, run);
      return { txid: d.txid };
    }
    this.log.append({ kind: "tx", hex: d.hex, outcome: "fee_only", status: failure.status, result: cvToHex(failure.result), vm_error: failure.vm_error });
    // After a panic, rebuild on a new SDK object.
    await this.#rebuild(PANIC.test(run.runtimeError ?? ""));
    return { txid: d.txid };
  }

  faucet(address, amount) {
    this.simnet.mintSTX(address, amount); // first: an action that throws is never logged
    this.log.append({ kind: "faucet", address, amount: amount.toString() });
  }

  /**
   * Mine `blocks` Stacks blocks, then enough blocks to move the chain clock (stacks-block-time)
   * forward by at least `seconds`. Returns the steps mined, e.g. [["stacks", 3], ["burn", 18]].
   */
  advance({ blocks = 0, seconds = 0 }) {
    const steps = [];
    const mine = (kind, count) => {
      if (count <= 0) return;
      this.#mineEmpty(kind, count);
      const last = steps[steps.length - 1];
      if (last && last[0] === kind) last[1] += count;
      else steps.push([kind, count]);
    };
    mine("stacks", blocks);
    const target = Number(this.simnet.getBlockTime()) + seconds;
    // A burn block moves the clock about 600 s (less while it catches up with Stacks blocks that
    // ran ahead); finish with 10 s Stacks blocks. Converges in two or three rounds.
    for (let left = seconds; left > 0; left = target - Number(this.simnet.getBlockTime())) {
      if (left >= SECONDS_PER_BURN_BLOCK) mine("burn", Math.floor(left / SECONDS_PER_BURN_BLOCK));
      else mine("stacks", Math.ceil(left / SECONDS_PER_STACKS_BLOCK));
    }
    this.log.append({ kind: "advance", steps });
    return steps;
  }

  #mineEmpty(kind, count) {
    if (kind === "burn") this.simnet.mineEmptyBurnBlocks(count);
    else this.simnet.mineEmptyStacksBlocks(count);
  }

  // ---- views ---------------------------------------------------------------------------------

  /** POST /v2/contracts/call-read: { okay, result } or { okay: false, cause }. */
  async callReadOnly(contractId, functionName, args, sender) {
    const iface = this.contractInterface(contractId);
    if (!iface) return { okay: false, cause: `Unchecked(NoSuchContract("${contractId}"))` };
    const fn = iface.functions.find((f) => f.name === functionName);
    if (!fn || fn.access === "private") return { okay: false, cause: `Unchecked(UndefinedFunction("${functionName}"))` };
    if (fn.access !== "read_only") {
      return { okay: false, cause: `${functionName} is a public function: the devnet evaluates read-only functions only; send a transaction instead` };
    }
    const why = argumentsMismatch(fn, args);
    if (why) return { okay: false, cause: `Unchecked(TypeValueError: ${why})` };
    try {
      const { result, costs } = this.simnet.callReadOnlyFn(contractId, functionName, args, sender);
      const reads = costs?.total?.readCount ?? 0;
      if (this.readOnlyReads && reads > this.readOnlyReads) {
        return { okay: false, cause: `Unchecked(CostBalanceExceeded(read_count ${reads} > the node's read-only limit ${this.readOnlyReads}))` };
      }
      return { okay: true, result: cvToHex(result) };
    } catch (e) {
      const cause = String(e?.message ?? e);
      if (PANIC.test(cause)) await this.#rebuild(true);
      return { okay: false, cause };
    }
  }

  /** The value of a data var, or null when the contract has no such variable. */
  dataVar(contractId, name) {
    const v = this.contractInterface(contractId)?.variables.find((x) => x.name === name && x.access === "variable");
    return v ? cvToHex(this.simnet.getDataVar(contractId, name)) : null;
  }

  /** { data } (a serialized optional), { missing } when there is no such map, { badKey } on a type mismatch. */
  mapEntry(contractId, mapName, key) {
    const map = this.contractInterface(contractId)?.maps.find((m) => m.name === mapName);
    if (!map) return { missing: true };
    const why = typeMismatch(map.key, key);
    if (why) return { badKey: why };
    try {
      return { data: cvToHex(this.simnet.getMapEntry(contractId, mapName, key)) };
    } catch (e) {
      // simnet throws for an absent key where a node answers (none)
      if (/value not found/i.test(String(e?.message ?? e))) return { data: cvToHex(Cl.none()) };
      throw e;
    }
  }


  nonceOf(principal) {
    return this.nonces.get(principal) ?? 0;
  }

  balanceOf(principal) {
    return this.simnet.getAssetsMap().get("STX")?.get(principal) ?? 0n;
  }

  contractInterface(contractId) {
    if (!this.interfaces) this.interfaces = this.simnet.getContractsInterfaces();
    return this.interfaces.get(contractId) ?? null;
  }

  contractSource(contractId) {
    return this.contractInterface(contractId) ? this.simnet.getContractSource(contractId) : null;
  }

  publishHeight(contractId) {
    return this.publishHeights.get(contractId) ?? 1;
  }

  record(txid) {
    return this.records.get(txid) ?? null;
  }

  tip() {
    return this.#block();
  }

  accounts() {
    return this.simnet.getAccounts();
  }

  get feeRecipient() {
    return FEE_RECIPIENT;
  }

  close() {
    if (this.timer) clearInterval(this.timer);
    this.log.close();
  }
}
