"""The provider agent against the real local chain, a real relay and real Cycles rendering (32x32 px).

A job created and assigned on chain is picked up by a running agent, rendered, uploaded frame by frame,
submitted and paid; the requester's decrypted frames match a direct render of the same frames; the
provider's reputation, earnings and bond end as the contract says. Jobs it cannot serve are declined.
"""

import pytest

from addon.farm.contract import JobStatus
from addon.farm.manifest import SceneFile
from addon.farm.requester import Requester
from addon.farm.tx_journal import TxJournal
from server.provider import state as S
from server.provider.render import render_frame
from server.relay.local import RelayProcess
from tests.provider_fixtures import (
    STX,
    AgentThread,
    agent_config,
    max_pixel_differences,
    submit,
    submit_forged,
    tiny_scene,
    wait_status,
)

# Cycles on the CPU with a fixed seed renders the same pixels in every process; a tolerance of 2/255
# per channel leaves room for float reordering across thread counts without hiding a wrong frame.
PIXEL_TOLERANCE = 2 / 255

pytestmark = pytest.mark.usefixtures("conservation")


@pytest.fixture(scope="module")
def relay(devnet, tmp_path_factory):
    with RelayProcess(tmp_path_factory.mktemp("relay") / "data", extra_args=["--node", devnet.url],
                      env={"RELAY_LOG_LEVEL": "warning"}) as process:
        yield process


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return tiny_scene(tmp_path_factory.mktemp("scene") / "tiny.blend")


@pytest.fixture
def requester(world, farm, relay):
    account = world.account()
    with Requester(farm, relay.url, account.private_key) as flow:
        yield flow


def test_job_is_picked_up_rendered_uploaded_and_paid(world, farm, devnet, relay, scene, requester, tmp_path):
    provider = world.account()
    with AgentThread(agent_config(devnet, farm, tmp_path / "agent", bond=10 * STX), provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        registered = farm.get_provider(provider.address)
        assert registered.registered and registered.available and registered.bond == 10 * STX
        job_id = submit(requester, provider, scene, (1, 3), reward=2 * STX)
        run.wait_for("job_started", job_id=job_id)
        wait_status(farm, job_id, JobStatus.SUBMITTED, run=run)
        uploaded = [e for e in run.events if e[0] == "frame_uploaded" and e[2]["job_id"] == job_id]
        assert [e[2]["frame"] for e in uploaded] == [1, 2, 3]  # each frame as it finished
        beats = requester.relay.jobs.progress(job_id).events  # a heartbeat per uploaded frame
        assert [(b.frames_done, b.frames_total) for b in beats][-3:] == [(1, 3), (2, 3), (3, 3)]
        assert beats[-1].eta_seconds == 0
        review = requester.review(job_id)
        assert review.complete and sorted(review.previews) == [1, 2, 3]
        assert all(p.startswith(b"\x89PNG") for p in review.previews.values())
        # Until the claim, r is in the agent's files only sealed: the requester cannot take the frames unpaid.
        on_disk = b"".join(p.read_bytes() for p in (tmp_path / "agent").glob("agent.sqlite*"))
        requester.approve(job_id)
        run.wait_for("claimed", job_id=job_id, timeout=30)
        r = farm.get_job(job_id).secret
        assert r not in on_disk and r.hex().encode() not in on_disk
        wait_status(farm, job_id, JobStatus.COMPLETED, timeout=30)

    # Clean stop: availability off. Payment, reputation and bond as the contract says.
    after = farm.get_provider(provider.address)
    assert not after.available
    assert farm.get_earnings(provider.address) == 2 * STX and after.total_earned == 2 * STX
    assert (after.reputation, after.successful_jobs, after.bond, after.bond_reserved) == (110, 1, 10 * STX, 0)
    assert farm.get_requester_stats(requester.address).completed == 1

    frames = requester.download(job_id, lambda frame, ext: tmp_path / "received" / f"frame_{frame:05d}{ext}")
    direct = [render_frame(scene, n, tmp_path / "direct").image for n in (1, 2, 3)]
    *diffs, control = max_pixel_differences([*zip(frames, direct, strict=True), (frames[0], direct[2])])
    assert all(d <= PIXEL_TOLERANCE for d in diffs), diffs
    assert control > 10 * PIXEL_TOLERANCE  # the comparison does see a different frame (the cube turns)
    state_db = S.AgentState(tmp_path / "agent", provider.private_key)
    assert state_db.job(job_id).phase in (S.CLAIMED, S.CLOSED)
    assert len(state_db.uploaded_frames(job_id)) == 3
    journal = TxJournal(state_db.path)  # every chain write of the agent, settled
    assert journal.pending() == []
    assert [e.function for e in journal.entries()] == ["register-provider", "start-job", "submit-result", "claim",
                                                        "set-availability"]
    assert all(e.status == "success" for e in journal.entries())



def test_jobs_it_cannot_serve_are_declined(world, farm, devnet, relay, scene, requester, tmp_path):
    provider = world.account()
    config = agent_config(devnet, farm, tmp_path / "agent", max_scene_bytes=10_000_000)
    with AgentThread(config, provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        # One at a time: a provider with one GPU holds one open job (the contract's capacity check).
        wrong_version = submit(requester, provider, scene, (1, 1), blender="3.6.0")
        wait_status(farm, wrong_version, JobStatus.DECLINED, timeout=60, run=run)
        zero = "0" * 64
        too_big = submit_forged(requester, provider, [SceneFile("tiny.blend", zero, zero, zero, 20_000_000)])
        wait_status(farm, too_big, JobStatus.DECLINED, timeout=60, run=run)
        escaping = submit_forged(requester, provider, [SceneFile("../outside.blend", zero, zero, zero, 10)])
        wait_status(farm, escaping, JobStatus.DECLINED, timeout=60, run=run)
    reasons = {e[2]["job_id"]: e[2]["reason"] for e in run.events if e[0] == "job_declined"}
    assert "needs Blender 3.6.0" in reasons[wrong_version]
    assert "more than --max-scene-bytes" in reasons[too_big]
    assert "leaves the package: refused" in reasons[escaping]
    assert not (tmp_path / "agent" / "outside.blend").exists()
    assert farm.get_provider(provider.address).reputation == 100  # declining costs nothing


def test_claims_when_the_review_window_passes_and_withdraws_above_the_threshold(world, farm, devnet, relay, scene,
                                                                                requester, tmp_path):
    provider = world.account()
    config = agent_config(devnet, farm, tmp_path / "agent", withdraw_above=1 * STX)
    with AgentThread(config, provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        job_id = submit(requester, provider, scene, (1, 1), reward=3 * STX)
        job = wait_status(farm, job_id, JobStatus.SUBMITTED, run=run)
        assert not [e for e in run.events if e[0] == "claimed"]  # the requester may still review
        balance = farm.client.get_balance(provider.address)
        devnet.advance(seconds=job.review_by - farm.get_time() + 20)  # the requester stays silent
        run.wait_for("claimed", job_id=job_id, timeout=30)
        run.wait_for("withdrawn", timeout=30)
    assert farm.get_job(job_id).status == JobStatus.COMPLETED
    assert farm.get_earnings(provider.address) == 0
    assert farm.client.get_balance(provider.address) > balance + 3 * STX - STX // 10  # minus a few fees


def test_declines_a_requester_with_many_rejections_and_a_closing_accept_window(world, farm, devnet, relay, scene,
                                                                               requester, tmp_path):
    other = world.provider()
    picky_requester = world.account()
    rejected, _ = world.submitted_job(picky_requester, other)
    farm.reject_result(picky_requester.private_key, rejected)  # 1 rejection; with the new job: of 2 jobs

    provider = world.account()
    config = agent_config(devnet, farm, tmp_path / "agent", requester_min_jobs=2, max_requester_rejection_rate=0.4)
    from addon.farm.requester import Requester as Flow

    with AgentThread(config, provider.private_key) as run, Flow(farm, relay.url, picky_requester.private_key) as picky:
        run.wait_for("ready", timeout=60)
        job_id = submit(picky, provider, scene, (1, 1))
        wait_status(farm, job_id, JobStatus.DECLINED, timeout=60, run=run)
    reason = next(e[2]["reason"] for e in run.events if e[0] == "job_declined")
    assert "rejected 1 of 2 jobs" in reason

    hurried = agent_config(devnet, farm, tmp_path / "agent2", min_accept_seconds=4000)  # more than the 1 h window
    with AgentThread(hurried, provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        job_id = submit(requester, provider, scene, (1, 1))
        wait_status(farm, job_id, JobStatus.DECLINED, timeout=60, run=run)
    assert "of the accept window left" in next(e[2]["reason"] for e in run.events if e[0] == "job_declined")


def test_a_frame_over_its_time_cap_ends_the_job_in_a_defined_state(world, farm, devnet, relay, scene, requester,
                                                                    tmp_path):
    provider = world.account()
    config = agent_config(devnet, farm, tmp_path / "agent", frame_time_cap=0.05)  # no frame renders that fast
    with AgentThread(config, provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        job_id = submit(requester, provider, scene, (1, 2))
        failed = run.wait_for("job_failed", job_id=job_id, timeout=120)
    assert "took longer than 0.05 s" in failed[1] and "left to expire" in failed[1]
    record = S.AgentState(tmp_path / "agent", provider.private_key).job(job_id)
    assert record.phase == S.FAILED and "took longer" in record.detail
    assert farm.get_job(job_id).status == JobStatus.IN_PROGRESS  # not submitted; the deadline settles it


def test_a_scene_with_a_file_output_is_hardened_or_declined(world, farm, devnet, relay, requester, tmp_path):
    """The compositor File Output node of a hostile scene: switched off (and said so) by default, or the
    job declined with the reason when the GPU owner prefers to render only what it can render faithfully."""
    from tests.provider_scenes import build

    planted = tmp_path / "outside" / "planted"
    blend = build("file_output", tmp_path / "scene" / "hostile.blend", planted)
    provider = world.account()
    with AgentThread(agent_config(devnet, farm, tmp_path / "agent"), provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        job_id = submit(requester, provider, blend, (1, 1))
        hardened = run.wait_for("scene_hardened", job_id=job_id, timeout=120)
        wait_status(farm, job_id, JobStatus.SUBMITTED, run=run)
    assert any("File Output" in x for x in hardened[2]["switched_off"])
    assert not planted.exists()

    strict = agent_config(devnet, farm, tmp_path / "agent2", decline_risky_scenes=True)
    with AgentThread(strict, provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        job_id = submit(requester, provider, blend, (1, 1))
        declined = run.wait_for("job_declined", job_id=job_id, timeout=120)
        wait_status(farm, job_id, JobStatus.DECLINED, timeout=60, run=run)
    assert "switches off for safety" in declined[2]["reason"] and "File Output" in declined[2]["reason"]
    assert not planted.exists()
