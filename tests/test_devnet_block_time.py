"""`python -m server devnet --block-time S`: transactions wait as pending until the next block, as on
testnet, and quick submissions through the transaction journal still get distinct nonces."""

import subprocess
import sys
import time

import pytest

from addon.farm.tx_journal import TxJournal
from addon.stacks import keys
from addon.stacks import transactions as T
from addon.stacks.api import StacksClient
from addon.stacks.errors import TransactionRejected
from server.devnet import ROOT, Devnet

BLOCK_TIME = 1.5


@pytest.fixture(scope="module")
def slow_chain():
    with Devnet(block_time=BLOCK_TIME) as devnet:
        with StacksClient("devnet", api_url=devnet.url, timeout=10) as client:
            yield devnet, client


def funded(devnet) -> tuple[str, str]:
    key = keys.make_private_key()
    address = keys.address_from_private_key(key, "testnet")
    devnet.faucet(address, 10_000_000)
    return key, address


def test_transactions_wait_for_the_next_block(slow_chain):
    devnet, client = slow_chain
    key, address = funded(devnet)
    recipient = funded(devnet)[1]
    first = client.broadcast(T.make_stx_transfer(recipient, 1_000, private_key=key, nonce=0, fee=500))
    # The next nonce counts the waiting transaction, so a second one right after does not collide.
    assert client.get_nonce(address) == 1
    second = client.broadcast(T.make_stx_transfer(recipient, 2_000, private_key=key, nonce=1, fee=500))
    assert client.get_transaction(first)["tx_status"] == "pending"
    assert client.get_account(address).nonce == 0  # nothing mined yet
    with pytest.raises(TransactionRejected, match="BadNonce|nonce"):
        client.broadcast(T.make_stx_transfer(recipient, 3_000, private_key=key, nonce=1, fee=600))
    started = time.monotonic()
    assert client.wait_for_tx(second, timeout=10, poll=0.1).status == "success"
    waited = time.monotonic() - started
    assert client.wait_for_tx(first, timeout=1).status == "success"
    assert 0 < waited <= BLOCK_TIME + 1.0
    assert client.get_balance(recipient) == 10_000_000 + 3_000


def test_quick_journal_writes_do_not_collide(slow_chain, tmp_path):
    devnet, client = slow_chain
    key, address = funded(devnet)
    recipient = funded(devnet)[1]
    journal = TxJournal(tmp_path / "journal.sqlite")
    txids = [journal.send(client, address, "transfer",
                          lambda nonce, amount=amount: T.make_stx_transfer(recipient, amount, private_key=key,
                                                                           nonce=nonce, fee=500),
                          key=f"transfer-{amount}") for amount in (1, 2, 3)]
    assert [e.nonce for e in journal.pending(address)] == [0, 1, 2]
    for txid in txids:
        assert client.wait_for_tx(txid, timeout=10, poll=0.1).status == "success"
    journal.close()


def test_bad_block_time_is_refused():
    result = subprocess.run([sys.executable, "-m", "server", "devnet", "--memory", "--block-time", "-1"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--block-time must be 0 to 3600 seconds" in result.stderr
