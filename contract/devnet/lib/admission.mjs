// Mempool admission: the checks a Stacks node makes before it accepts a transaction
// (stacks-core can_include_tx), in the same order and with the same rejection reasons.
import { NonFungibleConditionCode, PostConditionMode, PostConditionType } from "@stacks/transactions";
import { ADDRESS_VERSION, TESTNET_CHAIN_ID, TX_VERSION_TESTNET } from "./network.mjs";
import { argumentsMismatch } from "./argtypes.mjs";
import { UndecodableTransaction, decodeTransaction } from "./txdecode.mjs";

const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const TESTNET_VERSIONS = new Set([ADDRESS_VERSION.testnetSingleSig, ADDRESS_VERSION.testnetMultiSig]);
const MIN_FEE_RATE = 1n; // µSTX per byte, stacks-core MINIMUM_TX_FEE_RATE_PER_BYTE

export const minimumFee = (byteLength) => BigInt(byteLength) * MIN_FEE_RATE;
export const u128Hex = (n) => "0x" + BigInt(n).toString(16).padStart(32, "0");

const versionOf = (address) => {
  const c = address.split(".")[0][1];
  return { P: ADDRESS_VERSION.mainnetSingleSig, M: ADDRESS_VERSION.mainnetMultiSig, T: ADDRESS_VERSION.testnetSingleSig, N: ADDRESS_VERSION.testnetMultiSig }[c];
};
const isTestnetAddress = (address) => TESTNET_VERSIONS.has(versionOf(address));

class Rejection extends Error {
  constructor(reason, reasonData) {
    super(reason);
    this.reason = reason;
    this.reasonData = reasonData;
  }
}

function rejectionBody(txid, e) {
  const body = { error: "transaction rejected", reason: e.reason, txid };
  if (e.reasonData !== undefined) body.reason_data = e.reasonData;
  return body;
}

/** Signature, chain id and epoch-dependent features (stacks-core process_transaction_precheck). */
function precheck(d, chain) {
  const { tx } = d;
  if (d.sponsored) {
    throw new Rejection("ServerFailureOther", { message: "sponsored transactions are not supported by the devnet: send it unsponsored (the sender pays the fee)" });
  }
  if (!d.singleSig) {
    throw new Rejection("ServerFailureOther", { message: "multisig origins are not supported by the devnet: sign with a single key" });
  }
  try {
    tx.verifyOrigin();
  } catch (e) {
    throw new Rejection("SignatureValidation", { message: `signature does not match the sender: ${e.message}` });
  }
  const sig = tx.auth.spendingCondition.signature.data;
  if (BigInt("0x" + sig.slice(66, 130)) > SECP256K1_HALF_N) {
    throw new Rejection("SignatureValidation", { message: "high-S signature: the mempool only admits low-S signatures" });
  }
  if (tx.chainId !== TESTNET_CHAIN_ID) {
    throw new Rejection("SignatureValidation", { message: `invalid chain ID ${tx.chainId} (expected ${TESTNET_CHAIN_ID})` });
  }
  const sip040 = chain.epoch >= 3.4;
  if (tx.postConditionMode === PostConditionMode.Originator && !sip040) {
    throw new Rejection("SignatureValidation", { message: "Originator post-condition mode is not supported before Stacks 3.4" });
  }
  for (const pc of tx.postConditions.values) {
    if (pc.conditionType === PostConditionType.NonFungible && pc.conditionCode === NonFungibleConditionCode.MaybeSent && !sip040) {
      throw new Rejection("SignatureValidation", { message: "NFT MaybeSent post-condition is not supported before Stacks 3.4" });
    }
    if (pc.conditionType === PostConditionType.Staking || pc.conditionType === PostConditionType.PoX) {
      throw new Rejection("SignatureValidation", { message: "Staking/Pox post-condition is not supported before Stacks 4.0" });
    }
  }
  if (d.kind === "smart_contract" && d.clarityVersion !== null && d.clarityVersion > chain.maxClarityVersion) {
    throw new Rejection("SignatureValidation", {
      message: `asks for Clarity ${d.clarityVersion}, but epoch ${chain.epoch} only supports up to Clarity ${chain.maxClarityVersion}`,
    });
  }
}

function checkPayloadShape(d) {
  if (d.kind === "coinbase") throw new Rejection("NoCoinbaseViaMempool");
  if (d.kind === "tenure_change") throw new Rejection("NoTenureChangeViaMempool");
  if (!["token_transfer", "contract_call", "smart_contract"].includes(d.kind)) {
    throw new Rejection("ServerFailureOther", { message: `${d.kind} transactions are not accepted via the mempool` });
  }
  if (d.kind === "token_transfer") {
    if (d.recipient === d.sender) throw new Rejection("TransferRecipientCannotEqualSender", { recipient: d.recipient });
    if (d.amount === 0n) throw new Rejection("TransferAmountMustBePositive");
    if (!isTestnetAddress(d.recipient)) throw new Rejection("BadAddressVersionByte");
    // A node refuses to mine these (stacks-core: "TokenTransfer transactions do not support
    // post-conditions"); refuse them up front rather than keep them pending forever.
    if (d.tx.postConditions.values.length > 0) {
      throw new Rejection("ServerFailureOther", { message: "TokenTransfer transactions do not support post-conditions: send it without any" });
    }
  }
}

function checkPayloadAgainstState(d, chain, balance) {
  if (d.kind === "token_transfer") {
    const total = d.amount + d.fee;
    if (total > balance) throw new Rejection("NotEnoughFunds", { expected: u128Hex(total), actual: u128Hex(balance) });
    if (d.amount > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Rejection("ServerFailureOther", { message: "the devnet executes transfers of at most 2^53-1 µSTX" });
    }
  } else if (d.kind === "contract_call") {
    if (!isTestnetAddress(d.contractAddress)) throw new Rejection("BadAddressVersionByte");
    const iface = chain.contractInterface(d.contractId);
    if (!iface) throw new Rejection("NoSuchContract");
    const fn = iface.functions.find((f) => f.name === d.functionName && f.access === "public");
    if (!fn) throw new Rejection("NoSuchPublicFunction");
    const why = argumentsMismatch(fn, d.args);
    if (why) throw new Rejection("BadFunctionArgument", { message: why });
    d.function = fn;
  } else if (d.kind === "smart_contract") {
    if (chain.contractInterface(d.contractId)) {
      throw new Rejection("ContractAlreadyExists", { contract_identifier: d.contractId });
    }
  }
}

/**
 * Decide whether raw bytes may enter the chain. `chain` answers nonceOf, balanceOf,
 * contractInterface(id), epoch (number) and maxClarityVersion.
 * Returns { admitted } or { rejection } (the node's 400 body).
 */
export function admit(bytes, chain) {
  let d;
  try {
    d = decodeTransaction(bytes);
  } catch (e) {
    if (!(e instanceof UndecodableTransaction)) throw e;
    return { rejection: { error: "transaction rejected", reason: "Deserialization", reason_data: { message: e.message }, txid: "" } };
  }
  try {
    if (d.tx.transactionVersion !== TX_VERSION_TESTNET) throw new Rejection("BadTransactionVersion");
    checkPayloadShape(d);
    precheck(d, chain);
    const minFee = minimumFee(d.byteLength);
    if (d.fee < minFee) throw new Rejection("FeeTooLow", { expected: Number(minFee), actual: Number(d.fee) });
    if (d.fee > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Rejection("ServerFailureOther", { message: "the devnet accepts fees of at most 2^53-1 µSTX" });
    }
    const expected = chain.nonceOf(d.sender);
    if (d.nonce !== BigInt(expected)) {
      throw new Rejection("BadNonce", { expected, actual: Number(d.nonce), principal: d.sender, is_origin: true });
    }
    const balance = chain.balanceOf(d.sender);
    if (d.kind !== "token_transfer" && d.fee > balance) {
      throw new Rejection("NotEnoughFunds", { expected: u128Hex(d.fee), actual: u128Hex(balance) });
    }
    checkPayloadAgainstState(d, chain, balance);
  } catch (e) {
    if (!(e instanceof Rejection)) throw e;
    return { rejection: rejectionBody(d.txid, e) };
  }
  return { admitted: d };
}
