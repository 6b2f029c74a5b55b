"""What must never happen on the contract: a failed post-condition leaving a trace, STX pulled through an
intermediary contract, an error code without a named exception or a test."""

import ast
import re
from pathlib import Path

import pytest

from addon.farm import contract_errors as E
from addon.stacks import clarity as c
from addon.stacks import keys
from addon.stacks.errors import TransactionFailed
from addon.stacks.postconditions import stx_post_condition
from addon.stacks.transactions import make_contract_call, make_contract_deploy, make_stx_transfer
from tests.farm_world import BOND, STX

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_SOURCE = (ROOT / "contract" / "contracts" / "render-farm.clar").read_text()

pytestmark = pytest.mark.usefixtures("conservation")


def test_a_failed_post_condition_leaves_no_trace(world, farm):
    account = world.account()
    client = farm.client
    before = (client.get_account(account.address), farm.get_totals(), farm.get_platform_stats())
    public_key = keys.compress_public_key(keys.public_key_from_private_key(account.private_key))
    # Deny mode, and a post-condition that allows one micro-STX less than the bond the call moves.
    tx = make_contract_call(farm.contract_address, farm.contract_name, "register-provider",
                            [c.Buffer(public_key), c.UInt(1), c.UInt(1), c.UInt(1), c.UInt(0), c.UInt(BOND)],
                            private_key=account.private_key, nonce=before[0].nonce, fee=5_000,
                            network="devnet", post_conditions=[stx_post_condition("origin", "lte", BOND - 1)])
    with pytest.raises(TransactionFailed, match="a post-condition failed") as failure:
        client.submit(tx)
    assert failure.value.status == "abort_by_post_condition"
    assert failure.value.result == c.Ok(c.TRUE)  # the call itself succeeded; the chain undid it
    after = client.get_account(account.address)
    assert after.balance == before[0].balance - 5_000  # only the fee was paid
    assert after.nonce == before[0].nonce + 1  # and the nonce consumed
    assert farm.get_provider(account.address) is None
    assert farm.get_totals() == before[1]
    assert farm.get_platform_stats() == before[2]


PROXY = """
;; Tries to spend its caller's STX through render-farm under its own identity.
(define-public (create-job-for (provider principal) (reward uint))
  (contract-call? '{contract} create-job provider reward u100 u600 u0 0x{scene} u1 u1 "proxy"))
"""


def test_an_intermediary_contract_cannot_pay_in_with_its_callers_stx(world, farm):
    deployer, provider = world.account(), world.provider()
    code = PROXY.format(contract=farm.contract_id, scene="00" * 32)
    nonce = farm.client.get_nonce(deployer.address)
    farm.client.submit(make_contract_deploy("proxy", code, private_key=deployer.private_key, nonce=nonce,
                                            fee=50_000, network="devnet"))
    proxy = f"{deployer.address}.proxy"
    # The proxy holds STX of its own, but tx-sender is the caller, so render-farm's pay-in must refuse.
    farm.client.submit(make_stx_transfer(proxy, 100 * STX, private_key=deployer.private_key, nonce=nonce + 1,
                                         fee=5_000, network="devnet"))
    caller = world.account()
    tx = make_contract_call(deployer.address, "proxy", "create-job-for", [c.principal(provider.address),
                            c.UInt(5 * STX)], private_key=caller.private_key,
                            nonce=farm.client.get_nonce(caller.address), fee=5_000, network="devnet",
                            post_condition_mode="allow")
    with pytest.raises(TransactionFailed) as failure:
        farm.client.submit(tx)
    assert failure.value.result == c.Err(c.UInt(E.TransferFailed.code))
    assert farm.get_provider(provider.address).active_jobs == 0


def test_every_error_constant_has_a_named_exception():
    constants = {int(code): name for name, code in
                 re.findall(r"\(define-constant (ERR_[A-Z_]+) \(err u(\d+)\)\)", CONTRACT_SOURCE)}
    assert constants == {code: cls.constant for code, cls in E.ERRORS_BY_CODE.items()}
    assert len(set(E.ERRORS_BY_CODE)) == len(constants)
    # Spelled out in the source (not made at run time), so editors and type checkers see each class.
    tree = ast.parse((ROOT / "addon/farm/contract_errors.py").read_text())
    declared = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert {cls.__name__ for cls in E.ERRORS_BY_CODE.values()} <= declared


def test_every_error_is_reached_by_a_test():
    # PayoutFailed guards an as-contract? transfer of STX the contract provably holds (conservation,
    # checked after every contract test and by the rendezvous invariants): it cannot be reached.
    unreachable = {"PayoutFailed"}
    tests = "".join(p.read_text() for p in ROOT.glob("tests/test_contract_*.py"))
    missing = [cls.__name__ for cls in E.ERRORS_BY_CODE.values()
               if cls.__name__ not in unreachable and f"E.{cls.__name__}" not in tests]
    assert not missing, f"no test reaches {missing}"


def test_unknown_error_codes_stay_readable():
    error = E.error_for(999)
    assert isinstance(error, E.ContractError) and "unknown to this client" in str(error)
