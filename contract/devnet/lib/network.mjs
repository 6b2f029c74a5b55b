// Testnet constants of the Stacks wire format (SIP-005), which the devnet speaks.
export const TESTNET_CHAIN_ID = 0x80000000;
export const TX_VERSION_MAINNET = 0x00;
export const TX_VERSION_TESTNET = 0x80;
export const ADDRESS_VERSION = { mainnetSingleSig: 22, mainnetMultiSig: 20, testnetSingleSig: 26, testnetMultiSig: 21 };
