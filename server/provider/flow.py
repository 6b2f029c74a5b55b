"""The provider's flow for one job, as library code: the agent, the demo and the tests drive it.

    start / decline     the chain steps of an assigned job
    fetch_scene         the sealed scene manifest (its sha256 must be the job's scene-hash, its sealer
                        the job's requester on chain), every path checked before a byte is written,
                        every file's sha256 checked before anything renders
    publish_frame       one finished frame encrypted under a key that needs r, and its preview under a
                        key the requester has now, uploaded as soon as it is rendered
    finish              the result manifest on the relay, then submit-result (result hash, sha256(r))
    claim               reveal r on chain once the requester approved (or the review window passed)

Rendering itself is not here: the caller renders (server.provider.render) between fetch and finish,
and keeps r (the agent stores it before publishing the first frame). Each method emits
addon.farm.events and raises addon.farm.errors.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from addon.farm import crypto, exchange
from addon.farm.contract import Job, RenderFarm
from addon.farm.error_mapping import translated
from addon.farm.errors import AuthorizationError, IntegrityError
from addon.farm.events import EventSink, FramePublished, RenderProgress, Step, ignore
from addon.farm.manifest import (
    Preview,
    ResultFrame,
    ResultManifest,
    SceneManifest,
    envelope_requester_key,
    open_scene_manifest,
    resolve_in,
)
from addon.farm.party import Party
from addon.farm.relay_blobs import PlaintextMismatch
from addon.farm.relay_client import RelayClient


@dataclass(frozen=True)
class FetchedScene:
    job_id: int
    root: Path  # the job's scene directory: every manifest file lives below it
    blend: Path  # the main .blend to open
    manifest: SceneManifest


class ProviderFlow(Party):
    def __init__(self, farm: RenderFarm, relay: RelayClient | str, private_key: str, work_dir: Path, *,
                 on_event: EventSink = ignore):
        super().__init__(farm, relay, private_key, on_event)
        self.work_dir = Path(work_dir)
        self._shared: dict[int, bytes] = {}  # job id -> the pair's ECDH secret

    def check_party(self, job: Job) -> None:
        if job.provider != self.address:
            raise AuthorizationError(f"job {job.job_id} is assigned to {job.provider}, not to this provider "
                                     f"({self.address})")

    # ---- chain steps --------------------------------------------------------------------------------

    def start(self, job_id: int) -> None:
        self.transact("start-job", job_id, self.farm.start_job)

    def decline(self, job_id: int, reason: str) -> None:
        self.emit(Step("decline", f"declining job {job_id}: {reason}", job_id))
        self.transact("decline-job", job_id, self.farm.decline_job)

    def claim(self, job_id: int, reveal_secret: bytes) -> None:
        self.transact("claim", job_id, lambda key, jid: self.farm.claim(key, jid, reveal_secret))

    # ---- the scene ----------------------------------------------------------------------------------

    def scene_dir(self, job_id: int) -> Path:
        return self.work_dir / f"job-{job_id}" / "scene"

    def fetch_scene(self, job_id: int, manifest: SceneManifest | None = None) -> FetchedScene:
        """The job's files, verified; `manifest` is one read_scene_manifest just returned (not fetched again)."""
        job = self.job(job_id)
        self.emit(Step("fetch", f"fetching job {job_id}'s scene", job_id))
        if manifest is None:
            manifest = self._scene_manifest(job)
        if manifest.provider != self.address or manifest.requester != job.requester:
            raise AuthorizationError(f"job {job_id}'s manifest names {manifest.requester} → {manifest.provider}, "
                                     "not this job's parties")
        if (manifest.frames.start, manifest.frames.end) != (job.frame_start, job.frame_end):
            raise IntegrityError(f"job {job_id}'s manifest asks for frames {manifest.frames.start}-"
                                 f"{manifest.frames.end}; the chain says {job.frame_start}-{job.frame_end}")
        root = self.scene_dir(job_id)
        targets = [(item, resolve_in(root, item.path)) for item in manifest.files]  # all checked before writing
        for item, target in targets:
            if target.is_file() and crypto.sha256_file(target).hex() == item.sha256:
                continue  # fetched before a restart
            try:
                with translated(f"downloading {item.path}"):
                    self.relay.download_file(item.blob, bytes.fromhex(item.key), target, plaintext_sha256=item.sha256)
            except PlaintextMismatch:
                raise IntegrityError(f"{item.path} of job {job_id} does not match the requester's hash: refused "
                                     "before rendering") from None
        return FetchedScene(job_id, root, resolve_in(root, manifest.main_blend), manifest)

    def read_scene_manifest(self, job_id: int) -> SceneManifest:
        """The job's scene manifest alone (no file fetched): what the agent judges before taking a job."""
        return self._scene_manifest(self.job(job_id))

    # ---- results ------------------------------------------------------------------------------------

    def _scene_manifest(self, job: Job) -> SceneManifest:
        """The job's sealed manifest, checked against the chain; remembers the pair's secret."""
        envelope = self.sealed_scene(job)
        with translated(f"opening job {job.job_id}'s scene manifest"):
            manifest = open_scene_manifest(envelope, self.private_key, job.requester, self.network)
        self._shared[job.job_id] = exchange.shared_secret(self.private_key, envelope_requester_key(envelope))
        return manifest

    def _pair_secret(self, job_id: int) -> bytes:
        if job_id not in self._shared:  # after a restart: the requester's key is in the sealed manifest
            self._scene_manifest(self.job(job_id))
        return self._shared[job_id]

    def preview_name(self, job_id: int, frame: int) -> str:
        """An opaque name: the relay learns how many previews a job has, not which frames they show."""
        key = exchange.preview_key(self._pair_secret(job_id), job_id)
        return hmac.new(key, b"preview-name|%d" % frame, hashlib.sha256).hexdigest()[:32]

    def publish_frame(self, job_id: int, rendered, reveal_secret: bytes) -> ResultFrame:
        """Encrypt and upload one rendered frame (`rendered`: frame, image, preview paths) and its preview."""
        shared = self._pair_secret(job_id)
        image = Path(rendered.image)
        with translated(f"uploading frame {rendered.frame} of job {job_id}"):
            report = self.relay.upload_files([image], exchange.frames_secret(shared, job_id, reveal_secret))
            preview = crypto.encrypt_message(exchange.preview_key(shared, job_id), Path(rendered.preview).read_bytes())
            self.relay.jobs.put_preview(job_id, self.preview_name(job_id, rendered.frame), preview)
        (uploaded,) = report.files
        self.emit(FramePublished(job_id, rendered.frame))
        return ResultFrame(rendered.frame, uploaded.blob_id, uploaded.plaintext_sha256, uploaded.size,
                           image.suffix.lower())

    def post_progress(self, job_id: int, frames_done: int, frames_total: int, eta_seconds: float | None = None) -> None:
        with translated(f"posting job {job_id}'s progress"):
            self.relay.jobs.post_progress(job_id, frames_done, frames_total, eta_seconds=eta_seconds)
        self.emit(RenderProgress(job_id, frames_done, frames_total, eta_seconds))

    def finish(self, job_id: int, frames: list[ResultFrame], reveal_secret: bytes) -> bytes:
        """Store the result manifest and submit (result hash, sha256(r)) on chain; returns the result hash."""
        frames = sorted(frames, key=lambda f: f.frame)
        manifest = ResultManifest(job_id, frames, [Preview(f.frame, self.preview_name(job_id, f.frame))
                                                   for f in frames])
        sealed = crypto.encrypt_message(exchange.result_manifest_key(self._pair_secret(job_id), job_id),
                                        manifest.to_bytes())
        with translated(f"storing job {job_id}'s result manifest"):
            self.relay.jobs.put_result_manifest(job_id, sealed, [f.blob for f in frames])
        digest = exchange.result_hash(sealed)
        self.transact("submit-result", job_id, lambda key, jid: self.farm.submit_result(
            key, jid, digest, exchange.commitment(reveal_secret)))
        return digest
