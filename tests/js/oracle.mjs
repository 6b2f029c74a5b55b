// A reference oracle: runs @stacks/transactions on requests from the Python tests.
// Protocol: one JSON object per line on stdin {id, op, ...}; one reply per line {id, ok, result | error}.
import readline from "node:readline";
import {
  Cl, serializeCV, deserializeCV, makeContractCall, makeSTXTokenTransfer, makeContractDeploy,
  makeUnsignedContractCall, deserializeTransaction, TransactionSigner, privateKeyToAddress,
  privateKeyToPublic, signMessageHashRsv, publicKeyFromSignatureRsv, addressToString,
  createAddress, sponsorTransaction,
} from "@stacks/transactions";
import { hashMessage, verifyMessageSignatureRsv } from "@stacks/encryption";
import { generateWallet } from "@stacks/wallet-sdk";
import { bytesToHex } from "@stacks/common";
import { c32address } from "c32check";

// ---- Clarity values <-> tagged JSON (the same shape as tests/stacks_oracle.py) ----
function toCV(j) {
  switch (j.t) {
    case "int": return Cl.int(BigInt(j.v));
    case "uint": return Cl.uint(BigInt(j.v));
    case "bool": return Cl.bool(j.v);
    case "buffer": return Cl.bufferFromHex(j.v);
    case "ascii": return Cl.stringAscii(j.v);
    case "utf8": return Cl.stringUtf8(j.v);
    case "principal": return Cl.principal(j.v);
    case "none": return Cl.none();
    case "some": return Cl.some(toCV(j.v));
    case "ok": return Cl.ok(toCV(j.v));
    case "err": return Cl.error(toCV(j.v));
    case "list": return Cl.list(j.v.map(toCV));
    case "tuple": return Cl.tuple(Object.fromEntries(Object.entries(j.v).map(([k, x]) => [k, toCV(x)])));
    default: throw new Error(`unknown tag ${j.t}`);
  }
}

function fromCV(cv) {
  switch (cv.type) {
    case "int": return { t: "int", v: cv.value.toString() };
    case "uint": return { t: "uint", v: cv.value.toString() };
    case "true": return { t: "bool", v: true };
    case "false": return { t: "bool", v: false };
    case "buffer": return { t: "buffer", v: cv.value };
    case "ascii": return { t: "ascii", v: cv.value };
    case "utf8": return { t: "utf8", v: cv.value };
    case "address": case "contract": return { t: "principal", v: cv.value };
    case "none": return { t: "none" };
    case "some": return { t: "some", v: fromCV(cv.value) };
    case "ok": return { t: "ok", v: fromCV(cv.value) };
    case "err": return { t: "err", v: fromCV(cv.value) };
    case "list": return { t: "list", v: cv.value.map(fromCV) };
    case "tuple": return { t: "tuple", v: Object.fromEntries(Object.entries(cv.value).map(([k, x]) => [k, fromCV(x)])) };
    default: throw new Error(`unknown CV type ${cv.type}`);
  }
}

function postConditions(list = []) {
  return list.map((pc) => (pc.assetId ? { ...pc, assetId: toCV(pc.assetId) } : pc));
}

function common(r) {
  return {
    nonce: BigInt(r.nonce), fee: BigInt(r.fee), network: r.network ?? "testnet",
    postConditions: postConditions(r.postConditions), postConditionMode: r.postConditionMode ?? "deny",
    ...(r.sponsored ? { sponsored: true } : {}),
  };
}

async function buildTx(r) {
  const key = r.privateKey ? { senderKey: r.privateKey } : { publicKey: r.publicKey };
  switch (r.kind) {
    case "contract_call": {
      const opts = { contractAddress: r.contractAddress, contractName: r.contractName, functionName: r.functionName,
        functionArgs: r.args.map(toCV), validateWithAbi: false, ...common(r), ...key };
      return r.privateKey ? makeContractCall(opts) : makeUnsignedContractCall(opts);
    }
    case "stx_transfer":
      return makeSTXTokenTransfer({ recipient: r.recipient, amount: BigInt(r.amount), memo: r.memo ?? "", ...common(r), ...key });
    case "deploy":
      return makeContractDeploy({ contractName: r.contractName, codeBody: r.code, clarityVersion: r.clarityVersion,
        ...common(r), ...key });
    default: throw new Error(`unknown tx kind ${r.kind}`);
  }
}

const ops = {
  "cv.serialize": (r) => serializeCV(toCV(r.value)),
  "cv.serialize_many": (r) => r.values.map((v) => serializeCV(toCV(v))),
  "cv.deserialize": (r) => fromCV(deserializeCV(r.hex)),
  "tx.build": async (r) => { const tx = await buildTx(r); return { hex: tx.serialize(), txid: tx.txid() }; },
  "tx.deserialize": (r) => { const tx = deserializeTransaction(r.hex); return { hex: tx.serialize(), txid: tx.txid() }; },
  "tx.sign": (r) => {
    const tx = deserializeTransaction(r.hex);
    new TransactionSigner(tx).signOrigin(r.privateKey);
    return { hex: tx.serialize(), txid: tx.txid() };
  },
  "tx.sponsor": async (r) => {
    const tx = await sponsorTransaction({ transaction: deserializeTransaction(r.hex), sponsorPrivateKey: r.privateKey,
      fee: BigInt(r.fee), sponsorNonce: BigInt(r.nonce), network: r.network ?? "testnet" });
    return { hex: tx.serialize(), txid: tx.txid() };
  },
  "tx.verify": (r) => { const tx = deserializeTransaction(r.hex); return new TransactionSigner(tx).sigHash ? tx.verifyOrigin() : null; },
  "key.info": (r) => ({ publicKey: privateKeyToPublic(r.privateKey), address: privateKeyToAddress(r.privateKey, r.network) }),
  "c32.address": (r) => c32address(r.version, r.hash160),
  "c32.decode": (r) => { const a = createAddress(r.address); return { version: a.version, hash160: a.hash160, back: addressToString(a) }; },
  "message.sign": (r) => signMessageHashRsv({ messageHash: bytesToHex(hashMessage(r.message)), privateKey: r.privateKey }),
  "message.verify": (r) => verifyMessageSignatureRsv({ message: r.message, signature: r.signature, publicKey: r.publicKey }),
  "message.recover": (r) => publicKeyFromSignatureRsv(bytesToHex(hashMessage(r.message)), r.signature),
  "wallet.derive": async (r) => {
    const wallet = await generateWallet({ secretKey: r.mnemonic, password: "" });
    const { generateNewAccount } = await import("@stacks/wallet-sdk");
    let w = wallet;
    while (w.accounts.length <= r.index) w = generateNewAccount(w);
    return w.accounts[r.index].stxPrivateKey;
  },
  // Throughput of the same work the Python bench does, timed here so the ratio compares like with like.
  "bench": async (r) => {
    const value = toCV(r.value);
    const hex = serializeCV(value);
    let t = performance.now();
    for (let i = 0; i < r.n; i++) serializeCV(value);
    const serializeSecs = (performance.now() - t) / 1000;
    t = performance.now();
    for (let i = 0; i < r.n; i++) deserializeCV(hex);
    const deserializeSecs = (performance.now() - t) / 1000;
    t = performance.now();
    for (let i = 0; i < r.nSign; i++) {
      await makeContractCall({ contractAddress: r.contractAddress, contractName: "render-farm", functionName: "create-job",
        functionArgs: [value], senderKey: r.privateKey, nonce: BigInt(i), fee: 1000n, network: "testnet",
        postConditionMode: "deny", validateWithAbi: false });
    }
    const signSecs = (performance.now() - t) / 1000;
    return { serializeSecs, deserializeSecs, signSecs };
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  let id = null;
  try {
    const req = JSON.parse(line);
    id = req.id;
    const result = await ops[req.op](req);
    process.stdout.write(JSON.stringify({ id, ok: true, result }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ id, ok: false, error: String(e?.message ?? e) }) + "\n");
  }
});
