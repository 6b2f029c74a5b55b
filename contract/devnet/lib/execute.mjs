// Execute an admitted transaction as its sender, in one new block, on the simnet.
// Simnet charges no fees, so the fee is a real STX transfer to FEE_RECIPIENT placed first in the
// same block (a node debits the fee before running the payload, too).
import { Cl } from "@stacks/transactions";

/** Where fees go: the testnet boot address, standing in for the miner. */
export const FEE_RECIPIENT = "ST000000000000000000002AMW42H";

const feeTx = (d) => ({ transferSTX: { amount: Number(d.fee), recipient: FEE_RECIPIENT, sender: d.sender } });

function payloadTx(d, clarityVersionForEpoch) {
  switch (d.kind) {
    case "token_transfer":
      return { transferSTX: { amount: Number(d.amount), recipient: d.recipient, sender: d.sender } };
    case "contract_call":
      return { callPublicFn: { contract: d.contractId, method: d.functionName, args: d.args, sender: d.sender } };
    case "smart_contract":
      // An unversioned deploy gets the epoch's default Clarity version, as on a node.
      return {
        deployContract: {
          name: d.contractName,
          content: d.code,
          options: { clarityVersion: d.clarityVersion ?? clarityVersionForEpoch },
          sender: d.sender,
        },
      };
  }
  throw new Error(`cannot execute a ${d.kind} transaction`);
}

/**
 * Mine the fee and the payload in one block.
 * Returns { result, events, costs } or { runtimeError } when the VM aborted the payload (the caller
 * must then rebuild the state: simnet may have kept partial effects).
 */
export function executeInBlock(simnet, d, clarityVersionForEpoch) {
  try {
    const [, outcome] = simnet.mineBlock([feeTx(d), payloadTx(d, clarityVersionForEpoch)]);
    return { result: outcome.result, events: outcome.events, costs: outcome.costs };
  } catch (e) {
    return { runtimeError: String(e?.message ?? e) };
  }
}

/** Mine only the fee: how a transaction whose payload was aborted ends up on chain. */
export function executeFeeOnly(simnet, d) {
  simnet.mineBlock([feeTx(d)]);
}

/** The value a node records for a payload that failed at runtime. */
export const ERR_NONE = Cl.error(Cl.none());
