// The named devnet accounts of settings/Devnet.toml with their keys. The mnemonics are public
// test mnemonics, so the keys are served to local clients (GET /devnet/accounts).
import crypto from "node:crypto";
import fs from "node:fs";
import { privateKeyToAddress } from "@stacks/transactions";

const CURVE_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const DEFAULT_PATH = "m/44'/5757'/0'/0/0";

/** [{ name, mnemonic, derivation }] from the [accounts.*] tables (the only part the devnet reads). */
export function readDevnetAccounts(tomlPath) {
  const accounts = [];
  let current = null;
  for (const raw of fs.readFileSync(tomlPath, "utf8").split("\n")) {
    const line = raw.replace(/#.*$/, "").trim();
    const table = line.match(/^\[accounts\.([A-Za-z0-9_-]+)\]$/);
    if (table) {
      current = { name: table[1], mnemonic: null, derivation: DEFAULT_PATH };
      accounts.push(current);
      continue;
    }
    if (line.startsWith("[")) {
      current = null;
      continue;
    }
    const kv = line.match(/^(mnemonic|derivation)\s*=\s*"([^"]*)"$/);
    if (current && kv) current[kv[1]] = kv[2];
  }
  return accounts;
}

const hmac512 = (key, data) => crypto.createHmac("sha512", key).update(data).digest();
const toBig = (buf) => BigInt("0x" + buf.toString("hex"));
const to32 = (n) => Buffer.from(n.toString(16).padStart(64, "0"), "hex");

/** BIP-39 seed + BIP-32 derivation; returns the compressed-form Stacks private key (hex + "01"). */
export function privateKeyFromMnemonic(mnemonic, derivation = DEFAULT_PATH) {
  const seed = crypto.pbkdf2Sync(mnemonic.normalize("NFKD"), "mnemonic", 2048, 64, "sha512");
  let I = hmac512("Bitcoin seed", seed);
  let key = toBig(I.subarray(0, 32));
  let chain = I.subarray(32);
  for (const part of derivation.split("/").slice(1)) {
    const hardened = part.endsWith("'");
    const index = (Number.parseInt(part, 10) + (hardened ? 0x80000000 : 0)) >>> 0;
    const indexBytes = Buffer.alloc(4);
    indexBytes.writeUInt32BE(index);
    const data = hardened
      ? Buffer.concat([Buffer.alloc(1), to32(key), indexBytes])
      : Buffer.concat([publicKeyOf(to32(key)), indexBytes]);
    I = hmac512(chain, data);
    key = (toBig(I.subarray(0, 32)) + key) % CURVE_N;
    chain = I.subarray(32);
  }
  return to32(key).toString("hex") + "01";
}

function publicKeyOf(privateKey32) {
  const ecdh = crypto.createECDH("secp256k1");
  ecdh.setPrivateKey(privateKey32);
  return ecdh.getPublicKey(null, "compressed");
}

/**
 * The accounts the simnet funded, with keys where the mnemonic derives the same address.
 * `simnetAccounts` is simnet.getAccounts() (name → address).
 */
export function devnetAccounts(tomlPath, simnetAccounts) {
  const fromToml = new Map(readDevnetAccounts(tomlPath).map((a) => [a.name, a]));
  const out = [];
  for (const [name, address] of simnetAccounts) {
    const entry = { name, address };
    const spec = fromToml.get(name);
    if (spec?.mnemonic) {
      const key = privateKeyFromMnemonic(spec.mnemonic, spec.derivation);
      if (privateKeyToAddress(key, "testnet") === address) {
        Object.assign(entry, { mnemonic: spec.mnemonic, derivation: spec.derivation, private_key: key });
      } else {
        process.stderr.write(`devnet: the mnemonic of ${name} does not derive ${address}; its key is not served\n`);
      }
    }
    out.push(entry);
  }
  const order = (n) => (n === "deployer" ? "" : n);
  return out.sort((a, b) => order(a.name).localeCompare(order(b.name)));
}
