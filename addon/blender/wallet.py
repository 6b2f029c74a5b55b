"""Wallet tasks run on the worker: find, create or import, unlock, read the balance, local faucet.

Each is `task(emit, …)` for worker.start / worker.run_blocking. The key is sealed by addon.farm.keystore
(scrypt + AES-GCM) in the add-on's user folder; only its address is ever shown. An unlocked key travels
to the session in a WalletUnlocked message, in memory only.
"""

from pathlib import Path

import httpx

from ..farm import keystore
from . import messages as m

WALLET_FILE = "wallet.json"
FAUCET_AMOUNT = 1_000 * 1_000_000  # µSTX the local chain's faucet mints per press


def wallet_path(home: Path) -> Path:
    return Path(home) / WALLET_FILE


def keystore_network(network: str) -> str:
    """The local chain uses testnet addresses."""
    return "mainnet" if network == "mainnet" else "testnet"


def find(emit, home: Path) -> str:
    path = wallet_path(home)
    if not path.exists():
        emit(m.WalletChanged(None))
        return ""
    found = keystore.load_keystore(path)
    emit(m.WalletChanged(found.address, found.network))
    return ""


def create(emit, home: Path, passphrase: str, network: str, *, words: str = "", private_key: str = "") -> str:
    """A new wallet (fresh 24 words, shown once) or one imported from words or a private key."""
    from mnemonic import Mnemonic

    fresh = not words and not private_key
    if fresh:
        words = Mnemonic("english").generate(strength=256)
    created = keystore.create_keystore(wallet_path(home), passphrase, mnemonic=words or None,
                                       private_key=private_key or None, network=keystore_network(network))
    emit(m.WalletChanged(created.address, created.network))
    unlocked = created.unlock(passphrase)
    emit(m.WalletUnlocked(created.address, unlocked.private_key))
    if fresh:
        emit(m.BackupWords(words))
        return f"Wallet {created.address} created: write down its 24 words now (shown once)"
    return f"Wallet {created.address} imported"


def unlock(emit, home: Path, passphrase: str) -> str:
    found = keystore.load_keystore(wallet_path(home))
    unlocked = found.unlock(passphrase)  # WrongPassphrase says so clearly
    emit(m.WalletUnlocked(found.address, unlocked.private_key))
    return f"Wallet {found.address} unlocked for this session"


def read_balance(emit, endpoints, address: str) -> str:
    with endpoints.client(timeout=10) as node:
        emit(m.BalanceRead(address, node.get_balance(address)))
    return ""


def faucet(emit, node_url: str, address: str, amount: int = FAUCET_AMOUNT) -> str:
    """Mint STX on the local chain (its /devnet/faucet endpoint); no other network has one."""
    try:
        response = httpx.post(f"{node_url.rstrip('/')}/devnet/faucet", json={"address": address, "amount": amount},
                              timeout=10)
    except httpx.HTTPError as exc:
        raise ConnectionError(f"the local chain at {node_url} did not answer ({exc}); start it with "
                              "`python -m server devnet`") from None
    if response.status_code != 200:
        raise ConnectionError(f"the local chain refused the faucet request: {response.text[:200]}")
    emit(m.BalanceRead(address, int(response.json()["balance"])))
    return f"Received {amount / 1e6:g} STX from the local chain's faucet"
