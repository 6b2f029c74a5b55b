"""Job documents, previews and progress between a requester and its provider, over real HTTP; plus GC,
metrics and the OpenAPI schema."""

import hashlib
import json
import subprocess
import sys
import threading
import time

import httpx
import pytest

from addon.farm import crypto
from addon.farm import relay_protocol as proto
from addon.farm.relay_client import RelayClient, RelayRefused
from addon.stacks.keys import address_from_private_key, make_private_key, public_key_from_private_key
from server.relay.local import RelayHarness

JOB = 21


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("relay-jobs")
    with RelayHarness(root) as h:
        requester, provider = make_private_key(), make_private_key()
        h.jobs.set_job(
            JOB, address_from_private_key(requester, "testnet"), address_from_private_key(provider, "testnet")
        )
        with RelayClient(h.url, requester) as rc, RelayClient(h.url, provider) as pc:
            yield h, (requester, rc), (provider, pc)


def test_scene_travels_encrypted_from_requester_to_provider(env, tmp_path):
    h, (requester, rc), (provider, pc) = env
    scene = tmp_path / "scene"
    scene.mkdir()
    (scene / "scene.blend").write_bytes(b"BLENDER-v500" + bytes(range(256)) * 4000)
    (scene / "tex.png").write_bytes(b"\x89PNG" + b"\x01" * 123_457)
    report = rc.upload_files(sorted(scene.iterdir()), crypto.requester_file_secret(requester))

    manifest = {
        "files": [{"path": f.path.rsplit("/", 1)[-1], "blob": f.blob_id, "key": f.key.hex()} for f in report.files]
    }
    shared = crypto.ecdh_shared_secret(requester, public_key_from_private_key(provider))
    sealed = crypto.encrypt_message(crypto.job_key(shared, JOB, "scene-manifest"), json.dumps(manifest).encode())
    stored = rc.jobs.put_scene_manifest(JOB, sealed, [f.blob_id for f in report.files])
    assert stored.sha256 == hashlib.sha256(sealed).hexdigest()

    # Provider side: derive the same key from its own secret, open the manifest, fetch every file.
    document = pc.jobs.get_scene_manifest(JOB)
    ciphertext, refs = document.data, document.blob_ids
    assert sorted(refs) == sorted(f.blob_id for f in report.files)
    shared_p = crypto.ecdh_shared_secret(provider, public_key_from_private_key(requester))
    opened = json.loads(crypto.decrypt_bytes(crypto.job_key(shared_p, JOB, "scene-manifest"), ciphertext))
    for entry in opened["files"]:
        out = tmp_path / "provider" / entry["path"]
        pc.download_file(entry["blob"], bytes.fromhex(entry["key"]), out)
        assert out.read_bytes() == (scene / entry["path"]).read_bytes()


def test_manifest_must_reference_existing_blobs(env):
    _, (_, rc), _ = env
    with pytest.raises(RelayRefused) as err:
        rc.jobs.put_scene_manifest(JOB, b"x", ["e" * 64])
    assert err.value.status == 409 and err.value.details["missing"] == ["e" * 64]


def test_manifest_hash_committed_on_chain_is_enforced(env):
    h, (requester, rc), (provider, _) = env
    good = b"the manifest committed on chain"
    h.jobs.set_job(
        22,
        address_from_private_key(requester, "testnet"),
        address_from_private_key(provider, "testnet"),
        hashlib.sha256(good).digest(),
    )
    with pytest.raises(RelayRefused) as err:
        rc.jobs.put_scene_manifest(22, b"something else", [])
    assert err.value.code == "manifest_hash_mismatch"
    assert rc.jobs.put_scene_manifest(22, good, []).sha256 == hashlib.sha256(good).hexdigest()


def test_previews_and_result_manifest(env):
    _, (_, rc), (_, pc) = env
    pc.jobs.put_preview(JOB, "frame_0001.jpg", b"jpeg-ciphertext-1")
    pc.jobs.put_preview(JOB, "frame_0002.jpg", b"jpeg-ciphertext-2")
    assert [p.name for p in rc.jobs.list_previews(JOB)] == ["frame_0001.jpg", "frame_0002.jpg"]
    assert rc.jobs.get_preview(JOB, "frame_0002.jpg") == b"jpeg-ciphertext-2"
    with pytest.raises(RelayRefused) as err:
        pc.jobs.put_preview(JOB, "../../etc/passwd", b"x")
    assert err.value.status in (404, 422)
    summary = rc.jobs.summary(JOB)
    assert summary.previews == 2 and summary.scene_manifest is True


def test_requester_follows_progress_by_long_poll(env):
    _, (_, rc), (_, pc) = env
    start_seq = rc.jobs.progress(JOB).last_seq

    def post_later():
        time.sleep(0.5)
        pc.jobs.post_progress(JOB, 3, 10, eta_seconds=42.0, message="rendering")

    t = threading.Thread(target=post_later)
    t.start()
    t0 = time.monotonic()
    page = rc.jobs.progress(JOB, after=start_seq, wait=10)
    waited = time.monotonic() - t0
    t.join()
    assert [(e.frames_done, e.frames_total, e.message) for e in page.events] == [(3, 10, "rendering")]
    assert 0.3 < waited < 9, "the long-poll returned when the heartbeat arrived, not at its timeout"
    empty = rc.jobs.progress(JOB, after=page.last_seq, wait=0.2)
    assert empty.events == [] and empty.last_seq == page.last_seq


def test_requester_follows_progress_by_sse(env):
    h, (requester, rc), (_, pc) = env
    after = rc.jobs.progress(JOB).last_seq
    path = f"/v1/jobs/{JOB}/progress/stream?after={after}"
    headers = rc.transport._headers("GET", path, proto.body_hash(b""))
    got = []

    def post_two():
        time.sleep(0.3)
        pc.jobs.post_progress(JOB, 5, 10)
        pc.jobs.post_progress(JOB, 6, 10)

    t = threading.Thread(target=post_two)
    t.start()
    with httpx.stream("GET", h.url + path, headers=headers, timeout=20) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                got.append(json.loads(line[6:])["frames_done"])
                if len(got) == 2:
                    break
    t.join()
    assert got == [5, 6]


def test_gc_collects_only_unreferenced_blobs_after_grace(tmp_path):
    with RelayHarness(tmp_path / "gc") as h:
        requester = make_private_key()
        h.jobs.set_job(1, address_from_private_key(requester, "testnet"))
        with RelayClient(h.url, requester) as c:
            kept, dropped = b"referenced" * 1000, b"orphan" * 1000
            for data in (kept, dropped):
                c.upload_blob(hashlib.sha256(data).hexdigest(), len(data), lambda off, d=data: iter([d[off:]]))
            kept_id, dropped_id = hashlib.sha256(kept).hexdigest(), hashlib.sha256(dropped).hexdigest()
            c.jobs.put_scene_manifest(1, b"m", [kept_id])
        h.relay.stop()
        gc = h.relay.__class__(h.relay.data_dir, jobs_table=h.relay.jobs_table, port=h.relay.port)

        def gc_once(grace):
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "server.relay",
                    "--data",
                    str(h.relay.data_dir),
                    "--jobs-table",
                    str(h.relay.jobs_table),
                    "--gc-once",
                    "--gc-grace",
                    str(grace),
                    "--log-level",
                    "warning",
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            return out.stdout

        assert "'blobs': 0" in gc_once(3600)  # within the grace period nothing goes
        assert "'blobs': 1" in gc_once(0)
        with gc:
            with RelayClient(h.url, requester) as c:
                assert c.missing([kept_id, dropped_id]) == [dropped_id]
                c.jobs.delete(1)
        assert "'blobs': 1" in gc_once(0)
        with gc:
            with RelayClient(h.url, requester) as c:
                assert c.missing([kept_id]) == [kept_id]


def test_metrics_openapi_and_info(env):
    h, (_, rc), _ = env
    rc.missing(["0" * 64])
    metrics = httpx.get(h.url + "/metrics").text
    assert 'relay_requests_total{method="POST",route="/v1/blobs/missing",status="200"}' in metrics
    assert "relay_request_seconds_count" in metrics and "relay_blobs " in metrics
    schema = httpx.get(h.url + "/openapi.json").json()
    assert "/v1/uploads/{blob_id}" in schema["paths"] and "/v1/jobs/{job_id}/progress" in schema["paths"]
    assert httpx.get(h.url + "/v1/info").json()["network"] == "testnet"
