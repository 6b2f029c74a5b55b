// Raw transaction bytes → the facts the devnet needs (sender, nonce, fee, what the payload does).
import {
  AddressHashMode,
  AuthType,
  PayloadType,
  addressFromVersionHash,
  addressHashModeToVersion,
  addressToString,
  deserializeTransaction,
  isSingleSig,
  serializeMemoStringBytes,
} from "@stacks/transactions";
import { TX_VERSION_MAINNET } from "./network.mjs";

export class UndecodableTransaction extends Error {}

const PAYLOAD_KINDS = {
  [PayloadType.TokenTransfer]: "token_transfer",
  [PayloadType.ContractCall]: "contract_call",
  [PayloadType.SmartContract]: "smart_contract",
  [PayloadType.VersionedSmartContract]: "smart_contract",
  [PayloadType.PoisonMicroblock]: "poison_microblock",
  [PayloadType.Coinbase]: "coinbase",
  [PayloadType.CoinbaseToAltRecipient]: "coinbase",
  [PayloadType.NakamotoCoinbase]: "coinbase",
  [PayloadType.TenureChange]: "tenure_change",
};

/** Deserialize; the bytes must be exactly one canonical transaction (its txid depends on it). */
export function decodeTransaction(bytes) {
  let tx;
  try {
    tx = deserializeTransaction(bytes);
  } catch (e) {
    throw new UndecodableTransaction(`could not deserialize the transaction: ${e.message}`);
  }
  const again = tx.serializeBytes();
  if (again.length !== bytes.length || !Buffer.from(again).equals(Buffer.from(bytes))) {
    throw new UndecodableTransaction(
      `the body holds ${bytes.length} bytes but the transaction serializes to ${again.length}: trailing or non-canonical bytes`,
    );
  }
  const network = tx.transactionVersion === TX_VERSION_MAINNET ? "mainnet" : "testnet";
  const origin = tx.auth.spendingCondition;
  const sender = addressToString(addressFromVersionHash(addressHashModeToVersion(origin.hashMode, network), origin.signer));
  const decoded = {
    tx,
    txid: tx.txid(),
    hex: Buffer.from(bytes).toString("hex"),
    byteLength: bytes.length,
    sender,
    nonce: origin.nonce,
    fee: origin.fee,
    sponsored: tx.auth.authType === AuthType.Sponsored,
    singleSig: isSingleSig(origin),
    p2pkh: origin.hashMode === AddressHashMode.P2PKH,
    kind: PAYLOAD_KINDS[tx.payload.payloadType] ?? "unknown",
  };
  const p = tx.payload;
  if (decoded.kind === "token_transfer") {
    decoded.recipient = p.recipient.value;
    decoded.amount = p.amount;
    decoded.memoHex = "0x" + Buffer.from(serializeMemoStringBytes(p.memo)).toString("hex");
  } else if (decoded.kind === "contract_call") {
    decoded.contractAddress = addressToString(p.contractAddress);
    decoded.contractId = `${decoded.contractAddress}.${p.contractName.content}`;
    decoded.functionName = p.functionName.content;
    decoded.args = p.functionArgs;
  } else if (decoded.kind === "smart_contract") {
    decoded.contractName = p.contractName.content;
    decoded.contractId = `${sender}.${decoded.contractName}`;
    decoded.code = p.codeBody.content;
    decoded.clarityVersion = p.payloadType === PayloadType.VersionedSmartContract ? p.clarityVersion : null;
  }
  return decoded;
}
