"""Helpers for contract tests on the local chain: fresh funded accounts and quick job set-ups.

Every test makes its own accounts, so tests stay independent on the one shared chain.
"""

import hashlib
import os
from dataclasses import dataclass

from addon.farm.contract import Chunk, RenderFarm
from addon.stacks import keys

STX = 1_000_000
BOND = 100 * STX


@dataclass
class Account:
    private_key: str
    address: str


class World:
    def __init__(self, devnet, farm: RenderFarm):
        self.devnet = devnet
        self.farm = farm

    def account(self, stx: int = 10_000) -> Account:
        key = keys.make_private_key()
        address = keys.address_from_private_key(key, "testnet")
        self.devnet.faucet(address, stx * STX)
        return Account(key, address)

    def provider(self, gpu_count: int = 2, price: int = 1, bond: int = BOND, **overrides) -> Account:
        account = self.account()
        self.farm.register_provider(account.private_key, gpu_count=gpu_count, gpu_memory=overrides.get("memory", 8192),
                                    benchmark_score=overrides.get("benchmark", 100), price_per_unit=price, bond=bond)
        return account

    @staticmethod
    def chunk(provider: Account, reward: int = 5 * STX, complexity: int = 100, duration: int = 600,
              frames: tuple[int, int] = (1, 10)) -> Chunk:
        return Chunk(provider.address, reward, complexity, duration, hashlib.sha256(os.urandom(8)).digest(), *frames)

    def job(self, requester: Account, provider: Account, **chunk_args) -> int:
        return self.farm.create_job(requester.private_key, self.chunk(provider, **chunk_args), relay_url="http://relay")

    def started_job(self, requester: Account, provider: Account, **chunk_args) -> int:
        job_id = self.job(requester, provider, **chunk_args)
        self.farm.start_job(provider.private_key, job_id)
        return job_id

    def submitted_job(self, requester: Account, provider: Account, **chunk_args) -> tuple[int, bytes]:
        """A job with a submitted result; returns (job id, the secret r behind its commitment)."""
        job_id = self.started_job(requester, provider, **chunk_args)
        secret = os.urandom(32)
        self.farm.submit_result(provider.private_key, job_id, hashlib.sha256(b"frames").digest(),
                                hashlib.sha256(secret).digest())
        return job_id, secret

    def stx_balance(self, address: str) -> int:
        return self.farm.client.get_balance(address)
