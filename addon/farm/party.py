"""What the requester's and the provider's flows share: one wallet's session with the chain and a relay."""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Callable

from ..stacks import keys
from .contract import Job, RenderFarm
from .error_mapping import translated
from .errors import IntegrityError
from .events import EventSink, Step, TransactionSent, ignore
from .relay_client import RelayClient


class Party(abc.ABC):
    def __init__(self, farm: RenderFarm, relay: RelayClient | str, private_key: str, on_event: EventSink = ignore):
        self.farm, self.private_key, self.emit = farm, private_key, on_event
        self.relay = relay if isinstance(relay, RelayClient) else RelayClient(relay, private_key)
        self.network = farm.client.network.address_network
        self.address = keys.address_from_private_key(private_key, self.network)

    def close(self) -> None:
        self.relay.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def job(self, job_id: int) -> Job:
        """The job as the chain records it, after checking this wallet is the party the flow acts for."""
        with translated(f"reading job {job_id} from the chain"):
            job = self.farm.require_job(job_id)
        self.check_party(job)
        return job

    @abc.abstractmethod
    def check_party(self, job: Job) -> None:
        """Raise AuthorizationError when this wallet is not the job's requester (or provider)."""

    def sealed_scene(self, job: Job) -> bytes:
        """The job's sealed scene manifest from the relay, refused unless it is the one committed on chain."""
        with translated(f"reading job {job.job_id}'s scene manifest from the relay"):
            envelope = self.relay.jobs.get_scene_manifest(job.job_id).data
        if hashlib.sha256(envelope).digest() != job.scene_hash:
            raise IntegrityError(f"job {job.job_id}'s scene manifest on the relay is not the one committed on chain")
        return envelope

    def transact(self, function: str, job_id: int, call: Callable):
        """One chain write of this party for a job: `call(private_key, job_id)`, waited for until mined."""
        self.job(job_id)
        self.emit(Step(function, f"{function} for job {job_id}", job_id))
        with translated(f"{function} of job {job_id}"):
            value = call(self.private_key, job_id)
        self.emit(TransactionSent(function, (job_id,)))
        return value
