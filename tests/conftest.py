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
