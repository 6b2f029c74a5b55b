"""Helpers for the provider agent's tests: a tiny scene, a relay, a requester that submits jobs, an agent
running in a thread, and a per-pixel comparison of PNGs through Blender's own image loader."""

import hashlib
import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from addon.farm import crypto, exchange
from addon.farm.contract import Chunk, JobStatus
from addon.farm.relay_client import RelayClient
from addon.stacks import keys
from server.provider.agent import Agent, AgentConfig
from server.provider.interim_flow import seal_scene_manifest

ROOT = Path(__file__).resolve().parent.parent
STX = 1_000_000

_TINY_SCENE = r"""
import sys, bpy
from server.samples.make_sample_scene import build
build(sys.argv[1])
scene = bpy.context.scene
scene.render.resolution_x = scene.render.resolution_y = 32
scene.render.resolution_percentage = 100
scene.cycles.samples = 2
scene.cycles.use_denoising = False
scene.cycles.seed = 7
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
"""


def tiny_scene(path: Path) -> Path:
    """The bundled sample scene at 32x32 px and 2 samples (a frame renders in well under a second)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", _TINY_SCENE, str(path)], cwd=ROOT, check=True, capture_output=True,
                       timeout=300)
    return path


@dataclass
class Requester:
    """The requester's side of a job, as the add-on will do it (until the lead's flows land)."""

    farm: object
    private_key: str
    address: str
    relay_url: str

    def shared(self, provider_public_key: bytes) -> bytes:
        return exchange.shared_secret(self.private_key, provider_public_key)

    def submit(self, provider, scene: Path, frames: tuple[int, int], *, reward: int = 2 * STX,
               extra_manifest: dict | None = None, estimated_duration: int = 600) -> int:
        with RelayClient(self.relay_url, self.private_key) as rc:
            report = rc.upload_files([scene], crypto.requester_file_secret(self.private_key))
            (uploaded,) = report.files
            manifest = {"files": [{"path": scene.name, "blob": uploaded.blob_id, "key": uploaded.key.hex(),
                                   "sha256": uploaded.plaintext_sha256, "size": uploaded.size}],
                        "frames": list(frames), "main": scene.name, **(extra_manifest or {})}
            job_id = self.farm.get_platform_stats().next_job_id
            sealed = seal_scene_manifest(manifest, self.private_key, provider_public_key(provider), job_id)
            chunk = Chunk(provider.address, reward, complexity=300, estimated_duration=estimated_duration,
                          scene_hash=hashlib.sha256(sealed).digest(), frame_start=frames[0], frame_end=frames[1])
            created = self.farm.create_job(self.private_key, chunk, relay_url=self.relay_url)
            assert created == job_id, "another job was created meanwhile"
            rc.put_scene_manifest(job_id, sealed, [uploaded.blob_id])  # the relay accepts it once the job exists
        return job_id

    def frames(self, job_id: int, provider, out: Path) -> list[Path]:
        """After the claim: read r from the chain and decrypt every frame."""
        shared = self.shared(provider_public_key(provider))
        r = self.farm.get_job(job_id).secret
        secret = exchange.frames_secret(shared, job_id, r)
        written = []
        with RelayClient(self.relay_url, self.private_key) as rc:
            sealed, _ = rc.get_result_manifest(job_id)
            listing = json.loads(crypto.decrypt_bytes(exchange.result_manifest_key(shared, job_id), sealed))["frames"]
            for item in listing:
                path = out / f"frame_{item['frame']:05d}.png"
                rc.download_file(item["blob"], crypto.file_key(secret, bytes.fromhex(item["sha256"])), path)
                assert crypto.sha256_file(path).hex() == item["sha256"]
                written.append(path)
        return written

    def previews(self, job_id: int, provider) -> list[bytes]:
        shared = self.shared(provider_public_key(provider))
        with RelayClient(self.relay_url, self.private_key) as rc:
            return [crypto.decrypt_bytes(exchange.preview_key(shared, job_id), rc.get_preview(job_id, p["name"]))
                    for p in rc.list_previews(job_id)]


def provider_public_key(account) -> bytes:
    return keys.compress_public_key(keys.public_key_from_private_key(account.private_key))


def agent_config(devnet, farm, data_dir: Path, **overrides) -> AgentConfig:
    base = dict(node_url=devnet.url, contract_id=farm.contract_id, data_dir=data_dir, sandbox=False,
                min_accept_seconds=60, poll_seconds=0.2, bond=10 * STX, retry_max_seconds=2.0)
    return AgentConfig(**(base | overrides))


class AgentThread:
    """An Agent running in a thread of the test process; `events` collects what it reported."""

    def __init__(self, config: AgentConfig, private_key: str, **kwargs):
        self.events: list[tuple[str, str, dict]] = []
        self.agent = Agent(config, private_key, on_event=lambda *e: self.events.append(e), **kwargs)
        self.thread = threading.Thread(target=self.agent.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.agent.stop()
        self.thread.join(60)

    def wait_for(self, event: str, timeout: float = 120, **fields) -> tuple:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in list(self.events):
                if e[0] == event and all(e[2].get(k) == v for k, v in fields.items()):
                    return e
            time.sleep(0.05)
        raise AssertionError(f"no {event} {fields} within {timeout} s; events: {[e[1] for e in self.events]}")


def wait_status(farm, job_id: int, status: JobStatus, timeout: float = 180) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = farm.get_job(job_id)
        if job.status == status:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is {farm.get_job(job_id).status.name}, not {status.name}, after {timeout} s")


_COMPARE = r"""
import json, sys
import bpy
import numpy as np
out = []
for a, b in json.loads(sys.argv[1]):
    pa, pb = (np.array(bpy.data.images.load(p).pixels[:]) for p in (a, b))
    out.append(float(np.abs(pa - pb).max()) if pa.shape == pb.shape else 99.0)
print("DIFF " + json.dumps(out))
"""


def max_pixel_differences(pairs: list[tuple[Path, Path]]) -> list[float]:
    """For each pair of PNGs, the largest difference of any channel of any pixel (0..1, 1/255 per step)."""
    result = subprocess.run([sys.executable, "-c", _COMPARE, json.dumps([[str(a), str(b)] for a, b in pairs])],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, check=True)
    line = next(x for x in result.stdout.splitlines() if x.startswith("DIFF "))
    return json.loads(line[5:])
