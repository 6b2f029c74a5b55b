// The endpoints: the Stacks node RPC (/v2) and API (/extended) subset our clients use, plus
// devnet-only controls (/devnet). Shapes follow stacks-core and the stacks-blockchain-api.
import fs from "node:fs";
import { validateStacksAddress } from "@stacks/transactions";
import { u128Hex } from "./admission.mjs";
import { devnetAccounts } from "./accounts.mjs";
import { blockHash, transactionJson } from "./apishapes.mjs";
import { hexToCV } from "./clarity.mjs";
import { BadRequest, NotFound } from "./errors.mjs";

const PACKAGE = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
const SDK_VERSION = PACKAGE.dependencies["@stacks/clarinet-sdk"];
const TESTNET_NETWORK_ID = 0x80000000;
const TESTNET_PARENT_NETWORK_ID = 0x0709110b; // bitcoin testnet
const MAX_FAUCET_USTX = 10n ** 15n; // a billion STX per call
const MAX_ADVANCE_BLOCKS = 100_000;
const MAX_ADVANCE_SECONDS = 366 * 24 * 3600;

const CONTRACT_NAME = /^[a-zA-Z]([a-zA-Z0-9]|[-_]){0,127}$/;
const P = "(?<principal>[^/]+)";
const C = "(?<address>[^/]+)/(?<contract>[^/]+)";

/** A standard ("ST…") or contract ("ST….name") principal, else a clear 400. */
function principal(text, what = "principal") {
  const [address, name, extra] = String(text).split(".");
  if (!validateStacksAddress(address) || extra !== undefined || (name !== undefined && !CONTRACT_NAME.test(name))) {
    throw new BadRequest(`${what} ${JSON.stringify(text)} is not a Stacks principal (ST… address, or ST….contract-name)`);
  }
  return text;
}

function contractId(params) {
  principal(params.address, "contract address");
  if (!CONTRACT_NAME.test(params.contract)) throw new BadRequest(`${JSON.stringify(params.contract)} is not a contract name`);
  return `${params.address}.${params.contract}`;
}

/** A positive whole number given as a JSON number or a decimal string. */
function wholeNumber(value, what, { min = 0n, max }) {
  let n;
  if (typeof value === "number" && Number.isSafeInteger(value)) n = BigInt(value);
  else if (typeof value === "string" && /^\d+$/.test(value)) n = BigInt(value);
  else throw new BadRequest(`${what} must be a whole number (JSON number or decimal string), got ${JSON.stringify(value)}`);
  if (n < min || n > max) throw new BadRequest(`${what} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function transactionBytes(request) {
  if (request.contentType === "application/octet-stream") return request.body;
  if (request.contentType === "application/json") {
    const body = request.json();
    if (!isObject(body) || typeof body.tx !== "string" || !/^(0x)?([0-9a-fA-F]{2})*$/.test(body.tx)) {
      throw new BadRequest('a JSON transaction body must be {"tx": "<hex of the signed transaction>"}');
    }
    return Buffer.from(body.tx.replace(/^0x/, ""), "hex");
  }
  throw new BadRequest(
    `Content-Type ${JSON.stringify(request.contentType || "(none)")} is not accepted for a transaction; send application/octet-stream (raw bytes) or application/json {"tx": "<hex>"}`,
  );
}

function info(chain) {
  const tip = chain.tip();
  const consensus = blockHash(-tip.burnHeight).slice(2, 42);
  return {
    peer_version: 0xfacade0b,
    pox_consensus: consensus,
    burn_block_height: tip.burnHeight,
    stable_pox_consensus: consensus,
    stable_burn_block_height: tip.burnHeight,
    server_version: `stacks-devnet (simnet of @stacks/clarinet-sdk ${SDK_VERSION})`,
    network_id: TESTNET_NETWORK_ID,
    parent_network_id: TESTNET_PARENT_NETWORK_ID,
    stacks_tip_height: tip.height,
    stacks_tip: blockHash(tip.height).slice(2),
    stacks_tip_consensus_hash: consensus,
    genesis_chainstate_hash: blockHash(0).slice(2),
    unanchored_tip: null,
    unanchored_seq: null,
    tenure_height: tip.burnHeight,
    exit_at_block_height: null,
    is_fully_synced: true,
  };
}

/** The route table for `chain` (every handler runs inside chain.serial). */
export function routes(chain) {
  const r = (method, path, handler) => ({ method, path: new RegExp(`^${path}$`), handler: (req) => chain.serial(() => handler(req)) });
  return [
    r("GET", "/v2/info", () => ({ body: info(chain) })),

    r("GET", `/v2/accounts/${P}`, ({ params }) => {
      const who = principal(params.principal);
      return { body: { balance: u128Hex(chain.balanceOf(who)), locked: u128Hex(0), unlock_height: 0, nonce: chain.nonceOf(who) } };
    }),

    r("GET", `/extended/v1/address/${P}/nonces`, ({ params }) => {
      const who = principal(params.principal);
      const mined = chain.nonceOf(who);
      const next = chain.nextNonceOf(who);
      const waiting = [];
      for (let n = mined; n < next; n++) waiting.push(n);
      return {
        body: {
          last_mempool_tx_nonce: next > mined ? next - 1 : null,
          last_executed_tx_nonce: mined > 0 ? mined - 1 : null,
          possible_next_nonce: next,
          detected_missing_nonces: [],
          detected_mempool_nonces: waiting,
        },
      };
    }),

    r("GET", `/extended/v1/address/${P}/stx`, ({ params }) => {
      const who = principal(params.principal);
      return { body: { balance: chain.balanceOf(who).toString(), locked: "0", lock_tx_id: "", lock_height: 0, burnchain_lock_height: 0, burnchain_unlock_height: 0 } };
    }),

    r("POST", "/v2/transactions", async (request) => {
      const { txid, rejection } = await chain.submitTransaction(transactionBytes(request));
      return rejection ? { status: 400, body: rejection } : { body: txid };
    }),

    r("GET", "/extended/v1/tx/(?<txid>[^/]+)", ({ params }) => {
      const id = params.txid.replace(/^0x/, "").toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(id)) throw new BadRequest(`${JSON.stringify(params.txid)} is not a transaction ID (64 hex digits, optionally 0x-prefixed)`);
      const record = chain.record(id);
      const waiting = !record && chain.pending(id);
      if (waiting) {
        return { body: { tx_id: "0x" + id, tx_status: "pending", nonce: Number(waiting.nonce), fee_rate: String(waiting.fee), sender_address: waiting.sender, tx_type: waiting.kind } };
      }
      const dropped = !record && chain.dropped.get(id);
      if (dropped) {
        return { body: { tx_id: "0x" + id, tx_status: "dropped_problematic", reason: dropped.reason, reason_data: dropped.reason_data ?? null } };
      }
      if (!record) throw new NotFound("could not find transaction by ID", { tx_id: "0x" + id });
      return { body: transactionJson(record) };
    }),

    r("POST", `/v2/contracts/call-read/${C}/(?<fn>[^/]+)`, async (request) => {
      const id = contractId(request.params);
      const body = request.json();
      if (!isObject(body) || typeof body.sender !== "string" || !Array.isArray(body.arguments)) {
        throw new BadRequest('the body must be {"sender": "<principal>", "arguments": ["0x<serialized Clarity value>", …]}');
      }
      const sender = principal(body.sender, "sender");
      const args = body.arguments.map((a, i) => hexToCV(a, `arguments[${i}]`));
      return { body: await chain.callReadOnly(id, request.params.fn, args, sender) };
    }),

    r("GET", `/v2/data_var/${C}/(?<name>[^/]+)`, ({ params }) => {
      const data = chain.dataVar(contractId(params), params.name);
      if (data === null) throw new NotFound(`Data var not found: ${params.name} in ${params.address}.${params.contract}`);
      return { body: { data } };
    }),

    r("POST", `/v2/map_entry/${C}/(?<map>[^/]+)`, (request) => {
      const id = contractId(request.params);
      const key = request.json();
      if (typeof key !== "string") throw new BadRequest('the body must be a JSON string: "0x<serialized Clarity key>"');
      const entry = chain.mapEntry(id, request.params.map, hexToCV(key, "map key"));
      if (entry.missing) throw new NotFound(`Map not found: ${request.params.map} in ${id}`);
      if (entry.badKey) throw new BadRequest(`the key does not fit map ${request.params.map}: ${entry.badKey}`);
      return { body: { data: entry.data } };
    }),

    r("GET", `/v2/contracts/interface/${C}`, ({ params }) => {
      const iface = chain.contractInterface(contractId(params));
      if (!iface) throw new NotFound(`No contract interface data found for ${params.address}.${params.contract}`);
      return { body: iface };
    }),

    r("GET", `/v2/contracts/source/${C}`, ({ params }) => {
      const id = contractId(params);
      const source = chain.contractSource(id);
      if (source == null) throw new NotFound(`No contract source data found for ${id}`);
      return { body: { source, publish_height: chain.publishHeight(id) } };
    }),

    r("POST", "/v2/fees/transaction", (request) => {
      const body = request.json();
      if (!isObject(body) || typeof body.transaction_payload !== "string" || !/^(0x)?([0-9a-fA-F]{2})+$/.test(body.transaction_payload)) {
        throw new BadRequest('the body must be {"transaction_payload": "0x<serialized payload>", "estimated_len": <bytes, optional>}');
      }
      const payloadLen = body.transaction_payload.replace(/^0x/, "").length / 2;
      const estimatedLen = body.estimated_len === undefined ? 0n : wholeNumber(body.estimated_len, "estimated_len", { max: 10n ** 7n });
      // Room for the auth, post-conditions and header the payload does not include.
      const length = Math.max(Number(estimatedLen), payloadLen + 250);
      return {
        body: {
          estimated_cost: { write_length: 0, write_count: 0, read_length: 0, read_count: 0, runtime: 0 },
          estimated_cost_scalar: 1,
          cost_scalar_change_by_byte: 0.00476837158203125,
          estimations: [1, 2, 4].map((rate) => ({ fee_rate: rate, fee: rate * length })),
        },
      };
    }),

    r("GET", "/v2/fees/transfer", () => ({ body: 1 })),

    r("GET", "/extended/v2/blocks/latest", () => {
      const tip = chain.tip();
      const iso = new Date(tip.time * 1000).toISOString();
      return {
        body: {
          canonical: true,
          height: tip.height,
          hash: blockHash(tip.height),
          index_block_hash: blockHash(tip.height),
          parent_block_hash: blockHash(tip.height - 1),
          block_time: tip.time,
          block_time_iso: iso,
          burn_block_height: tip.burnHeight,
          burn_block_time: tip.time,
          burn_block_time_iso: iso,
        },
      };
    }),

    // ---- devnet only ----

    r("POST", "/devnet/faucet", (request) => {
      const body = request.json();
      if (!isObject(body)) throw new BadRequest('the body must be {"address": "ST…", "amount": <µSTX>}');
      const address = principal(body.address, "address");
      if (!/^S[TN]/.test(address)) throw new BadRequest(`${address} is a mainnet address; the devnet funds testnet addresses (ST… or SN…)`);
      // simnet's mint panics on a contract principal: fund a contract with an STX transfer instead.
      if (address.includes(".")) throw new BadRequest(`${address} is a contract; the faucet funds standard addresses — send the contract STX with a transfer transaction`);
      const amount = wholeNumber(body.amount, "amount (µSTX)", { min: 1n, max: MAX_FAUCET_USTX });
      chain.faucet(address, amount);
      return { body: { address, amount: amount.toString(), balance: chain.balanceOf(address).toString() } };
    }),

    r("POST", "/devnet/advance", (request) => {
      const body = request.json();
      if (!isObject(body)) throw new BadRequest('the body must be {"blocks": <n>} and/or {"seconds": <n>}');
      const blocks = body.blocks === undefined ? 0n : wholeNumber(body.blocks, "blocks", { max: BigInt(MAX_ADVANCE_BLOCKS) });
      const seconds = body.seconds === undefined ? 0n : wholeNumber(body.seconds, "seconds", { max: BigInt(MAX_ADVANCE_SECONDS) });
      if (blocks === 0n && seconds === 0n) throw new BadRequest('nothing to advance: give "blocks" and/or "seconds" greater than 0');
      const before = chain.tip();
      const steps = chain.advance({ blocks: Number(blocks), seconds: Number(seconds) });
      const tip = chain.tip();
      const count = (kind) => steps.filter(([k]) => k === kind).reduce((n, [, c]) => n + c, 0);
      return {
        body: {
          burn_blocks: count("burn"),
          stacks_blocks: count("stacks"),
          stacks_tip_height: tip.height,
          burn_block_height: tip.burnHeight,
          block_time: tip.time,
          seconds_advanced: tip.time - before.time,
        },
      };
    }),

    r("GET", "/devnet/accounts", () => {
      const accounts = devnetAccounts(chain.devnetToml, chain.accounts()).map((a) => ({ ...a, balance: chain.balanceOf(a.address).toString() }));
      return { body: { accounts, fee_recipient: chain.feeRecipient } };
    }),
  ];
}

