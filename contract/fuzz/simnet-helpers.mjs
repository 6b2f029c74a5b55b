// Small helpers shared by the smoke check, the cost bench and the rendezvous runner.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const CONTRACT_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

// The clarinet-sdk the local chain uses (contract/node_modules, 3.21.x). This package pins 3.12.0
// for rendezvous, and the two write incompatible deployment plans, so everything except the
// rendezvous run loads the project's own SDK and uses contract/ directly.
export function projectSdk() {
  return createRequire(join(CONTRACT_DIR, "package.json"))("@stacks/clarinet-sdk");
}

export async function initProjectSimnet() {
  return projectSdk().initSimnet(join(CONTRACT_DIR, "Clarinet.toml"));
}

// Compressed public keys of the Devnet.toml accounts (BIP-44 m/44'/5757'/0'/0/0), by address.
// register-provider checks the key against the caller, so tests need the caller's real key.
export const DEVNET_PUBLIC_KEYS = {
  ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM: "0390a5cac7c33fda49f70bc1b0866fa0ba7a9440d9de647fecb8132ceb76a94dfa", // deployer
  ST1SJ3DTE5DN7X54YDH5D64R3BCB6A2AG2ZQ8YPD5: "03cd2cfdbd2ad9332828a7a13ef62cb999e063421c708e863a7ffed71fb61c88c9", // wallet_1
  ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG: "021843d01fa0bb9a3495fd2caf92505a81055dbe1fd545880fd40c3a1c7fd9c40a", // wallet_2
  ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC: "02c4b5eacb71a27be633ed970dcbc41c00440364bc04ba38ae4683ac24e708bf33", // wallet_3
  ST2NEB84ASENDXKYGJPQW86YXQCEFEX2ZQPG87ND: "03b3e0a76b292b2c83fc0ac14ae6160d0438ebe94e14bbb5b7755153628886e08e", // wallet_4
  ST2REHHS5J3CERCRBEPMGH7921Q6PYKAADT7JP2VB: "039fa3c9b2c98acc46563707702ee633141b2c125b85649e11548a30233f97ed9f", // wallet_5
};

export const sha256 = (bytes) => new Uint8Array(createHash("sha256").update(bytes).digest());

// Simnet time: every mined Stacks block adds 10 s to stacks-block-time, every burn block 600 s.
// Mine enough empty burn blocks to move the chain clock forward by at least `seconds`.
export function advanceSeconds(simnet, seconds) {
  const burnBlocks = Math.ceil(seconds / 600);
  simnet.mineEmptyBurnBlocks(burnBlocks);
  return burnBlocks;
}

// A Clarity value as plain JS: uint/int -> BigInt, buffers -> hex, optionals -> value or null,
// tuples -> objects, lists -> arrays, responses -> { ok } or { err }.
export function plain(cv) {
  switch (cv.type) {
    case "uint": case "int": return BigInt(cv.value);
    case "true": return true;
    case "false": return false;
    case "buffer": case "address": case "contract": case "ascii": case "utf8": return cv.value;
    case "none": return null;
    case "some": return plain(cv.value);
    case "ok": return { ok: plain(cv.value) };
    case "err": return { err: plain(cv.value) };
    case "list": return cv.value.map(plain);
    case "tuple": return Object.fromEntries(Object.entries(cv.value).map(([k, v]) => [k, plain(v)]));
    default: throw new Error(`unknown Clarity value type ${cv.type}`);
  }
}
