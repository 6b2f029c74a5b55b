"""Helpers for the provider agent's tests: a tiny scene, a relay, a requester that submits jobs, an agent
running in a thread, and a per-pixel comparison of PNGs through Blender's own image loader."""

import hashlib
import json
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

from addon.farm.contract import Chunk, JobStatus
from addon.farm.manifest import FrameRange, RenderSettings, SceneFile, SceneManifest, seal_scene_manifest
from addon.farm.requester import ChunkPlan, Requester, SubmitRequest
from addon.stacks import keys
from server.provider.agent import AgentConfig, AgentThread  # noqa: F401  (re-exported for the tests)

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


def blender_version() -> str:
    return metadata.version("bpy")


def submit(requester: Requester, provider, scene: Path, frames: tuple[int, int], *, reward: int = 2 * STX,
           blender: str | None = None) -> int:
    """One chunk through the requester's flow, as the add-on sends it; returns its job id."""
    request = SubmitRequest(files={scene.name: scene}, main_blend=scene.name,
                            blender_version=blender or blender_version(), render=RenderSettings(file_format="PNG"),
                            chunks=[ChunkPlan(provider.address, FrameRange(*frames), reward, complexity=300,
                                              estimated_duration=600)])
    (job,) = requester.submit(request).jobs
    return job.job_id


def submit_forged(requester: Requester, provider, files: list[SceneFile], frames: tuple[int, int] = (1, 1)) -> int:
    """A job whose manifest lists `files` as given (sizes or paths a real add-on would never write)."""
    manifest = SceneManifest(requester=requester.address, provider=provider.address, blender_version=blender_version(),
                             main_blend=files[0].path, frames=FrameRange(*frames), render=RenderSettings(), files=files)
    envelope = seal_scene_manifest(manifest, requester.private_key, provider_public_key(provider))
    chunk = Chunk(provider.address, STX, 300, 600, hashlib.sha256(envelope).digest(), *frames)
    job_id = requester.farm.create_job(requester.private_key, chunk, relay_url=requester.relay.base_url)
    requester.relay.jobs.put_scene_manifest(job_id, envelope, [])
    return job_id


def provider_public_key(account) -> bytes:
    return keys.compress_public_key(keys.public_key_from_private_key(account.private_key))


def agent_config(devnet, farm, data_dir: Path, **overrides) -> AgentConfig:
    base = dict(node_url=devnet.url, contract_id=farm.contract_id, data_dir=data_dir, sandbox=True,
                min_accept_seconds=60, poll_seconds=0.2, bond=10 * STX, retry_max_seconds=2.0)
    return AgentConfig(**(base | overrides))


def wait_status(farm, job_id: int, status: JobStatus, timeout: float = 180, run: "AgentThread | None" = None):
    """Wait for the job's status on chain; fail at once if the agent reported the job failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = farm.get_job(job_id)
        if job.status == status:
            return job
        failed = [e[1] for e in (run.events if run else []) if e[0] == "job_failed" and e[2]["job_id"] == job_id]
        assert not failed, failed
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


# ---- the agent as a separate process (for SIGKILL) --------------------------------------------------

PASSPHRASE = "test passphrase"


def key_file(path: Path, private_key: str) -> Path:
    """An encrypted key file for `private_key` (cheap KDF: tests only)."""
    from addon.farm.keystore import create_keystore

    create_keystore(path, PASSPHRASE, private_key=private_key, scrypt_n=2**10)
    return path


class AgentProcess:
    """`python -m server provider run` with JSON-lines logs read back as events."""

    def __init__(self, key: Path, node_url: str, contract_id: str, relay_url: str, data_dir: Path, *extra: str):
        self.args = [sys.executable, "-m", "server", "provider", "run", "--key-file", str(key), "--node", node_url,
                     "--contract", contract_id, "--relay", relay_url, "--data-dir", str(data_dir),
                     "--log-format", "json", "--no-progress", "--poll-seconds", "0.2", "--benchmark-score", "100",
                     *extra]
        self.log_path = data_dir.parent / f"{data_dir.name}-agent.log"
        self.proc: subprocess.Popen | None = None
        self._offset = 0

    def start(self) -> "AgentProcess":
        import os

        self._offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in kill/stop
        env = os.environ | {"RENDER_FARM_PASSPHRASE": PASSPHRASE, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def events(self, since_start: bool = True) -> list[dict]:
        data = self.log_path.read_bytes()[self._offset if since_start else 0:]
        out = []
        for line in data.decode(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"event": "text", "message": line})
        return out

    def wait_for(self, event: str, timeout: float = 120, count: int = 1, **fields) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e.get("event") == event
                     and all(e.get(k) == v for k, v in fields.items())]
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = [e.get("message") for e in self.events()][-15:]
        raise AssertionError(f"no {count}× {event} {fields} within {timeout} s (exit {self.proc.poll()}); log: {tail}")

    def kill(self) -> None:
        import os
        import signal

        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the agent and the Blender it runs, as in a power cut
            self.proc.wait()
        self._log.close()

    def stop(self, timeout: float = 60) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
        return self.proc.returncode


class PausableProxy:
    """A TCP proxy on a fixed loopback port that can go down and come back: the node 'unreachable'."""

    def __init__(self, target_port: int):
        import socket

        self.target_port = target_port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._server = None
        self._threads: list[threading.Thread] = []
        self._conns: list = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        import socket

        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(64)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        import socket

        server, self._server = self._server, None
        if server:
            try:
                server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            server.close()
        for conn in self._conns:  # shutdown wakes a thread blocked in recv(); close alone does not
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass
        self._conns.clear()

    def _accept(self, server) -> None:
        import socket

        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass
