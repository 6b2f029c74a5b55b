"""Fixtures for tests that need the local chain (contract/devnet).

Import them into tests/conftest.py:  from tests.conftest_devnet import devnet, devnet_accounts, devnet_client
The chain is shared by the whole session: build every transaction with a fresh nonce
(client.get_nonce), or fund a fresh key with devnet.faucet for an account of your own.
"""

import pytest

from server.devnet import Devnet

# One devnet per test process even when a test module imports these fixtures itself as well.
_shared: dict = {}


@pytest.fixture(scope="session")
def devnet():
    """A running in-memory devnet (server.devnet.Devnet): .url, .accounts(), .faucet(), .advance()."""
    if "devnet" in _shared:
        yield _shared["devnet"]
        return
    instance = Devnet().start()
    _shared["devnet"] = instance
    try:
        yield instance
    finally:
        _shared.pop("devnet", None)
        instance.stop()


@pytest.fixture(scope="session")
def devnet_accounts(devnet) -> dict:
    """name → {"address", "private_key", "mnemonic", "balance"} for deployer and wallet_1..5."""
    return {a["name"]: a for a in devnet.accounts()}


@pytest.fixture(scope="session")
def devnet_client(devnet):
    """addon.stacks.api.StacksClient talking to the devnet."""
    from addon.stacks.api import StacksClient

    with StacksClient("devnet", api_url=devnet.url) as client:
        yield client
