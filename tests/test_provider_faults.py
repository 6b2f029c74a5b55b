"""The provider agent under faults, with real processes: SIGKILL mid-chunk and a restart that does not
re-render uploaded frames, the relay down for a while, the node unreachable."""

import time
from urllib.parse import urlparse

import pytest

from addon.farm.contract import JobStatus
from addon.farm.requester import Requester
from server.provider import state as S
from server.relay.local import RelayProcess
from tests.provider_fixtures import (
    AgentProcess,
    AgentThread,
    PausableProxy,
    agent_config,
    key_file,
    submit,
    tiny_scene,
    wait_status,
)

pytestmark = pytest.mark.usefixtures("conservation")
KILL_CHUNK_FRAMES = 30


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    return tiny_scene(tmp_path_factory.mktemp("scene") / "tiny.blend")


@pytest.fixture
def relay(devnet, tmp_path):
    process = RelayProcess(tmp_path / "relay", extra_args=["--node", devnet.url], env={"RELAY_LOG_LEVEL": "warning"})
    with process:
        yield process


@pytest.fixture
def requester(world, farm, relay):
    account = world.account()
    with Requester(farm, relay.url, account.private_key) as flow:
        yield flow


def test_sigkill_mid_chunk_then_restart_finishes_without_rerendering(world, farm, devnet, relay, scene,
                                                                     requester, tmp_path):
    provider = world.account()
    key = key_file(tmp_path / "provider.key", provider.private_key)
    agent = AgentProcess(key, devnet.url, farm.contract_id, relay.url, tmp_path / "agent").start()
    try:
        agent.wait_for("ready", timeout=90)
        # Enough frames that the kill lands mid-chunk however fast the machine renders the tiny scene.
        job_id = submit(requester, provider, scene, (1, KILL_CHUNK_FRAMES))
        before = agent.wait_for("frame_uploaded", count=2, job_id=job_id)
        agent.kill()  # the agent and its Blender child, mid-chunk
        uploaded_before = {e["frame"] for e in agent.events() if e.get("event") == "frame_uploaded"}
        assert uploaded_before >= {e["frame"] for e in before} and len(uploaded_before) < KILL_CHUNK_FRAMES  # mid-chunk
        assert farm.get_job(job_id).status == JobStatus.IN_PROGRESS
        state = S.AgentState(tmp_path / "agent", provider.private_key)
        kept = state.uploaded_frames(job_id)
        assert set(kept) == uploaded_before  # recorded as each upload finished
        state.close()

        agent.start()
        resumed = agent.wait_for("job_resumed", job_id=job_id, timeout=90)[0]
        assert resumed["uploaded"] == len(uploaded_before)
        wait_status(farm, job_id, JobStatus.SUBMITTED, timeout=180)
        after = {e["frame"] for e in agent.events() if e.get("event") == "frame_uploaded"}
        # Nothing uploaded before the kill was redone.
        assert after == set(range(1, KILL_CHUNK_FRAMES + 1)) - uploaded_before
        review = requester.review(job_id)
        assert review.complete
        assert {f.frame: f.blob for f in review.result.frames if f.frame in kept} == \
            {frame: item["blob"] for frame, item in kept.items()}
        requester.approve(job_id)
        wait_status(farm, job_id, JobStatus.COMPLETED, timeout=60)
        assert agent.stop() == 0
    finally:
        agent.kill()
    assert not farm.get_provider(provider.address).available  # the clean stop switched it off
    frames = requester.download(job_id, lambda frame, ext: tmp_path / "out" / f"{frame}{ext}")
    assert len(frames) == KILL_CHUNK_FRAMES


def test_relay_down_for_a_while_is_retried_without_losing_frames(world, farm, devnet, relay, scene, requester,
                                                                 tmp_path):
    provider = world.account()
    with AgentThread(agent_config(devnet, farm, tmp_path / "agent"), provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        job_id = submit(requester, provider, scene, (1, 4))
        run.wait_for("frame_uploaded", job_id=job_id, frame=1)
        relay.kill()
        run.wait_for("relay_unreachable", timeout=60)
        time.sleep(3)  # down for a while: renders go on, uploads wait
        relay.start()
        wait_status(farm, job_id, JobStatus.SUBMITTED, timeout=180, run=run)
        assert requester.review(job_id).complete
    messages = [e[1] for e in run.events if e[0] == "relay_unreachable"]
    assert any("the relay is unreachable" in m and "retrying in" in m for m in messages), messages


def test_node_unreachable_is_retried_with_a_readable_log_line(world, farm, devnet, relay, scene, requester,
                                                              tmp_path):
    provider = world.account()
    proxy = PausableProxy(urlparse(devnet.url).port)
    proxy.up()
    config = agent_config(devnet, farm, tmp_path / "agent", node_url=proxy.url)
    with AgentThread(config, provider.private_key) as run:
        run.wait_for("ready", timeout=60)
        proxy.down()
        run.wait_for("node_unreachable", timeout=90)
        job_id = submit(requester, provider, scene, (1, 2))  # created while the agent cannot see the chain
        time.sleep(2)
        proxy.up()
        wait_status(farm, job_id, JobStatus.SUBMITTED, timeout=180, run=run)
    proxy.down()
    line = next(e[1] for e in run.events if e[0] == "node_unreachable")
    assert "the node is unreachable" in line and "retrying in" in line and proxy.url.split("//")[1] in line
