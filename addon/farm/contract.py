"""A typed wrapper for render-farm.clar: one method per public and read-only function.

Every transaction is built in post-condition deny mode with the exact STX movements the call must
make (nothing else may move), signed, broadcast, awaited and decoded; an (err uN) becomes the named
exception of addon.farm.contract_errors. Read-only results come back as plain dataclasses.
"""

import hashlib
from dataclasses import dataclass, fields, replace
from enum import IntEnum
from typing import TYPE_CHECKING

from ..stacks import clarity as c
from ..stacks import keys
from ..stacks.api import StacksClient, TxResult
from ..stacks.errors import StacksError, TransactionFailed
from ..stacks.postconditions import stx_post_condition
from ..stacks.transactions import make_contract_call
from .contract_errors import ContractError, error_for

if TYPE_CHECKING:
    from .tx_journal import TxJournal

CONTRACT_NAME = "render-farm"
DEFAULT_FEE = 10_000  # micro-STX; used when the caller gives none and the node has no estimate
PROVIDER_PAGE = 50  # most indices get-providers takes (its list type's bound)


class JobStatus(IntEnum):
    PENDING = 0
    IN_PROGRESS = 1
    SUBMITTED = 2
    APPROVED = 3
    COMPLETED = 4
    REJECTED = 5
    DECLINED = 6
    EXPIRED = 7
    CANCELLED = 8


def _from_tuple(cls, value: c.ClarityValue):
    """Build a dataclass from a Clarity tuple; kebab-case keys become snake_case fields."""
    data = {k.replace("-", "_"): v for k, v in c.to_python(value).items()}
    return cls(**{f.name: data[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class Provider:
    address: str
    public_key: bytes
    gpu_count: int
    gpu_memory: int
    benchmark_score: int
    price_per_unit: int
    reputation: int
    available: bool
    registered: bool
    bond: int
    bond_reserved: int
    active_jobs: int
    open_jobs: int
    total_jobs: int
    successful_jobs: int
    rejected_jobs: int
    expired_jobs: int
    total_earned: int
    registered_at: int


def _provider_entry(value: c.ClarityValue) -> Provider | None:
    """An (optional {address, ...provider record}) from get-provider-at / get-providers."""
    return _from_tuple(Provider, value.value) if isinstance(value, c.Some) else None


@dataclass(frozen=True)
class Job:
    job_id: int
    requester: str
    provider: str
    batch_id: int
    status: JobStatus
    reward: int
    complexity: int
    estimated_duration: int
    min_reputation: int
    scene_hash: bytes
    frame_start: int
    frame_end: int
    compensation: int
    attempts: int
    created_at: int
    assigned_at: int
    accept_by: int
    started_at: int
    render_by: int
    submitted_at: int
    review_by: int
    reveal_by: int
    finished_at: int
    result_hash: bytes | None
    commitment: bytes | None
    secret: bytes | None


@dataclass(frozen=True)
class Batch:
    batch_id: int
    requester: str
    relay_url: str
    first_job_id: int
    job_count: int
    created_at: int


@dataclass(frozen=True)
class Chunk:
    """One chunk of frames for one provider, as create-jobs takes it."""

    provider: str
    reward: int
    complexity: int
    estimated_duration: int
    scene_hash: bytes
    frame_start: int
    frame_end: int

    def to_clarity(self) -> c.Tuple:
        return c.Tuple({
            "provider": c.principal(self.provider), "reward": c.UInt(self.reward),
            "complexity": c.UInt(self.complexity), "estimated-duration": c.UInt(self.estimated_duration),
            "scene-hash": c.Buffer(self.scene_hash), "frame-start": c.UInt(self.frame_start),
            "frame-end": c.UInt(self.frame_end),
        })


@dataclass(frozen=True)
class RequesterStats:
    jobs: int
    completed: int
    rejections: int
    cancellations: int
    expirations: int
    paid: int


@dataclass(frozen=True)
class PlatformStats:
    providers: int
    jobs_created: int
    jobs_completed: int
    jobs_rejected: int
    jobs_expired: int
    jobs_cancelled: int
    jobs_declined: int
    total_volume: int
    next_job_id: int
    next_batch_id: int


@dataclass(frozen=True)
class Totals:
    escrow: int
    earnings: int
    bonds: int
    balance: int

    @property
    def conserved(self) -> bool:
        """The contract holds exactly what it owes."""
        return self.balance == self.escrow + self.earnings + self.bonds


@dataclass(frozen=True)
class CreatedBatch:
    batch_id: int
    first_job_id: int
    job_count: int
    total_reward: int

    @property
    def job_ids(self) -> list[int]:
        return list(range(self.first_job_id, self.first_job_id + self.job_count))


class RenderFarm:
    """The render-farm contract at `contract_id`, through a StacksClient."""

    def __init__(self, client: StacksClient, contract_id: str, fee: int | None = None, timeout: float = 120.0,
                 journal: "TxJournal | None" = None):
        """`journal`: record every write before it is broadcast (addon.farm.tx_journal), so a restart
        neither forgets nor double-sends one; without it, nonces come from the node alone."""
        address, name = keys.parse_principal(contract_id)
        if not name:
            raise StacksError(f"'{contract_id}' is not a contract id (ADDRESS.{CONTRACT_NAME})")
        self.client = client
        self.contract_id = contract_id
        self.contract_address, self.contract_name = address, name
        self.fee = fee
        self.timeout = timeout
        self.journal = journal

    # ---- transactions -------------------------------------------------------------------------------

    def _address(self, private_key) -> str:
        return keys.address_from_private_key(private_key, self.client.network.address_network)

    def _call(self, private_key, function: str, args: list, sends: int = 0, receives: int = 0) -> c.ClarityValue:
        """Sign, send and await one call. `sends`: most STX the sender pays in; `receives`: most STX the
        contract pays out. Deny mode: any other movement aborts the transaction. The bounds are "at most"
        rather than "exactly" so a call the contract refuses (nothing moves) still reports its error code
        as abort_by_response instead of a post-condition failure."""
        post_conditions = []
        if sends:
            post_conditions.append(stx_post_condition("origin", "lte", sends))
        if receives:
            post_conditions.append(stx_post_condition(self.contract_id, "lte", receives))
        sender = self._address(private_key)

        def build(nonce: int, fee: int):
            return make_contract_call(self.contract_address, self.contract_name, function, args,
                                      private_key=private_key, nonce=nonce, fee=fee,
                                      network=self.client.network, post_conditions=post_conditions)

        nonce = self.client.get_nonce(sender)
        fee = self.fee
        if fee is None:
            try:
                fee = self.client.estimate_fee(build(nonce, DEFAULT_FEE))
            except StacksError:
                fee = DEFAULT_FEE
        if self.journal is None:
            txid = self.client.broadcast(build(nonce, fee))
        else:  # recorded before it is sent; the same call while it is pending reuses it
            key = f"{function}:" + hashlib.sha256(b"".join(c.serialize(arg) for arg in args)).hexdigest()
            txid = self.journal.send(self.client, sender, function, lambda n: build(n, fee), key=key)
        result = self._await(txid)
        return result.result.value if isinstance(result.result, c.Ok) else result.result

    def _await(self, txid: str) -> TxResult:
        try:
            result = self.client.wait_for_tx(txid, timeout=self.timeout)
        except TransactionFailed as failure:
            if self.journal is not None:
                self.journal.settle_from_node(txid, failure.status, str(failure))
            # A refused call may also trip a post-condition (nothing moved): the contract's code explains more.
            if isinstance(failure.result, c.Err) and isinstance(failure.result.value, c.UInt):
                raise error_for(failure.result.value.value, txid) from None
            raise
        if self.journal is not None:
            self.journal.settle(txid, "success")
        return result

    # providers

    def register_provider(self, private_key, *, gpu_count: int, gpu_memory: int, benchmark_score: int,
                          price_per_unit: int, bond: int, public_key: bytes | None = None) -> None:
        """Register with the account's compressed public key and lock `bond` micro-STX."""
        public_key = public_key if public_key is not None else \
            keys.compress_public_key(keys.public_key_from_private_key(private_key))
        self._call(private_key, "register-provider", [
            c.Buffer(public_key), c.UInt(gpu_count), c.UInt(gpu_memory), c.UInt(benchmark_score),
            c.UInt(price_per_unit), c.UInt(bond)], sends=bond)

    def update_resources(self, private_key, *, gpu_count: int, gpu_memory: int, benchmark_score: int,
                         price_per_unit: int) -> None:
        self._call(private_key, "update-resources", [c.UInt(gpu_count), c.UInt(gpu_memory),
                                                     c.UInt(benchmark_score), c.UInt(price_per_unit)])

    def set_availability(self, private_key, available: bool) -> None:
        self._call(private_key, "set-availability", [c.Bool(available)])

    def add_bond(self, private_key, amount: int) -> None:
        self._call(private_key, "add-bond", [c.UInt(amount)], sends=amount)

    def withdraw_bond(self, private_key, amount: int) -> None:
        self._call(private_key, "withdraw-bond", [c.UInt(amount)], receives=amount)

    def deregister_provider(self, private_key) -> int:
        """Leave the market; returns the bond paid back."""
        provider = self.get_provider(self._address(private_key))
        bond = provider.bond if provider else 0
        self._call(private_key, "deregister-provider", [], receives=bond)
        return bond

    # requesters

    def create_job(self, private_key, chunk: Chunk, *, min_reputation: int = 0, relay_url: str = "") -> int:
        """One chunk; returns its job id."""
        result = self._call(private_key, "create-job", [
            c.principal(chunk.provider), c.UInt(chunk.reward), c.UInt(chunk.complexity),
            c.UInt(chunk.estimated_duration), c.UInt(min_reputation), c.Buffer(chunk.scene_hash),
            c.UInt(chunk.frame_start), c.UInt(chunk.frame_end), c.StringAscii(relay_url)], sends=chunk.reward)
        return c.to_python(result)

    def create_jobs(self, private_key, chunks: list[Chunk], *, min_reputation: int = 0,
                    relay_url: str = "") -> CreatedBatch:
        """Many chunks (at most 50) in one transaction, escrowing the sum of their rewards."""
        total = sum(chunk.reward for chunk in chunks)
        result = self._call(private_key, "create-jobs", [
            c.List([chunk.to_clarity() for chunk in chunks]), c.UInt(min_reputation), c.StringAscii(relay_url)],
            sends=total)
        return _from_tuple(CreatedBatch, result)

    def cancel_job(self, private_key, job_id: int) -> int:
        """Cancel a job not yet started (or rejected/declined); returns the refund."""
        job = self.require_job(job_id)
        self._call(private_key, "cancel-job", [c.UInt(job_id)], receives=job.reward)
        return job.reward

    def reassign_job(self, private_key, job_id: int, new_provider: str, scene_hash: bytes) -> int:
        """Give the job to another provider; returns the no-show compensation paid to the requester."""
        job = self.require_job(job_id)
        penalty = job.compensation if job.status == JobStatus.PENDING else 0
        self._call(private_key, "reassign-job", [c.UInt(job_id), c.principal(new_provider), c.Buffer(scene_hash)],
                   receives=penalty)
        return penalty

    def approve_result(self, private_key, job_id: int) -> None:
        self._call(private_key, "approve-result", [c.UInt(job_id)])

    def reject_result(self, private_key, job_id: int) -> None:
        self._call(private_key, "reject-result", [c.UInt(job_id)])

    # assigned providers

    def start_job(self, private_key, job_id: int) -> None:
        self._call(private_key, "start-job", [c.UInt(job_id)])

    def decline_job(self, private_key, job_id: int) -> None:
        self._call(private_key, "decline-job", [c.UInt(job_id)])

    def submit_result(self, private_key, job_id: int, result_hash: bytes, commitment: bytes) -> None:
        """Commit to the frames (`result_hash`) and to sha256(r) (`commitment`)."""
        self._call(private_key, "submit-result", [c.UInt(job_id), c.Buffer(result_hash), c.Buffer(commitment)])

    def claim(self, private_key, job_id: int, secret: bytes) -> None:
        """Reveal r; the reward moves to the provider's earnings."""
        self._call(private_key, "claim", [c.UInt(job_id), c.Buffer(secret)])

    def withdraw(self, private_key, amount: int) -> None:
        self._call(private_key, "withdraw", [c.UInt(amount)], receives=amount)

    # anyone

    def expire_job(self, private_key, job_id: int) -> int:
        """Expire a job past its deadline; returns what the requester got back (reward + compensation)."""
        job = self.require_job(job_id)
        refund = job.reward + job.compensation
        self._call(private_key, "expire-job", [c.UInt(job_id)], receives=refund)
        return refund

    # ---- read-only ----------------------------------------------------------------------------------

    def _read(self, function: str, *args: c.ClarityValue) -> c.ClarityValue:
        return self.client.call_read_only(self.contract_id, function, list(args), sender=self.contract_address)

    def get_provider(self, address: str) -> Provider | None:
        value = self._read("get-provider", c.principal(address))
        if not isinstance(value, c.Some):
            return None
        return _from_tuple(Provider, c.Tuple({**value.value.data, "address": c.principal(address)}))

    def get_provider_index_count(self) -> int:
        """How many principals ever registered (indices 0..count-1 of get_provider_at / get_providers)."""
        return c.to_python(self._read("get-provider-index-count"))

    def get_provider_at(self, index: int) -> Provider | None:
        """The provider at `index` in order of first registration (deregistered ones included), or None."""
        return _provider_entry(self._read("get-provider-at", c.UInt(index)))

    def get_providers(self, indices: list[int]) -> list[Provider | None]:
        """Up to PROVIDER_PAGE providers by index in one read (None where an index is past the end)."""
        if len(indices) > PROVIDER_PAGE:
            raise ValueError(f"get-providers reads at most {PROVIDER_PAGE} indices per call, got {len(indices)}")
        value = self._read("get-providers", c.List([c.UInt(i) for i in indices]))
        return [_provider_entry(entry) for entry in value.items]

    def get_job(self, job_id: int) -> Job | None:
        value = self._read("get-job", c.UInt(job_id))
        if not isinstance(value, c.Some):
            return None
        job = _from_tuple(Job, c.Tuple({**value.value.data, "job-id": c.UInt(job_id)}))
        return replace(job, status=JobStatus(job.status))

    def require_job(self, job_id: int) -> Job:
        job = self.get_job(job_id)
        if job is None:
            raise error_for(140)
        return job

    def get_batch(self, batch_id: int) -> Batch | None:
        value = self._read("get-batch", c.UInt(batch_id))
        if not isinstance(value, c.Some):
            return None
        return _from_tuple(Batch, c.Tuple({**value.value.data, "batch-id": c.UInt(batch_id)}))

    def get_earnings(self, address: str) -> int:
        return c.to_python(self._read("get-earnings", c.principal(address)))

    def get_reputation(self, address: str) -> int | None:
        return c.to_python(self._read("get-reputation", c.principal(address)))

    def get_success_rate(self, address: str) -> int:
        return c.to_python(self._read("get-success-rate", c.principal(address)))

    def get_requester_stats(self, address: str) -> RequesterStats:
        return _from_tuple(RequesterStats, self._read("get-requester-stats", c.principal(address)))

    def get_platform_stats(self) -> PlatformStats:
        return _from_tuple(PlatformStats, self._read("get-platform-stats"))

    def get_totals(self) -> Totals:
        return _from_tuple(Totals, self._read("get-totals"))

    def get_time(self) -> int:
        """The chain's clock (stacks-block-time) that deadlines compare against."""
        return c.to_python(self._read("get-time"))

    def get_config(self) -> dict:
        return {k.replace("-", "_"): v for k, v in c.to_python(self._read("get-config")).items()}

    def check_assignment(self, provider: str, requester: str, reward: int, complexity: int,
                         min_reputation: int = 0) -> int:
        """The compensation the provider would reserve, or the ContractError create-job would raise."""
        value = self._read("check-assignment", c.principal(provider), c.principal(requester), c.UInt(reward),
                           c.UInt(complexity), c.UInt(min_reputation))
        if isinstance(value, c.Err):
            raise error_for(value.value.value)
        return c.to_python(value.value)

    def _paged(self, count_fn: str, ids_fn: str, address: str, start: int = 0) -> list[int]:
        count = c.to_python(self._read(count_fn, c.principal(address)))
        ids: list[int] = []
        while start + len(ids) < count:
            page = c.to_python(self._read(ids_fn, c.principal(address), c.UInt(start + len(ids))))
            if not page:
                break
            ids.extend(page)
        return ids

    def get_provider_job_ids(self, address: str, start: int = 0) -> list[int]:
        """Every job ever assigned to `address`, oldest first (from the `start`-th: a watcher reads only new ones)."""
        return self._paged("get-provider-job-count", "get-provider-job-ids", address, start)

    def get_requester_job_ids(self, address: str) -> list[int]:
        """Every job `address` created, oldest first."""
        return self._paged("get-requester-job-count", "get-requester-job-ids", address)


__all__ = ["RenderFarm", "Job", "JobStatus", "Provider", "Batch", "Chunk", "RequesterStats", "PlatformStats",
           "Totals", "CreatedBatch", "ContractError"]
