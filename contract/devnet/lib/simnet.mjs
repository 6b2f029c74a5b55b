// Boot a simnet session that replays identically: Clarinet starts the chain clock at the wall
// clock, so the session is created under a fixed clock (the genesis time stored in the state log).
import { getSDK } from "@stacks/clarinet-sdk";

let sdk = null;

/** Run `fn` while `new Date()` and `Date.now()` return `ms`. */
async function withClock(ms, fn) {
  const RealDate = globalThis.Date;
  class FixedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(ms);
      else super(...args);
    }
    static now() {
      return ms;
    }
  }
  globalThis.Date = FixedDate;
  try {
    return await fn();
  } finally {
    globalThis.Date = RealDate;
  }
}

/**
 * A simnet with every contract of the manifest deployed, genesis at `genesisMs`.
 * `fresh` makes a new SDK object: needed after a panic inside the WASM left the old one unusable.
 */
export async function bootSimnet({ manifestPath, genesisMs, fresh = false }) {
  if (!sdk || fresh) sdk = await getSDK({ trackCosts: true, trackCoverage: false });
  await withClock(genesisMs, () => sdk.initSession(process.cwd(), manifestPath, null));
  return sdk;
}

/** The simnet's chatter (print events, deployment notes) goes to console.*; keep stdout clean. */
export function silenceConsole() {
  const noop = () => {};
  console.log = noop;
  console.info = noop;
  console.warn = noop;
  console.error = noop;
  console.debug = noop;
}

/** "Clarity 4" → 4 */
export const clarityVersionNumber = (name) => Number(String(name).match(/\d+/)[0]);
