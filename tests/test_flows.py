"""The requester's and the provider's flows against the real local chain, relay and Blender (bpy wheel).

Covers the two-requesters race that broke manifests bound to a guessed job id, and each typed error on
its path: tampered scene file, tampered frame, wrong party, relay down, chain down, escaping paths.
"""

import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from addon.farm import exchange
from addon.farm.contract import Chunk, JobStatus, RenderFarm
from addon.farm.errors import AuthorizationError, ChainError, IntegrityError, ManifestError, RelayError
from addon.farm.manifest import FrameRange, RenderSettings, SceneFile, SceneManifest, seal_scene_manifest
from addon.farm.relay_client import RelayClient, RelayRefused
from addon.farm.requester import ChunkPlan, Requester, SubmitRequest
from addon.stacks.api import StacksClient
from server.provider.flow import ProviderFlow
from server.provider.render import render_frame
from server.relay.local import RelayProcess, free_port
from tests.farm_world import STX

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def relay(devnet, tmp_path_factory):
    root = tmp_path_factory.mktemp("flows-relay")
    with RelayProcess(root / "data", extra_args=["--node", devnet.url], env={"RELAY_LOG_LEVEL": "warning"}) as proc:
        yield proc


@pytest.fixture(scope="module")
def scene(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("flows-scene") / "shot.blend"
    subprocess.run([sys.executable, "-m", "server.samples.make_sample_scene", str(path)], cwd=ROOT, check=True,
                   capture_output=True, timeout=300)
    return path


def _request(scene: Path, provider: str, frames=(1, 1), extra: dict | None = None) -> SubmitRequest:
    return SubmitRequest(files={"shot.blend": scene, **(extra or {})}, main_blend="shot.blend",
                         blender_version="5.0.1", render=RenderSettings(file_format="PNG"),
                         chunks=[ChunkPlan(provider, FrameRange(*frames), 2 * STX, 100, 600)])


def _render_and_submit(flow: ProviderFlow, job_id: int, out: Path) -> bytes:
    """What the agent does for one chunk; returns r."""
    flow.start(job_id)
    fetched = flow.fetch_scene(job_id)
    r = exchange.new_reveal_secret()
    published = [flow.publish_frame(job_id, render_frame(fetched.blend, frame, out), r)
                 for frame in fetched.manifest.frames.frames()]
    flow.finish(job_id, published, r)
    return r


def test_two_requesters_submitting_at_the_same_moment_both_get_their_frames(world, farm, relay, scene, tmp_path):
    provider = world.provider(gpu_count=2)
    requesters = [world.account(), world.account()]
    barrier, submitted, failures = threading.Barrier(2), {}, []

    def submit(account):
        try:
            with Requester(farm, relay.url, account.private_key) as requester:
                barrier.wait()
                submitted[account.address] = requester.submit(_request(scene, provider.address, (2, 3)))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=submit, args=(a,)) for a in requesters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    job_ids = [submitted[a.address].jobs[0].job_id for a in requesters]
    assert len(set(job_ids)) == 2

    with ProviderFlow(farm, relay.url, provider.private_key, tmp_path / "provider") as flow:
        reveals = {job_id: _render_and_submit(flow, job_id, tmp_path / f"render-{job_id}") for job_id in job_ids}
        for account, job_id in zip(requesters, job_ids, strict=True):
            with Requester(farm, relay.url, account.private_key) as requester:
                review = requester.review(job_id)
                assert review.complete and sorted(review.previews) == [2, 3]
                assert all(p.startswith(b"\x89PNG") for p in review.previews.values())
                requester.approve(job_id)
            flow.claim(job_id, reveals[job_id])
            with Requester(farm, relay.url, account.private_key) as requester:
                written = requester.download(job_id, str(tmp_path / f"out-{job_id}" / "frame_####"))
            assert [p.name for p in written] == ["frame_0002.png", "frame_0003.png"]
            for path, frame in zip(written, (2, 3), strict=True):
                assert path.read_bytes() == (tmp_path / f"render-{job_id}" / f"frame_{frame:05d}.png").read_bytes()
            assert farm.get_job(job_id).status == JobStatus.COMPLETED


def test_a_tampered_scene_file_is_refused_before_rendering(world, farm, relay, scene, tmp_path):
    provider, account = world.provider(), world.account()
    texture = tmp_path / "texture.png"
    texture.write_bytes(os.urandom(5000))
    with Requester(farm, relay.url, account.private_key) as requester:
        submission = requester.submit(_request(scene, provider.address, extra={"tex/texture.png": texture}))
    job_id = submission.jobs[0].job_id
    manifest = submission_manifest(farm, relay, account, job_id)
    blob = relay.data_dir / "blobs" / manifest.file("tex/texture.png").blob[:2] / manifest.file("tex/texture.png").blob
    data = bytearray(blob.read_bytes())
    data[-20] ^= 0xFF
    blob.write_bytes(bytes(data))
    with ProviderFlow(farm, relay.url, provider.private_key, tmp_path / "provider") as flow:
        flow.start(job_id)
        with pytest.raises(IntegrityError, match="texture.png"):
            flow.fetch_scene(job_id)
    assert not (tmp_path / "provider" / f"job-{job_id}" / "scene" / "tex" / "texture.png").exists()


def test_a_file_whose_bytes_differ_from_the_manifest_hash_is_refused(world, farm, relay, scene, tmp_path):
    """The provider checks every file's sha256 as the requester stated it, not only the blob's integrity."""
    provider, account = world.provider(), world.account()
    with RelayClient(relay.url, account.private_key) as rc:
        from addon.farm import crypto

        up = rc.upload_files([scene], crypto.requester_file_secret(account.private_key)).files[0]
    item = SceneFile("shot.blend", up.blob_id, up.key.hex(), "00" * 32, up.size)
    job_id = _job_with_manifest(farm, relay, account, provider, [item], tmp_path)
    with ProviderFlow(farm, relay.url, provider.private_key, tmp_path / "provider") as flow:
        with pytest.raises(IntegrityError, match="does not match the requester's hash: refused before rendering"):
            flow.fetch_scene(job_id)
    assert not (tmp_path / "provider" / f"job-{job_id}" / "scene" / "shot.blend").exists()


def test_manifest_paths_leaving_the_job_are_refused_before_any_file_is_written(world, farm, relay, tmp_path):
    provider, account = world.provider(), world.account()
    items = [SceneFile("shot.blend", "ab" * 32, "ab" * 32, "ab" * 32, 1),
             SceneFile("../../escaped.txt", "cd" * 32, "ab" * 32, "ab" * 32, 1)]
    job_id = _job_with_manifest(farm, relay, account, provider, items, tmp_path)
    with ProviderFlow(farm, relay.url, provider.private_key, tmp_path / "provider") as flow:
        with pytest.raises(ManifestError, match="leaves the package"):
            flow.fetch_scene(job_id)
    assert not list((tmp_path / "provider").rglob("*"))
    assert not (tmp_path / "escaped.txt").exists()


def test_a_tampered_frame_is_refused_and_not_kept(world, farm, relay, scene, tmp_path):
    provider, account = world.provider(), world.account()
    with Requester(farm, relay.url, account.private_key) as requester:
        job_id = requester.submit(_request(scene, provider.address)).jobs[0].job_id
        with ProviderFlow(farm, relay.url, provider.private_key, tmp_path / "provider") as flow:
            r = _render_and_submit(flow, job_id, tmp_path / "render")
            requester.approve(job_id)
            flow.claim(job_id, r)
        frame = requester.result(job_id).frames[0]
        blob = relay.data_dir / "blobs" / frame.blob[:2] / frame.blob
        data = bytearray(blob.read_bytes())
        data[40] ^= 1
        blob.write_bytes(bytes(data))
        with pytest.raises(IntegrityError):
            requester.download(job_id, str(tmp_path / "out" / "f_#"))
    assert not list((tmp_path / "out").glob("f_*"))


def test_only_the_jobs_parties_get_in(world, farm, relay, scene, tmp_path):
    provider, other_provider, account, stranger = world.provider(), world.provider(), world.account(), world.account()
    with Requester(farm, relay.url, account.private_key) as requester:
        job_id = requester.submit(_request(scene, provider.address)).jobs[0].job_id
    with Requester(farm, relay.url, stranger.private_key) as intruder:
        with pytest.raises(AuthorizationError, match="belongs to"):
            intruder.review(job_id)
        with pytest.raises(RelayRefused) as refused:  # the relay refuses it too, whatever the client checks
            intruder.relay.jobs.get_scene_manifest(job_id)
        assert refused.value.status == 403
    with ProviderFlow(farm, relay.url, other_provider.private_key, tmp_path / "other") as flow:
        with pytest.raises(AuthorizationError, match="not to this provider"):
            flow.fetch_scene(job_id)


def test_an_unreachable_relay_is_a_relay_error_and_nothing_is_created_on_chain(world, farm, scene):
    provider, account = world.provider(), world.account()
    dead = RelayClient(f"http://127.0.0.1:{free_port()}", account.private_key, retries=1, backoff=0.01)
    before = farm.get_requester_stats(account.address).jobs
    with Requester(farm, dead, account.private_key) as requester:
        with pytest.raises(RelayError, match="unreachable"):
            requester.submit(_request(scene, provider.address))
    assert farm.get_requester_stats(account.address).jobs == before


def test_an_unreachable_chain_is_a_chain_error(world, farm, relay, scene, tmp_path):
    provider, account = world.provider(), world.account()
    down = RenderFarm(StacksClient("devnet", api_url=f"http://127.0.0.1:{free_port()}", timeout=2),
                      farm.contract_id)
    with Requester(down, relay.url, account.private_key) as requester:
        with pytest.raises(ChainError, match="reading provider"):
            requester.submit(_request(scene, provider.address))
    with ProviderFlow(down, relay.url, provider.private_key, tmp_path) as flow:
        with pytest.raises(ChainError, match="reading job 1"):
            flow.fetch_scene(1)


# ---- helpers


def submission_manifest(farm, relay, account, job_id) -> SceneManifest:
    with Requester(farm, relay.url, account.private_key) as requester:
        return requester.scene_manifest(job_id)


def _job_with_manifest(farm, relay, account, provider, files, tmp_path) -> int:
    """A job whose sealed manifest the test wrote by hand (bypassing the requester flow's own checks)."""
    manifest = SceneManifest(requester=account.address, provider=provider.address, blender_version="5.0.1",
                             main_blend="shot.blend", frames=FrameRange(1, 1), render=RenderSettings(), files=files)
    envelope = seal_scene_manifest(manifest, account.private_key, farm.get_provider(provider.address).public_key)
    job_id = farm.create_job(account.private_key, Chunk(provider.address, 2 * STX, 100, 600,
                                                        hashlib.sha256(envelope).digest(), 1, 1))
    with RelayClient(relay.url, account.private_key) as rc:
        rc.jobs.put_scene_manifest(job_id, envelope, [])
    return job_id
