#!/usr/bin/env node
// Quick end-to-end check of render-farm.clar on simnet: every public function's happy path, the
// main failure paths, the deadlines and the conservation invariant after each step.
// Usage: node contract/fuzz/smoke.mjs   (prints one line per step; exits 1 on the first failure)
import assert from "node:assert/strict";
import { Cl } from "@stacks/transactions";
import { DEVNET_PUBLIC_KEYS, advanceSeconds, initProjectSimnet, plain, sha256 } from "./simnet-helpers.mjs";

const simnet = await initProjectSimnet();
const accounts = simnet.getAccounts();
const [requester, provA, provB, other] = ["wallet_1", "wallet_2", "wallet_3", "wallet_4"].map((n) => accounts.get(n));
const C = "render-farm";

const call = (fn, args, sender) => simnet.callPublicFn(C, fn, args, sender).result;
const read = (fn, args = []) => plain(simnet.callReadOnlyFn(C, fn, args, requester).result);
const ok = (fn, args, sender) => {
  const r = call(fn, args, sender);
  assert.equal(r.type, "ok", `${fn} expected ok, got err ${r.type === "err" ? plain(r.value) : r.type}`);
  return plain(r.value);
};
const fails = (code, fn, args, sender) => {
  const r = call(fn, args, sender);
  assert.equal(r.type, "err", `${fn} expected err u${code}, got ok`);
  assert.equal(plain(r.value), BigInt(code), `${fn} expected err u${code}`);
};
const conserve = (step) => {
  const t = read("get-totals");
  assert.equal(t.balance, t.escrow + t.earnings + t.bonds, `conservation broken after ${step}`);
  console.log(`ok  ${step.padEnd(40)} balance=${t.balance} escrow=${t.escrow} earnings=${t.earnings} bonds=${t.bonds}`);
};
const hash = (byte) => Cl.buffer(new Uint8Array(32).fill(byte));
const register = (who, gpus = 2n, bond = 100_000_000n) =>
  ok("register-provider", [Cl.bufferFromHex(DEVNET_PUBLIC_KEYS[who]), Cl.uint(gpus), Cl.uint(24576), Cl.uint(1000), Cl.uint(10), Cl.uint(bond)], who);
const createJob = (provider, reward = 5_000_000n, duration = 600n, minRep = 0n) =>
  ok("create-job", [Cl.principal(provider), Cl.uint(reward), Cl.uint(1000), Cl.uint(duration), Cl.uint(minRep), hash(1), Cl.uint(1), Cl.uint(10), Cl.stringAscii("http://127.0.0.1:8700")], requester);
const job = (id) => read("get-job", [Cl.uint(id)]);

// Providers
fails(103, "register-provider", [Cl.bufferFromHex(DEVNET_PUBLIC_KEYS[provB]), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(10_000_000)], provA);
fails(102, "register-provider", [Cl.buffer(new Uint8Array(33)), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(10_000_000)], provA);
fails(107, "register-provider", [Cl.bufferFromHex(DEVNET_PUBLIC_KEYS[provA]), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(1)], provA);
fails(104, "register-provider", [Cl.bufferFromHex(DEVNET_PUBLIC_KEYS[provA]), Cl.uint(65), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(10_000_000)], provA);
register(provA);
register(provB, 1n);
fails(100, "register-provider", [Cl.bufferFromHex(DEVNET_PUBLIC_KEYS[provA]), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(1), Cl.uint(10_000_000)], provA);
assert.equal(read("get-provider", [Cl.principal(provA)]).reputation, 100n);
conserve("register-provider x2");
ok("update-resources", [Cl.uint(4), Cl.uint(24576), Cl.uint(1200), Cl.uint(10)], provA);
ok("add-bond", [Cl.uint(5_000_000)], provA);
ok("withdraw-bond", [Cl.uint(5_000_000)], provA);
fails(108, "withdraw-bond", [Cl.uint(95_000_000)], provA);
fails(101, "set-availability", [Cl.bool(false)], other);
conserve("update/add-bond/withdraw-bond");

// Happy path with explicit approval
fails(127, "create-job", [Cl.principal(provA), Cl.uint(100), Cl.uint(1000), Cl.uint(600), Cl.uint(0), hash(1), Cl.uint(1), Cl.uint(10), Cl.stringAscii("")], requester);
fails(125, "create-job", [Cl.principal(provA), Cl.uint(5_000_000), Cl.uint(1000), Cl.uint(600), Cl.uint(0), hash(1), Cl.uint(1), Cl.uint(10), Cl.stringAscii("")], provA);
fails(122, "create-job", [Cl.principal(provA), Cl.uint(5_000_000), Cl.uint(1000), Cl.uint(600), Cl.uint(101), hash(1), Cl.uint(1), Cl.uint(10), Cl.stringAscii("")], requester);
const j1 = createJob(provA);
conserve("create-job");
fails(142, "start-job", [Cl.uint(j1)], provB);
ok("start-job", [Cl.uint(j1)], provA);
const r = new Uint8Array(32).fill(7);
ok("submit-result", [Cl.uint(j1), hash(9), Cl.buffer(sha256(r))], provA);
fails(155, "claim", [Cl.uint(j1), Cl.buffer(r)], provA);
fails(141, "approve-result", [Cl.uint(j1)], other);
ok("approve-result", [Cl.uint(j1)], requester);
fails(157, "claim", [Cl.uint(j1), Cl.buffer(new Uint8Array(32))], provA);
ok("claim", [Cl.uint(j1), Cl.buffer(r)], provA);
assert.equal(job(j1).status, 4n);
assert.equal(read("get-provider", [Cl.principal(provA)]).reputation, 110n);
assert.equal(read("get-success-rate", [Cl.principal(provA)]), 100n);
conserve("start/submit/approve/claim");
fails(170, "withdraw", [Cl.uint(5_000_001)], provA);
ok("withdraw", [Cl.uint(5_000_000)], provA);
conserve("withdraw");

// Silent approval: claim after the review window
const j2 = createJob(provA);
ok("start-job", [Cl.uint(j2)], provA);
ok("submit-result", [Cl.uint(j2), hash(9), Cl.buffer(sha256(r))], provA);
advanceSeconds(simnet, 86_400 + 1);
fails(154, "approve-result", [Cl.uint(j2)], requester);
ok("claim", [Cl.uint(j2), Cl.buffer(r)], provA);
conserve("silent approval + claim");

// Rejection, then reassignment to another provider, who does not start: no-show reassign back
const j3 = createJob(provA);
ok("start-job", [Cl.uint(j3)], provA);
ok("submit-result", [Cl.uint(j3), hash(9), Cl.buffer(sha256(r))], provA);
ok("reject-result", [Cl.uint(j3)], requester);
assert.equal(read("get-requester-stats", [Cl.principal(requester)]).rejections, 1n);
ok("reassign-job", [Cl.uint(j3), Cl.principal(provB), hash(2)], requester);
fails(152, "reassign-job", [Cl.uint(j3), Cl.principal(provA), hash(3)], requester);
advanceSeconds(simnet, 3601);
fails(151, "start-job", [Cl.uint(j3)], provB);
ok("reassign-job", [Cl.uint(j3), Cl.principal(provA), hash(3)], requester);
assert.equal(read("get-provider", [Cl.principal(provB)]).reputation, 50n);
assert.equal(job(j3).attempts, 3n);
conserve("reject + reassign + no-show reassign");

// Expiry while rendering: refund + compensation
fails(150, "expire-job", [Cl.uint(j3)], other);
ok("start-job", [Cl.uint(j3)], provA);
advanceSeconds(simnet, 2 * 600 + 1);
fails(153, "submit-result", [Cl.uint(j3), hash(9), Cl.buffer(sha256(r))], provA);
ok("expire-job", [Cl.uint(j3)], other);
fails(149, "expire-job", [Cl.uint(j3)], other);
conserve("expire (render deadline)");

// Decline, cancel, batch of 50
const j4 = createJob(provB);
ok("decline-job", [Cl.uint(j4)], provB);
ok("cancel-job", [Cl.uint(j4)], requester);
fails(147, "cancel-job", [Cl.uint(j4)], requester);
ok("update-resources", [Cl.uint(50), Cl.uint(24576), Cl.uint(1200), Cl.uint(10)], provA);
const chunks = Array.from({ length: 50 }, (_, i) => Cl.tuple({
  provider: Cl.principal(provA), reward: Cl.uint(1_000_000), complexity: Cl.uint(1000),
  "estimated-duration": Cl.uint(600), "scene-hash": hash(i), "frame-start": Cl.uint(i * 10 + 1), "frame-end": Cl.uint(i * 10 + 10),
}));
const batch = ok("create-jobs", [Cl.list(chunks), Cl.uint(0), Cl.stringAscii("http://127.0.0.1:8700")], requester);
assert.equal(batch["job-count"], 50n);
assert.equal(read("get-requester-job-ids", [Cl.principal(requester), Cl.uint(0)]).length, 50);
conserve("decline + cancel + create-jobs(50)");
fails(109, "deregister-provider", [], provA);
ok("deregister-provider", [], provB);
register(provB);
assert.equal(read("get-provider", [Cl.principal(provB)]).reputation, 50n, "re-registering keeps reputation");
conserve("deregister + re-register");
console.log("smoke: all checks passed");
