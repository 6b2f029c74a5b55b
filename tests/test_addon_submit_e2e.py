"""The headless submit the issue asks for: `python -m addon submit … --wait` against a local chain that
mines a block every second, a relay and two provider agents, 8 frames in 2 chunks on 2 providers. No
provider and no reward is given: the providers are found on chain and each chunk pays its provider's
price for the estimate's complexity.

The frames written match a direct render of the same frames, the artist's .blend is byte-identical
afterwards, and the job list and the wallet's transaction journal hold what was done.
"""

import hashlib
import os
import subprocess
import sys

import pytest

from addon.farm import keystore
from addon.farm.contract import JobStatus, RenderFarm
from addon.farm.estimate import CHUNK_STARTUP_SECONDS
from addon.farm.job_list import JobList
from addon.farm.planning import list_providers
from addon.farm.relay_client import RelayClient
from addon.farm.relay_errors import RelayRefused
from addon.farm.tx_journal import TxJournal
from addon.stacks.api import StacksClient
from server.devnet import Devnet
from server.provider.render import render_frame
from server.relay.local import RelayProcess
from tests.farm_world import World
from tests.provider_fixtures import ROOT, AgentThread, agent_config, max_pixel_differences, tiny_scene

PIXEL_TOLERANCE = 2 / 255  # as tests/test_provider_agent.py: same seed, float reordering only
PASSPHRASE = "render farm e2e"


@pytest.fixture(scope="module")
def slow_world(tmp_path_factory):
    with Devnet(block_time=1.0) as devnet:
        accounts = {a["name"]: a for a in devnet.accounts()}
        with StacksClient("devnet", api_url=devnet.url) as client:
            farm = RenderFarm(client, f"{accounts['deployer']['address']}.render-farm")
            with RelayProcess(tmp_path_factory.mktemp("relay") / "data", extra_args=["--node", devnet.url],
                              env={"RELAY_LOG_LEVEL": "warning"}) as relay:
                yield devnet, farm, relay, World(devnet, farm)


def cli(*args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "addon", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def artist(slow_world, tmp_path):
    """A funded requester with its wallet in a fresh home; the CLI's environment and connection flags."""
    devnet, farm, relay, world = slow_world
    requester = world.account()
    home = tmp_path / "home"
    home.mkdir()
    keystore.create_keystore(home / "wallet.json", PASSPHRASE, private_key=requester.private_key, scrypt_n=2**14)
    env = dict(os.environ, RENDER_FARM_PASSPHRASE=PASSPHRASE, RENDER_FARM_HOME=str(home))
    connection = ["--network", "local", "--node", devnet.url, "--relay", relay.url, "--contract", farm.contract_id]
    return requester, home, env, connection


def test_headless_submit_wait_renders_8_frames_on_2_providers(slow_world, tmp_path):
    devnet, farm, relay, world = slow_world
    scene = tiny_scene(tmp_path / "artist" / "tiny.blend")
    before = hashlib.sha256(scene.read_bytes()).hexdigest()
    requester, home, env, connection = artist(slow_world, tmp_path)
    providers = [world.account(), world.account()]
    out = tmp_path / "frames"
    with AgentThread(agent_config(devnet, farm, tmp_path / "agent-a"), providers[0].private_key) as a, \
            AgentThread(agent_config(devnet, farm, tmp_path / "agent-b"), providers[1].private_key) as b:
        a.wait_for("ready", timeout=90)
        b.wait_for("ready", timeout=90)
        assert {p.address for p in list_providers(farm)} == {p.address for p in providers}  # only the agents
        result = cli("submit", str(scene), "--frames", "1-8", "--chunk", "4", "--providers", "2", "--max-cost", "1",
                     "--out", str(out), "--wait", "--timeout", "400", *connection, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert "all frames written (2 chunks)" in result.stdout
    # The plan was shown before sending: the providers' price, not a lump.
    assert "at its provider's price" in result.stderr, result.stderr[-3000:]
    # No --complexity: each chunk's complexity is the estimate's (feature model: 4 frames' work plus the
    # chunk's start-up), and without --reward its reward is that complexity at the provider's price.
    per_frame = float(result.stdout.split("estimate: about ")[1].split()[0])

    records = JobList(home).records(farm.contract_id)
    assert len(records) == 2 and {r.provider for r in records} == {p.address for p in providers}
    assert all(r.downloaded for r in records)
    assert [(r.frame_start, r.frame_end) for r in sorted(records, key=lambda r: r.frame_start)] == [(1, 4), (5, 8)]
    assert all(farm.get_job(r.job_id).status == JobStatus.COMPLETED for r in records)
    for record in records:
        job = farm.get_job(record.job_id)
        assert job.complexity == pytest.approx(4 * per_frame + CHUNK_STARTUP_SECONDS, abs=1)
        assert job.reward == record.reward == job.complexity * farm.get_provider(job.provider).price_per_unit
    journal = TxJournal(home / "transactions.sqlite3")
    functions = [e.function for e in journal.entries()]
    assert functions.count("create-jobs") == 1 and functions.count("approve-result") == 2
    assert not journal.pending()
    journal.close()

    received = sorted(out.glob("*.png"))
    assert [p.name for p in received] == [f"frame_{n:04d}.png" for n in range(1, 9)]  # the scene's naming
    direct = [render_frame(scene, n, tmp_path / "direct").image for n in range(1, 9)]
    diffs = max_pixel_differences(list(zip(received, direct, strict=True)))
    assert max(diffs) <= PIXEL_TOLERANCE, diffs
    assert hashlib.sha256(scene.read_bytes()).hexdigest() == before  # the artist's file was only read

    status = cli("status", *connection, env=env, timeout=120)
    assert status.returncode == 0 and status.stdout.count("downloaded") == 2, status.stdout + status.stderr


def test_submit_refuses_bad_input_clearly(tmp_path):
    env = dict(os.environ, RENDER_FARM_HOME=str(tmp_path))
    no_reward = cli("submit", "missing.blend", "--reward", "0", env=env, timeout=60)
    assert no_reward.returncode == 2 and "must be above 0 STX" in no_reward.stderr
    no_wallet = cli("submit", "missing.blend", env=env, timeout=60)
    assert no_wallet.returncode == 2 and "no key file" in no_wallet.stderr


def test_unreachable_chain_is_a_clear_error_within_10_s(tmp_path):
    from server.relay.local import free_port

    home = tmp_path / "home"
    home.mkdir()
    keystore.create_keystore(home / "wallet.json", PASSPHRASE, scrypt_n=2**14)
    scene = tiny_scene(tmp_path / "artist" / "tiny.blend")
    before = hashlib.sha256(scene.read_bytes()).hexdigest()
    env = dict(os.environ, RENDER_FARM_PASSPHRASE=PASSPHRASE, RENDER_FARM_HOME=str(home))
    dead = f"http://127.0.0.1:{free_port()}"
    import time

    started = time.monotonic()
    result = cli("submit", str(scene), "--frames", "1-2", "--reward", "1", "--provider",
                 "ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG", "--node", dead, "--relay", dead, env=env, timeout=120)
    # Packing a tiny scene takes a few seconds of that; the chain's refusal itself is immediate.
    assert time.monotonic() - started < 10 + 15, result.stderr
    assert result.returncode == 1 and "error:" in result.stderr and dead in result.stderr, result.stderr[-2000:]
    assert JobList(home).records() == []  # nothing recorded, nothing created
    assert hashlib.sha256(scene.read_bytes()).hexdigest() == before


def test_submit_status_and_cancel_from_the_command_line(slow_world, tmp_path):
    devnet, farm, relay, world = slow_world
    scene = tiny_scene(tmp_path / "artist" / "tiny.blend")
    requester, home, env, connection = artist(slow_world, tmp_path)
    idle = world.provider(gpu_count=1)  # registered, but no agent: the chunk stays pending
    before = farm.client.get_balance(requester.address)
    submitted = cli("submit", str(scene), "--frames", "1-2", "--chunk", "2", "--reward", "1", "--provider",
                    idle.address, *connection, env=env)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    (record,) = JobList(home).records(farm.contract_id)
    status = cli("status", *connection, env=env, timeout=120)
    assert status.returncode == 0 and f"job {record.job_id}" in status.stdout and "pending" in status.stdout
    assert record.manifest_sent and "run `resume`" not in status.stdout
    nothing = cli("resume", *connection, env=env, timeout=120)
    assert nothing.returncode == 0 and "nothing to resume" in nothing.stdout, nothing.stderr[-2000:]
    # What a relay failure after create-jobs leaves: the chunk listed unsent and no manifest on the relay.
    with RelayClient(relay.url, requester.private_key) as client:
        client.jobs.delete(record.job_id)
        with pytest.raises(RelayRefused):
            client.jobs.get_scene_manifest(record.job_id)
        JobList(home).update(record.job_id, farm.contract_id, manifest_sent=False)
        status = cli("status", *connection, env=env, timeout=120)
        assert "manifest not on the relay: run `resume`" in status.stdout, status.stdout + status.stderr
        resumed = cli("resume", *connection, env=env, timeout=120)
        assert resumed.returncode == 0 and f"job {record.job_id}: manifest stored" in resumed.stdout, \
            resumed.stdout + resumed.stderr[-2000:]
        envelope = client.jobs.get_scene_manifest(record.job_id).data
    assert hashlib.sha256(envelope).digest() == farm.get_job(record.job_id).scene_hash
    assert JobList(home).get(record.job_id, farm.contract_id).manifest_sent
    # A relay that lost the files too (here: a fresh one): resume uploads them from the package folder first.
    with RelayProcess(tmp_path / "empty-relay", extra_args=["--node", devnet.url],
                      env={"RELAY_LOG_LEVEL": "warning"}) as empty:
        JobList(home).update(record.job_id, farm.contract_id, manifest_sent=False)
        moved = [empty.url if arg == relay.url else arg for arg in connection]
        resumed = cli("resume", *moved, env=env, timeout=120)
        assert resumed.returncode == 0 and "files of job" in resumed.stdout + resumed.stderr, \
            resumed.stdout + resumed.stderr[-2000:]
        with RelayClient(empty.url, requester.private_key) as client:
            manifest = client.jobs.get_scene_manifest(record.job_id)
            assert manifest.blob_ids and client.blobs.missing(manifest.blob_ids) == []
    approve = cli("approve", str(record.job_id), *connection, env=env, timeout=120)
    assert approve.returncode == 1 and "has no result yet" in approve.stderr  # a clear refusal, nothing sent
    cancel = cli("cancel", str(record.job_id), *connection, env=env, timeout=120)
    assert cancel.returncode == 0 and "1 STX back to the wallet" in cancel.stdout, cancel.stderr[-2000:]
    assert farm.get_job(record.job_id).status == JobStatus.CANCELLED
    fees = before - farm.client.get_balance(requester.address)
    assert 0 < fees < 100_000  # the reward came back; only the two transactions' fees were spent
