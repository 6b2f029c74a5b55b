"""Shared pytest fixtures."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def js():
    """@stacks/transactions behind a line-based JSON protocol (tests/js/oracle.mjs)."""
    from tests.stacks_oracle import JsOracle

    oracle = JsOracle()
    yield oracle
    oracle.close()


from tests.conftest_devnet import devnet, devnet_accounts, devnet_client  # noqa: E402,F401  (shared fixtures)


@pytest.fixture(scope="session")
def farm(devnet, devnet_accounts, devnet_client):  # noqa: F811
    """addon.farm.contract.RenderFarm for the contract deployed on the devnet."""
    from addon.farm.contract import RenderFarm

    return RenderFarm(devnet_client, f"{devnet_accounts['deployer']['address']}.render-farm")


@pytest.fixture(scope="session")
def world(devnet, farm):  # noqa: F811
    from tests.farm_world import World

    return World(devnet, farm)


@pytest.fixture
def conservation(farm):
    """After the test: the contract's STX balance equals escrowed rewards + unwithdrawn earnings + bonds."""
    yield
    totals = farm.get_totals()
    assert totals.conserved, totals
    assert farm.client.get_balance(farm.contract_id) == totals.balance
