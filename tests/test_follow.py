"""Following chunks (addon.farm.follow) on the local chain and a relay: a rejected chunk is reassigned
to the next allowed provider with its manifest sealed anew, and the job list remembers who tried."""

import hashlib
import os

import pytest

from addon.farm.contract import JobStatus
from addon.farm.follow import Follower, decide
from addon.farm.job_list import JobList, JobRecord
from addon.farm.requester import Requester
from server.relay.local import RelayProcess
from tests.provider_fixtures import submit


@pytest.fixture(scope="module")
def relay(devnet, tmp_path_factory):
    with RelayProcess(tmp_path_factory.mktemp("relay") / "data", extra_args=["--node", devnet.url],
                      env={"RELAY_LOG_LEVEL": "warning"}) as process:
        yield process


def rejected_chunk(world, farm, requester, provider, tmp_path) -> int:
    scene = tmp_path / "scene.blend"
    scene.write_bytes(os.urandom(2048))  # never opened: nobody renders in this test
    job_id = submit(requester, provider, scene, (1, 2))
    farm.start_job(provider.private_key, job_id)
    farm.submit_result(provider.private_key, job_id, hashlib.sha256(b"result").digest(),
                       hashlib.sha256(b"r").digest())
    decide(requester, "reject", job_id)
    assert farm.get_job(job_id).status == JobStatus.REJECTED
    return job_id


def record(job_id, provider, farm, candidates) -> JobRecord:
    return JobRecord(job_id, 0, provider.address, 1, 2, 2_000_000, "scene 1-2", "/tmp/unused/frame_####",
                     farm.contract_id, candidates=tuple(candidates))


def test_a_rejected_chunk_is_reassigned_to_the_next_allowed_provider(world, farm, relay, tmp_path):
    first, second, stranger = world.provider(), world.provider(), world.provider()
    account = world.account()
    with Requester(farm, relay.url, account.private_key) as requester:
        job_id = rejected_chunk(world, farm, requester, first, tmp_path)
        job_list = JobList(tmp_path / "home")
        job_list.add([record(job_id, first, farm, [first.address, second.address])])
        (state,) = Follower(requester, job_list, farm.contract_id, auto_approve=True).poll()
        assert state.status == JobStatus.PENDING and "reassigned to" in state.note
        job = farm.get_job(job_id)
        assert job.provider == second.address != stranger.address  # only an allowed provider
        assert state.record.provider == second.address and state.record.tried == (first.address,)
        assert requester.scene_manifest(job_id).provider == second.address  # sealed anew for it, on the relay
        assert JobList(tmp_path / "home").get(job_id, farm.contract_id).tried == (first.address,)


def test_no_other_provider_leaves_it_for_the_artist(world, farm, relay, tmp_path):
    only = world.provider()
    account = world.account()
    with Requester(farm, relay.url, account.private_key) as requester:
        job_id = rejected_chunk(world, farm, requester, only, tmp_path)
        job_list = JobList(tmp_path / "home")
        job_list.add([record(job_id, only, farm, [only.address])])
        (state,) = Follower(requester, job_list, farm.contract_id, auto_approve=True).poll()
        assert state.status == JobStatus.REJECTED and "add providers or cancel it" in state.note
        assert "cancelled" in decide(requester, "cancel", job_id)
