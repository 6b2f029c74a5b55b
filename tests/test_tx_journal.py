"""The transaction journal on the real local chain: recorded before broadcast, nonces that do not collide,
and a restart (a new journal on the same file) that neither forgets nor double-sends a transaction."""

import hashlib
import threading

import pytest

from addon.farm import contract_errors as E
from addon.farm.contract import RenderFarm
from addon.farm.tx_journal import DROPPED, FAILED, PENDING, REJECTED, SUCCESS, TxJournal
from addon.stacks import clarity as c
from addon.stacks.api import StacksClient
from addon.stacks.errors import NetworkError, TransactionRejected
from addon.stacks.transactions import make_contract_call
from server.relay.local import free_port
from tests.farm_world import BOND, STX

pytestmark = pytest.mark.usefixtures("conservation")


def journaled(farm, path) -> RenderFarm:
    return RenderFarm(farm.client, farm.contract_id, journal=TxJournal(path))


def add_bond_tx(farm, account, amount):
    """A builder for add-bond as RenderFarm signs it (used to record a transaction without sending it)."""
    from addon.stacks.postconditions import stx_post_condition

    def build(nonce):
        return make_contract_call(farm.contract_address, farm.contract_name, "add-bond", [c.UInt(amount)],
                                  private_key=account.private_key, nonce=nonce, fee=10_000,
                                  network=farm.client.network,
                                  post_conditions=[stx_post_condition("origin", "lte", amount)])
    return build


def bond_key(amount):
    return "add-bond:" + hashlib.sha256(c.serialize(c.UInt(amount))).hexdigest()


def test_writes_are_recorded_and_settled(world, farm, tmp_path):
    provider = world.provider()
    jfarm = journaled(farm, tmp_path / "j.sqlite")
    jfarm.set_availability(provider.private_key, False)
    jfarm.add_bond(provider.private_key, STX)
    entries = jfarm.journal.entries()
    assert [(e.function, e.status) for e in entries] == [("set-availability", SUCCESS), ("add-bond", SUCCESS)]
    assert entries[1].nonce == entries[0].nonce + 1
    assert farm.get_provider(provider.address).bond == BOND + STX
    assert farm.client.get_transaction(entries[1].txid)["tx_status"] == "success"


def test_quick_submissions_from_one_address_do_not_collide(world, farm, tmp_path):
    provider = world.provider()
    jfarm = journaled(farm, tmp_path / "j.sqlite")
    errors = []

    def bond(amount):
        try:
            jfarm.add_bond(provider.private_key, amount)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
    threads = [threading.Thread(target=bond, args=(STX + i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    nonces = sorted(e.nonce for e in jfarm.journal.entries())
    assert nonces == list(range(nonces[0], nonces[0] + 5))
    assert farm.get_provider(provider.address).bond == BOND + sum(STX + i for i in range(5))


def test_restart_before_broadcast_rebroadcasts_the_same_bytes(world, farm, tmp_path):
    """Killed after the journal write but before the broadcast: the restart sends that very transaction."""
    provider = world.provider()
    path = tmp_path / "j.sqlite"
    journal = TxJournal(path)
    entry, new = journal.prepare(farm.client, provider.address, "add-bond", add_bond_tx(farm, provider, STX),
                                 key=bond_key(STX))
    assert new and journal.pending()[0].txid == entry.txid
    journal.close()  # "crash"
    assert farm.client.get_transaction(entry.txid) is None

    restarted = TxJournal(path)
    outcomes = restarted.recover(farm.client)
    assert [(e.txid, what) for e, what in outcomes] == [(entry.txid, "rebroadcast")]
    farm.client.wait_for_tx(entry.txid)
    assert [(e.txid, what) for e, what in restarted.recover(farm.client)] == [(entry.txid, SUCCESS)]
    assert restarted.pending() == []
    assert farm.get_provider(provider.address).bond == BOND + STX


def test_restart_after_broadcast_does_not_send_again(world, farm, tmp_path):
    """Killed after the broadcast but before the result was read: the restart only settles it, and a
    retry of the same call (same key) while it is pending reuses it instead of paying twice."""
    provider = world.provider()
    path = tmp_path / "j.sqlite"
    journal = TxJournal(path)
    entry, _ = journal.prepare(farm.client, provider.address, "add-bond", add_bond_tx(farm, provider, 2 * STX),
                               key=bond_key(2 * STX))
    journal.broadcast(farm.client, entry)
    journal.close()  # "crash" before settling
    nonce_after = farm.client.get_nonce(provider.address)

    restarted = journaled(farm, path)
    # The agent retries the call it was making: the pending entry with the same key is reused.
    restarted.add_bond(provider.private_key, 2 * STX)
    assert farm.client.get_nonce(provider.address) == nonce_after  # nothing new was sent
    assert [(e.txid, e.status) for e in restarted.journal.entries()] == [(entry.txid, SUCCESS)]
    assert farm.get_provider(provider.address).bond == BOND + 2 * STX


def test_node_unreachable_leaves_it_pending_then_recovered(world, farm, tmp_path):
    provider = world.provider()
    journal = TxJournal(tmp_path / "j.sqlite")
    entry, _ = journal.prepare(farm.client, provider.address, "add-bond", add_bond_tx(farm, provider, 3 * STX),
                               key=bond_key(3 * STX))
    with StacksClient("devnet", api_url=f"http://127.0.0.1:{free_port()}", timeout=2) as down:
        with pytest.raises(NetworkError, match="cannot reach"):
            journal.broadcast(down, entry)
        with pytest.raises(NetworkError):
            journal.recover(down)
    assert journal.get(entry.txid).status == PENDING
    assert [what for _, what in journal.recover(farm.client)] == ["rebroadcast"]
    farm.client.wait_for_tx(entry.txid)
    assert farm.get_provider(provider.address).bond == BOND + 3 * STX


def test_a_nonce_taken_by_another_transaction_is_dropped(world, farm, tmp_path):
    provider = world.provider()
    journal = TxJournal(tmp_path / "j.sqlite")
    entry, _ = journal.prepare(farm.client, provider.address, "add-bond", add_bond_tx(farm, provider, STX),
                               key=bond_key(STX))
    farm.set_availability(provider.private_key, False)  # another wallet with the same key uses that nonce
    assert [what for _, what in journal.recover(farm.client)] == [DROPPED]
    assert journal.get(entry.txid).status == DROPPED
    # The next journaled write takes the node's next nonce, not one after the dropped entry.
    jfarm = RenderFarm(farm.client, farm.contract_id, journal=journal)
    jfarm.add_bond(provider.private_key, STX)
    assert farm.get_provider(provider.address).bond == BOND + STX


def test_refused_transaction_is_marked_and_its_nonce_reused(world, farm, tmp_path):
    provider = world.provider()
    journal = TxJournal(tmp_path / "j.sqlite")
    balance = farm.client.get_balance(provider.address)
    broke = RenderFarm(farm.client, farm.contract_id, fee=balance * 2, journal=journal)  # a fee it cannot pay
    with pytest.raises(TransactionRejected, match="NotEnoughFunds"):
        broke.add_bond(provider.private_key, STX)
    refused = journal.entries()[0]
    assert refused.status == REJECTED and "NotEnoughFunds" in refused.detail
    jfarm = RenderFarm(farm.client, farm.contract_id, journal=journal)
    with pytest.raises(E.InsufficientFunds):  # mined but aborted by the contract: the nonce is used
        jfarm.add_bond(provider.private_key, balance * 2)
    aborted = journal.entries()[1]
    assert aborted.nonce == refused.nonce and aborted.status == FAILED
    jfarm.add_bond(provider.private_key, STX)
    assert journal.entries()[2].nonce == aborted.nonce + 1 and journal.entries()[2].status == SUCCESS
