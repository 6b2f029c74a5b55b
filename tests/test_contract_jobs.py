"""Creating jobs on the real contract: escrow, directed assignment rules, batches of 50 chunks."""

import pytest

from addon.farm import contract_errors as E
from addon.farm.contract import JobStatus
from tests.farm_world import BOND, STX

pytestmark = pytest.mark.usefixtures("conservation")


def test_create_job_escrows_the_reward_and_assigns_the_provider(world, farm):
    provider, requester = world.provider(price=2), world.account()
    escrow_before = farm.get_totals().escrow
    balance_before = world.stx_balance(requester.address)
    chunk = world.chunk(provider, reward=7 * STX, complexity=300, duration=900, frames=(11, 20))
    job_id = farm.create_job(requester.private_key, chunk, min_reputation=50, relay_url="https://relay.example")
    job = farm.get_job(job_id)
    assert (job.requester, job.provider, job.status) == (requester.address, provider.address, JobStatus.PENDING)
    assert (job.reward, job.complexity, job.estimated_duration, job.min_reputation) == (7 * STX, 300, 900, 50)
    assert (job.scene_hash, job.frame_start, job.frame_end, job.attempts) == (chunk.scene_hash, 11, 20, 1)
    assert job.compensation == 7 * STX * 20 // 100
    assert job.accept_by == job.assigned_at + farm.get_config()["accept_window"]
    assert farm.get_totals().escrow == escrow_before + 7 * STX
    assert balance_before - world.stx_balance(requester.address) > 7 * STX
    batch = farm.get_batch(job.batch_id)
    assert (batch.requester, batch.relay_url, batch.first_job_id, batch.job_count) == \
        (requester.address, "https://relay.example", job_id, 1)
    p = farm.get_provider(provider.address)
    assert (p.active_jobs, p.open_jobs, p.bond_reserved) == (1, 1, job.compensation)
    assert farm.get_provider_job_ids(provider.address) == [job_id]
    assert farm.get_requester_job_ids(requester.address) == [job_id]
    assert farm.get_requester_stats(requester.address).jobs == 1
    assert farm.check_assignment(provider.address, requester.address, 7 * STX, 300) == job.compensation


def test_assignment_rules(world, farm):
    requester = world.account(stx=100)
    provider = world.provider(gpu_count=1, price=1_000)
    off = world.provider()
    farm.set_availability(off.private_key, False)
    stranger = world.account()
    cases = [
        (dict(provider=stranger), {}, E.ProviderNotFound),
        (dict(provider=off), {}, E.ProviderUnavailable),
        (dict(provider=provider), dict(min_reputation=101), E.ReputationTooLow),
        (dict(provider=provider), dict(min_reputation=1001), E.InvalidMinReputation),
        (dict(provider=provider, reward=0), {}, E.InvalidReward),
        (dict(provider=provider, complexity=0), {}, E.InvalidComplexity),
        (dict(provider=provider, reward=99_999, complexity=100), {}, E.RewardBelowPrice),
        (dict(provider=provider, duration=59), {}, E.InvalidDuration),
        (dict(provider=provider, duration=604_801), {}, E.InvalidDuration),
        (dict(provider=provider, frames=(5, 4)), {}, E.InvalidFrameRange),
        (dict(provider=provider, reward=BOND * 5 + STX), {}, E.InsufficientBond),
        (dict(provider=provider, reward=500 * STX, complexity=1), {}, E.InsufficientFunds),
    ]
    for chunk_args, options, error in cases:
        with pytest.raises(error):
            farm.create_job(requester.private_key, world.chunk(**chunk_args), **options)
    with pytest.raises(E.SelfAssignment):
        world.job(provider, provider)
    with pytest.raises(E.EmptyBatch):
        farm.create_jobs(requester.private_key, [])
    with pytest.raises(E.ReputationTooLow):
        farm.check_assignment(provider.address, requester.address, 5 * STX, 100, min_reputation=200)
    world.job(requester, provider)
    with pytest.raises(E.ProviderAtCapacity, match="as many jobs as it has GPUs"):
        world.job(requester, provider)
    assert farm.get_requester_job_ids(requester.address) and farm.get_provider(provider.address).active_jobs == 1


def test_fifty_chunks_in_one_transaction(world, farm):
    providers = [world.provider(gpu_count=10) for _ in range(5)]
    requester = world.account()
    chunks = [world.chunk(providers[i % 5], reward=STX + i, frames=(i * 10, i * 10 + 9)) for i in range(50)]
    escrow_before = farm.get_totals().escrow
    created = farm.create_jobs(requester.private_key, chunks, min_reputation=100, relay_url="http://relay")
    assert created.job_count == 50 and created.total_reward == sum(ch.reward for ch in chunks)
    assert farm.get_totals().escrow == escrow_before + created.total_reward
    jobs = [farm.get_job(job_id) for job_id in created.job_ids]
    assert [j.frame_start for j in jobs] == [i * 10 for i in range(50)]
    assert {j.batch_id for j in jobs} == {created.batch_id}
    assert all(j.provider == providers[i % 5].address for i, j in enumerate(jobs))
    assert farm.get_requester_job_ids(requester.address) == created.job_ids
    assert all(farm.get_provider(p.address).active_jobs == 10 for p in providers)
    with pytest.raises(E.ProviderAtCapacity):
        world.job(requester, providers[0])


def test_a_batch_longer_than_the_list_type_is_refused_before_mining(world, farm):
    from addon.stacks.errors import TransactionRejected

    provider, requester = world.provider(), world.account()
    too_many = [world.chunk(provider, reward=STX) for _ in range(farm.get_config()["max_batch"] + 1)]
    with pytest.raises(TransactionRejected, match="BadFunctionArgument"):
        farm.create_jobs(requester.private_key, too_many)


def test_job_ids_page_beyond_fifty(world, farm):
    provider = world.provider(gpu_count=60)
    requester = world.account()
    first = farm.create_jobs(requester.private_key, [world.chunk(provider, reward=STX) for _ in range(50)])
    second = farm.create_jobs(requester.private_key, [world.chunk(provider, reward=STX) for _ in range(7)])
    assert farm.get_provider_job_ids(provider.address) == first.job_ids + second.job_ids
    assert farm.get_requester_job_ids(requester.address) == first.job_ids + second.job_ids
