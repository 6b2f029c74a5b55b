"""The whole life of a job on the real contract: fair exchange, silence, rejection, reassignment,
declines, cancels, every deadline and expiry, and who may call what."""

import hashlib
import os

import pytest

from addon.farm import contract_errors as E
from addon.farm.contract import JobStatus
from tests.farm_world import BOND, STX

pytestmark = pytest.mark.usefixtures("conservation")


@pytest.fixture(scope="module")
def config(farm):
    return farm.get_config()


def test_render_submit_approve_claim_withdraw(world, farm):
    provider, requester = world.provider(), world.account()
    volume_before = farm.get_platform_stats().total_volume
    job_id, secret = world.submitted_job(requester, provider, reward=9 * STX)
    job = farm.get_job(job_id)
    assert job.status == JobStatus.SUBMITTED and job.commitment == hashlib.sha256(secret).digest()
    assert farm.get_provider(provider.address).active_jobs == 0  # the GPU slot is free again
    farm.approve_result(requester.private_key, job_id)
    assert farm.get_job(job_id).status == JobStatus.APPROVED
    farm.claim(provider.private_key, job_id, secret)
    job = farm.get_job(job_id)
    assert (job.status, job.secret) == (JobStatus.COMPLETED, secret)  # r is public: the requester decrypts
    assert farm.get_earnings(provider.address) == 9 * STX
    p = farm.get_provider(provider.address)
    assert (p.reputation, p.total_jobs, p.successful_jobs, p.total_earned, p.open_jobs) == (110, 1, 1, 9 * STX, 0)
    assert farm.get_success_rate(provider.address) == 100
    stats = farm.get_requester_stats(requester.address)
    assert (stats.jobs, stats.completed, stats.paid) == (1, 1, 9 * STX)
    assert farm.get_platform_stats().total_volume == volume_before + 9 * STX
    before = world.stx_balance(provider.address)
    with pytest.raises(E.InsufficientEarnings):
        farm.withdraw(provider.private_key, 9 * STX + 1)
    farm.withdraw(provider.private_key, 4 * STX)
    farm.withdraw(provider.private_key, 5 * STX)
    assert farm.get_earnings(provider.address) == 0
    assert world.stx_balance(provider.address) > before + 9 * STX - STX
    with pytest.raises(E.InvalidAmount):
        farm.withdraw(provider.private_key, 0)


def test_silence_counts_as_approval(world, farm, devnet, config):
    provider, requester = world.provider(), world.account()
    job_id, secret = world.submitted_job(requester, provider)
    with pytest.raises(E.ReviewWindowOpen):
        farm.claim(provider.private_key, job_id, secret)
    devnet.advance(seconds=config["review_window"] + 1)
    with pytest.raises(E.ReviewWindowClosed):
        farm.approve_result(requester.private_key, job_id)
    with pytest.raises(E.ReviewWindowClosed):
        farm.reject_result(requester.private_key, job_id)
    with pytest.raises(E.SecretMismatch):
        farm.claim(provider.private_key, job_id, os.urandom(32))
    farm.claim(provider.private_key, job_id, secret)
    assert farm.get_job(job_id).status == JobStatus.COMPLETED


def test_rejection_costs_reputation_and_the_chunk_is_reassigned(world, farm):
    first, second, requester = world.provider(), world.provider(), world.account()
    job_id, _ = world.submitted_job(requester, first, reward=6 * STX)
    farm.reject_result(requester.private_key, job_id)
    job = farm.get_job(job_id)
    assert job.status == JobStatus.REJECTED
    p = farm.get_provider(first.address)
    assert (p.reputation, p.rejected_jobs, p.total_jobs, p.bond_reserved) == (80, 1, 1, 0)
    assert farm.get_success_rate(first.address) == 0
    assert farm.get_requester_stats(requester.address).rejections == 1
    new_scene = hashlib.sha256(b"re-encrypted for the second provider").digest()
    assert farm.reassign_job(requester.private_key, job_id, second.address, new_scene) == 0
    job = farm.get_job(job_id)
    assert (job.provider, job.status, job.attempts, job.scene_hash, job.commitment) == \
        (second.address, JobStatus.PENDING, 2, new_scene, None)
    farm.start_job(second.private_key, job_id)
    secret = os.urandom(32)
    farm.submit_result(second.private_key, job_id, os.urandom(32), hashlib.sha256(secret).digest())
    farm.approve_result(requester.private_key, job_id)
    farm.claim(second.private_key, job_id, secret)
    assert farm.get_earnings(second.address) == 6 * STX and farm.get_earnings(first.address) == 0
    assert job_id in farm.get_provider_job_ids(first.address) and job_id in farm.get_provider_job_ids(second.address)


def test_decline_then_cancel_refunds_everything(world, farm):
    provider, requester = world.provider(), world.account()
    job_id = world.job(requester, provider, reward=3 * STX)
    farm.decline_job(provider.private_key, job_id)
    assert farm.get_job(job_id).status == JobStatus.DECLINED
    assert farm.get_provider(provider.address).reputation == 100  # declining in time costs nothing
    before = world.stx_balance(requester.address)
    assert farm.cancel_job(requester.private_key, job_id) == 3 * STX
    assert farm.get_job(job_id).status == JobStatus.CANCELLED
    assert world.stx_balance(requester.address) > before + 3 * STX - STX
    assert farm.get_requester_stats(requester.address).cancellations == 1
    with pytest.raises(E.NotCancellable):
        farm.cancel_job(requester.private_key, job_id)


def test_no_show_provider_is_replaced_and_compensates(world, farm, devnet, config):
    lazy, backup, requester = world.provider(), world.provider(), world.account()
    job_id = world.job(requester, lazy, reward=10 * STX)
    with pytest.raises(E.AcceptWindowOpen):
        farm.reassign_job(requester.private_key, job_id, backup.address, bytes(32))
    devnet.advance(seconds=config["accept_window"] + 1)
    with pytest.raises(E.AcceptWindowClosed):
        farm.start_job(lazy.private_key, job_id)
    with pytest.raises(E.AcceptWindowClosed):
        farm.decline_job(lazy.private_key, job_id)
    assert farm.reassign_job(requester.private_key, job_id, backup.address, bytes(32)) == 2 * STX
    p = farm.get_provider(lazy.address)
    assert (p.reputation, p.expired_jobs, p.bond) == (50, 1, BOND - 2 * STX)
    assert farm.get_requester_stats(requester.address).expirations == 1
    assert farm.get_job(job_id).provider == backup.address


def test_expire_a_job_never_started(world, farm, devnet, config):
    provider, requester, anyone = world.provider(), world.account(), world.account()
    job_id = world.job(requester, provider, reward=5 * STX)
    with pytest.raises(E.DeadlineNotReached):
        farm.expire_job(anyone.private_key, job_id)
    devnet.advance(seconds=config["accept_window"] + 1)
    before = world.stx_balance(requester.address)
    assert farm.expire_job(anyone.private_key, job_id) == 6 * STX  # reward + 20 % from the bond
    assert world.stx_balance(requester.address) == before + 6 * STX
    job = farm.get_job(job_id)
    assert job.status == JobStatus.EXPIRED
    p = farm.get_provider(provider.address)
    assert (p.reputation, p.total_jobs, p.successful_jobs, p.bond) == (50, 1, 0, BOND - STX)
    with pytest.raises(E.NotExpirable):
        farm.expire_job(anyone.private_key, job_id)


def test_expire_a_render_that_missed_its_deadline(world, farm, devnet):
    provider, requester = world.provider(), world.account()
    job_id = world.started_job(requester, provider, duration=600)
    job = farm.get_job(job_id)
    assert job.render_by == job.started_at + 2 * 600
    devnet.advance(seconds=2 * 600 + 1)
    with pytest.raises(E.RenderDeadlinePassed):
        farm.submit_result(provider.private_key, job_id, bytes(32), bytes(32))
    farm.expire_job(requester.private_key, job_id)
    assert farm.get_job(job_id).status == JobStatus.EXPIRED


def test_expire_an_approved_result_never_revealed(world, farm, devnet, config):
    provider, requester = world.provider(), world.account()
    job_id, secret = world.submitted_job(requester, provider)
    farm.approve_result(requester.private_key, job_id)
    with pytest.raises(E.DeadlineNotReached):
        farm.expire_job(requester.private_key, job_id)
    devnet.advance(seconds=config["reveal_window"] + 1)
    with pytest.raises(E.RevealWindowClosed):
        farm.claim(provider.private_key, job_id, secret)
    farm.expire_job(requester.private_key, job_id)
    assert farm.get_job(job_id).status == JobStatus.EXPIRED and farm.get_earnings(provider.address) == 0


def test_steps_out_of_order_are_refused(world, farm):
    provider, requester = world.provider(), world.account()
    job_id = world.job(requester, provider)
    with pytest.raises(E.NotInProgress):
        farm.submit_result(provider.private_key, job_id, bytes(32), bytes(32))
    with pytest.raises(E.NotSubmitted):
        farm.approve_result(requester.private_key, job_id)
    with pytest.raises(E.NotClaimable):
        farm.claim(provider.private_key, job_id, bytes(32))
    farm.start_job(provider.private_key, job_id)
    with pytest.raises(E.NotPending):
        farm.start_job(provider.private_key, job_id)
    with pytest.raises(E.NotPending):
        farm.decline_job(provider.private_key, job_id)
    with pytest.raises(E.NotCancellable):
        farm.cancel_job(requester.private_key, job_id)
    with pytest.raises(E.NotReassignable):
        farm.reassign_job(requester.private_key, job_id, provider.address, bytes(32))
    with pytest.raises(E.JobNotFound):
        farm.start_job(provider.private_key, 10**9)
    assert farm.get_job(10**9) is None


def test_nobody_else_may_act_on_a_job(world, farm):
    provider, requester, stranger = world.provider(), world.account(), world.provider()
    job_id = world.job(requester, provider)
    for call in (lambda: farm.cancel_job(stranger.private_key, job_id),
                 lambda: farm.reassign_job(stranger.private_key, job_id, stranger.address, bytes(32)),
                 lambda: farm.approve_result(stranger.private_key, job_id),
                 lambda: farm.reject_result(stranger.private_key, job_id),
                 lambda: farm.cancel_job(provider.private_key, job_id)):
        with pytest.raises(E.NotRequester, match="only the job's requester"):
            call()
    for call in (lambda: farm.start_job(stranger.private_key, job_id),
                 lambda: farm.decline_job(stranger.private_key, job_id),
                 lambda: farm.start_job(requester.private_key, job_id),
                 lambda: farm.submit_result(stranger.private_key, job_id, bytes(32), bytes(32)),
                 lambda: farm.claim(stranger.private_key, job_id, bytes(32))):
        with pytest.raises(E.NotProvider, match="only the job's assigned provider"):
            call()
    with pytest.raises(E.InsufficientEarnings):
        farm.withdraw(stranger.private_key, 1)
    assert farm.get_job(job_id).status == JobStatus.PENDING
