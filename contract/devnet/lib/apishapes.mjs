// What the Stacks blockchain API returns for a mined transaction (GET /extended/v1/tx/{txid}),
// built from a devnet transaction record.
import crypto from "node:crypto";
import {
  FungibleConditionCode,
  NonFungibleConditionCode,
  PostConditionMode,
  PostConditionPrincipalId,
  PostConditionType,
  addressToString,
} from "@stacks/transactions";
import { cvToHex, functionSignature, hexToCV, reprCV, typeToString } from "./clarity.mjs";

/** Deterministic stand-in for a block hash (simnet does not expose its own). */
export const blockHash = (height) => "0x" + crypto.createHash("sha256").update(`devnet-block-${height}`).digest("hex");
const iso = (seconds) => new Date(seconds * 1000).toISOString();
const clarityValue = (hex) => ({ hex, repr: reprCV(hexToCV(hex)) });

const FUNGIBLE_CODES = {
  [FungibleConditionCode.Equal]: "sent_equal_to",
  [FungibleConditionCode.Greater]: "sent_greater_than",
  [FungibleConditionCode.GreaterEqual]: "sent_greater_than_or_equal_to",
  [FungibleConditionCode.Less]: "sent_less_than",
  [FungibleConditionCode.LessEqual]: "sent_less_than_or_equal_to",
};
const NFT_CODES = {
  [NonFungibleConditionCode.Sends]: "sent",
  [NonFungibleConditionCode.DoesNotSend]: "not_sent",
  [NonFungibleConditionCode.MaybeSent]: "maybe_sent",
};
const MODES = { [PostConditionMode.Allow]: "allow", [PostConditionMode.Deny]: "deny", [PostConditionMode.Originator]: "originator" };

function principalJson(p) {
  if (p.prefix === PostConditionPrincipalId.Origin) return { type_id: "principal_origin" };
  if (p.prefix === PostConditionPrincipalId.Standard) return { type_id: "principal_standard", address: addressToString(p.address) };
  return { type_id: "principal_contract", address: addressToString(p.address), contract_name: p.contractName.content };
}

const assetJson = (a) => ({ asset_name: a.assetName.content, contract_address: addressToString(a.address), contract_name: a.contractName.content });

function postConditionJson(pc) {
  const principal = principalJson(pc.principal);
  switch (pc.conditionType) {
    case PostConditionType.STX:
      return { type: "stx", principal, condition_code: FUNGIBLE_CODES[pc.conditionCode], amount: String(pc.amount) };
    case PostConditionType.Fungible:
      return { type: "fungible", principal, condition_code: FUNGIBLE_CODES[pc.conditionCode], amount: String(pc.amount), asset: assetJson(pc.asset) };
    case PostConditionType.NonFungible: {
      const hex = cvToHex(pc.assetName);
      return { type: "non_fungible", principal, condition_code: NFT_CODES[pc.conditionCode], asset_value: clarityValue(hex), asset: assetJson(pc.asset) };
    }
    default:
      return { type: "unknown", principal };
  }
}

function eventJson(e, index, txId) {
  const base = { event_index: index, tx_id: txId };
  const d = e.data;
  switch (e.event) {
    case "print_event":
      return { ...base, event_type: "smart_contract_log", contract_log: { contract_id: d.contract_identifier, topic: d.topic, value: clarityValue(d.raw_value) } };
    case "stx_transfer_event":
      return { ...base, event_type: "stx_asset", asset: { asset_event_type: "transfer", sender: d.sender, recipient: d.recipient, amount: String(d.amount), memo: d.memo ? "0x" + d.memo : "" } };
    case "stx_mint_event":
      return { ...base, event_type: "stx_asset", asset: { asset_event_type: "mint", sender: "", recipient: d.recipient, amount: String(d.amount) } };
    case "stx_burn_event":
      return { ...base, event_type: "stx_asset", asset: { asset_event_type: "burn", sender: d.sender, recipient: "", amount: String(d.amount) } };
    case "stx_lock_event":
      return { ...base, event_type: "stx_lock", stx_lock_event: { locked_amount: String(d.locked_amount), unlock_height: Number(d.unlock_height), locked_address: d.locked_address } };
    case "ft_transfer_event":
    case "ft_mint_event":
    case "ft_burn_event":
      return {
        ...base,
        event_type: "fungible_token_asset",
        asset: { asset_event_type: e.event.split("_")[1], asset_id: d.asset_identifier, sender: d.sender ?? "", recipient: d.recipient ?? "", amount: String(d.amount) },
      };
    case "nft_transfer_event":
    case "nft_mint_event":
    case "nft_burn_event":
      return {
        ...base,
        event_type: "non_fungible_token_asset",
        asset: { asset_event_type: e.event.split("_")[1], asset_id: d.asset_identifier, sender: d.sender ?? "", recipient: d.recipient ?? "", value: clarityValue(d.raw_value) },
      };
    default:
      return { ...base, event_type: e.event, data: d };
  }
}

function payloadJson(d, fn) {
  switch (d.kind) {
    case "token_transfer":
      return { token_transfer: { recipient_address: d.recipient, amount: String(d.amount), memo: d.memoHex } };
    case "contract_call":
      return {
        contract_call: {
          contract_id: d.contractId,
          function_name: d.functionName,
          function_signature: fn ? functionSignature(fn) : "",
          function_args: d.args.map((cv, i) => ({
            hex: cvToHex(cv),
            repr: reprCV(cv),
            name: fn?.args[i]?.name ?? "",
            type: fn?.args[i] ? typeToString(fn.args[i].type) : "",
          })),
        },
      };
    case "smart_contract":
      return { smart_contract: { clarity_version: d.clarityVersion, contract_id: d.contractId, source_code: d.code } };
  }
  return {};
}

/** The API's transaction object for a record kept by the chain. */
export function transactionJson(record) {
  const { d, block } = record;
  const txId = "0x" + d.txid;
  const events = record.events.map((e, i) => eventJson(e, i, txId));
  const cost = record.costs?.total ?? {};
  return {
    tx_id: txId,
    nonce: Number(d.nonce),
    fee_rate: String(d.fee),
    sender_address: d.sender,
    sponsored: false,
    post_condition_mode: MODES[d.tx.postConditionMode],
    post_conditions: d.tx.postConditions.values.map(postConditionJson),
    anchor_mode: "any",
    block_hash: blockHash(block.height),
    block_height: block.height,
    block_time: block.time,
    block_time_iso: iso(block.time),
    burn_block_height: block.burnHeight,
    burn_block_time: block.time,
    burn_block_time_iso: iso(block.time),
    parent_burn_block_time: block.time,
    parent_burn_block_time_iso: iso(block.time),
    parent_block_hash: blockHash(block.height - 1),
    canonical: true,
    tx_index: 1, // index 0 of the block is the fee transfer (see execute.mjs)
    tx_status: record.status,
    tx_result: { hex: cvToHex(record.result), repr: reprCV(record.result) },
    vm_error: record.vmError ?? null,
    event_count: events.length,
    events,
    is_unanchored: false,
    microblock_hash: "",
    microblock_sequence: 2147483647,
    microblock_canonical: true,
    execution_cost_read_count: cost.readCount ?? 0,
    execution_cost_read_length: cost.readLength ?? 0,
    execution_cost_runtime: cost.runtime ?? 0,
    execution_cost_write_count: cost.writeCount ?? 0,
    execution_cost_write_length: cost.writeLength ?? 0,
    tx_type: d.kind,
    ...payloadJson(d, record.function),
  };
}
