"""The provider's side of one job through the relay, until the lead's server/provider/flow.py lands.

Same interface as that ProviderFlow (start, fetch_scene, publish_frame, post_progress, finish, claim,
decline), on the documents of the current demo: the scene manifest is JSON
{"files": [{"path", "blob", "key", "sha256", "size"?}], "frames": [first, last], "blender"?, "main"?},
sealed under the pair's ECDH key and prefixed with the requester's compressed public key (33 bytes),
which must hash to the job's requester on chain. Delete this module when flow.py is merged.
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from addon.farm import crypto, exchange
from addon.farm.contract import RenderFarm
from addon.farm.relay_client import RelayClient
from addon.stacks import keys


class FlowError(Exception):
    """A job's documents or files are unusable (altered, escaping paths, not for this provider)."""


@dataclass(frozen=True)
class FetchedScene:
    job_id: int
    root: Path
    blend: Path
    manifest: dict


@dataclass(frozen=True)
class ResultFrame:
    frame: int
    blob: str
    sha256: str
    size: int
    preview: str

    def to_dict(self) -> dict:
        return asdict(self)


def seal_scene_manifest(manifest: dict, requester_private_key: str, provider_public_key: bytes,
                        job_id: int) -> bytes:
    """The requester's side (used by tests and the demo until flow.py lands)."""
    shared = exchange.shared_secret(requester_private_key, provider_public_key)
    own_key = keys.compress_public_key(keys.public_key_from_private_key(requester_private_key))
    return own_key + crypto.encrypt_message(exchange.scene_manifest_key(shared, job_id),
                                            json.dumps(manifest).encode())


def safe_path(root: Path, path: str) -> Path:
    """`path` under `root`; FlowError for absolute paths, `..`, backslashes or anything leaving root."""
    parts = PurePosixPath(path).parts if isinstance(path, str) else ()
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path or "\x00" in path \
            or any(p in ("..", ".") for p in path.split("/")) or not parts or ":" in parts[0]:
        raise FlowError(f"manifest path {path!r} is absolute or leaves the job directory: refused")
    target = (root / path).resolve()
    if not target.is_relative_to(root.resolve()):
        raise FlowError(f"manifest path {path!r} resolves outside the job directory: refused")
    return target


class ProviderFlow:
    def __init__(self, farm: RenderFarm, relay_url: str, private_key: str, work_dir: Path, *, on_event=None,
                 relay_retries: int = 6):
        self.farm, self.relay_url, self.private_key = farm, relay_url, private_key
        self.work_dir = Path(work_dir)
        self.on_event = on_event or (lambda kind, **data: None)
        self.relay = RelayClient(relay_url, private_key, retries=relay_retries)
        self._shared: dict[int, bytes] = {}
        self._manifests: dict[int, dict] = {}

    def close(self) -> None:
        self.relay.close()

    # ---- the scene ------------------------------------------------------------------------------

    def read_manifest(self, job_id: int) -> dict:
        """Fetch and open the scene manifest (small; done before deciding to take the job)."""
        if job_id in self._manifests:
            return self._manifests[job_id]
        job = self.farm.require_job(job_id)
        sealed, _blobs = self.relay.get_scene_manifest(job_id)
        if hashlib.sha256(sealed).digest() != job.scene_hash:
            raise FlowError(f"the scene manifest of job {job_id} on the relay is not the one committed on chain")
        requester_key = sealed[:33]
        network = self.farm.client.network.address_network
        try:
            owner = keys.address_from_public_key(requester_key, network)
        except Exception as exc:
            raise FlowError(f"the scene manifest's public key is invalid: {exc}") from exc
        if keys.parse_address(owner)[1] != keys.parse_address(job.requester)[1]:
            raise FlowError(f"the scene manifest was sealed by {owner}, not by the requester {job.requester}")
        shared = exchange.shared_secret(self.private_key, requester_key)
        try:
            manifest = json.loads(crypto.decrypt_bytes(exchange.scene_manifest_key(shared, job_id), sealed[33:]))
        except (crypto.DecryptionError, ValueError) as exc:
            raise FlowError(f"the scene manifest of job {job_id} does not open: {exc}") from exc
        files = manifest.get("files")
        if not isinstance(files, list) or not files:
            raise FlowError(f"the scene manifest of job {job_id} lists no files")
        root = self.job_root(job_id)
        for item in files:
            safe_path(root, item.get("path"))  # refused before any file is written
        self._shared[job_id], self._manifests[job_id] = shared, manifest
        return manifest

    def job_root(self, job_id: int) -> Path:
        return self.work_dir / f"job-{job_id}" / "scene"

    def fetch_scene(self, job_id: int) -> FetchedScene:
        """Download every file, verify its hash, refuse escaping paths; the main .blend to render."""
        manifest = self.read_manifest(job_id)
        root = self.job_root(job_id)
        root.mkdir(parents=True, exist_ok=True)
        for item in manifest["files"]:
            target = safe_path(root, item["path"])
            if target.exists() and crypto.sha256_file(target).hex() == item["sha256"]:
                continue  # already fetched before a restart
            self.relay.download_file(item["blob"], bytes.fromhex(item["key"]), target)
            if crypto.sha256_file(target).hex() != item["sha256"]:
                target.unlink()
                raise FlowError(f"{item['path']} of job {job_id} does not match the hash in the manifest: refused")
            self.on_event("file_fetched", job_id=job_id, path=item["path"])
        main = manifest.get("main") or next(i["path"] for i in manifest["files"] if i["path"].endswith(".blend"))
        return FetchedScene(job_id, root, safe_path(root, main), manifest)

    # ---- the chain ------------------------------------------------------------------------------

    def start(self, job_id: int) -> None:
        self.farm.start_job(self.private_key, job_id)

    def decline(self, job_id: int, reason: str) -> None:
        self.on_event("declining", job_id=job_id, reason=reason)
        self.farm.decline_job(self.private_key, job_id)

    def claim(self, job_id: int, reveal_secret: bytes) -> None:
        self.farm.claim(self.private_key, job_id, reveal_secret)

    # ---- results --------------------------------------------------------------------------------

    def _shared_for(self, job_id: int) -> bytes:
        if job_id not in self._shared:
            self.read_manifest(job_id)
        return self._shared[job_id]

    def publish_frame(self, job_id: int, rendered, reveal_secret: bytes) -> ResultFrame:
        shared = self._shared_for(job_id)
        report = self.relay.upload_files([rendered.image], exchange.frames_secret(shared, job_id, reveal_secret))
        (uploaded,) = report.files
        name = f"frame-{rendered.frame:05d}.png"
        self.relay.put_preview(job_id, name, crypto.encrypt_message(exchange.preview_key(shared, job_id),
                                                                    Path(rendered.preview).read_bytes()))
        return ResultFrame(rendered.frame, uploaded.blob_id, uploaded.plaintext_sha256, uploaded.size, name)

    def post_progress(self, job_id: int, frames_done: int, frames_total: int, eta_seconds: float | None) -> None:
        self.relay.post_progress(job_id, frames_done, frames_total, eta_seconds=eta_seconds)

    def result_document(self, job_id: int, frames: list[ResultFrame]) -> bytes:
        listing = [{"frame": f.frame, "blob": f.blob, "sha256": f.sha256, "size": f.size} for f in frames]
        return crypto.encrypt_message(exchange.result_manifest_key(self._shared_for(job_id), job_id),
                                      json.dumps({"frames": listing}).encode())

    def finish(self, job_id: int, frames: list[ResultFrame], reveal_secret: bytes,
               sealed: bytes | None = None) -> bytes:
        """Upload the result manifest and submit (its hash, sha256(r)); returns the result hash."""
        sealed = sealed or self.result_document(job_id, frames)
        self.relay.put_result_manifest(job_id, sealed, [f.blob for f in frames])
        result_hash = exchange.result_hash(sealed)
        self.farm.submit_result(self.private_key, job_id, result_hash, exchange.commitment(reveal_secret))
        return result_hash
