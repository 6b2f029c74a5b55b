"""The requester's flow, bpy-free: submit a packed scene, review, approve or reject, get the frames.

    submit      upload the files the relay lacks; seal one scene manifest per chunk for its provider
                (whose public key is read from the chain); create every chunk in one create-jobs
                transaction (rewards escrowed, each envelope's sha256 committed as scene-hash); store
                the manifests on the relay.
    review      read the result manifest (its hash must be the one on chain) and open the previews.
    approve / reject / reassign / cancel      the chain steps of a reviewed or abandoned chunk.
    download    once `claim` revealed r on chain: derive the frame keys, fetch, decrypt, verify each
                frame's sha256 and write it where Blender would have.

Each method emits events (addon.farm.events) and raises addon.farm.errors. The Blender add-on, the
headless CLI, server/demo.py and the tests all drive this one class.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import crypto, exchange
from .contract import Chunk, Job, JobStatus, RenderFarm
from .error_mapping import translated
from .errors import AuthorizationError, FarmError, IntegrityError, JobStateError
from .events import EventSink, FrameDownloaded, JobsCreated, Step, UploadDone, UploadProgress, ignore
from .frame_naming import frame_path
from .manifest import (
    FrameRange,
    RenderSettings,
    ResultManifest,
    SceneFile,
    SceneManifest,
    open_own_scene_manifest,
    seal_scene_manifest,
)
from .party import Party
from .relay_blobs import PlaintextMismatch
from .relay_client import RelayClient


@dataclass(frozen=True)
class ChunkPlan:
    """One chunk to create: its frames, its provider and what the chain needs to escrow and time it."""

    provider: str
    frames: FrameRange
    reward: int  # micro-STX escrowed
    complexity: int  # reference-seconds (see the estimate)
    estimated_duration: int  # seconds on this provider


@dataclass(frozen=True)
class SubmitRequest:
    files: Mapping[str, Path]  # package path -> file on disk; includes the main .blend
    main_blend: str  # package path of the .blend to open
    blender_version: str
    chunks: list[ChunkPlan]
    render: RenderSettings = field(default_factory=RenderSettings)
    min_reputation: int = 0


@dataclass(frozen=True)
class SubmittedJob:
    job_id: int
    provider: str
    frames: FrameRange
    reward: int
    envelope: bytes  # the sealed scene manifest (ciphertext): keep it to resend it if the relay failed


@dataclass(frozen=True)
class Submission:
    batch_id: int
    jobs: list[SubmittedJob]
    blobs_total: int
    blobs_uploaded: int  # of blobs_total, those the relay lacked
    bytes_uploaded: int


@dataclass(frozen=True)
class Review:
    job_id: int
    result: ResultManifest
    previews: dict[int, bytes]  # frame -> preview image bytes (PNG)
    missing_frames: list[int]  # frames the chunk asked for that the result does not hold

    @property
    def complete(self) -> bool:
        return not self.missing_frames


class Requester(Party):
    def __init__(self, farm: RenderFarm, relay: RelayClient | str, private_key: str, *,
                 on_event: EventSink = ignore):
        super().__init__(farm, relay, private_key, on_event)
        self.convergent_secret = crypto.requester_file_secret(private_key)
        self._shared: dict[str, bytes] = {}  # provider address -> ECDH secret of the pair

    # ---- submit -------------------------------------------------------------------------------------

    def submit(self, request: SubmitRequest) -> Submission:
        if not request.chunks:
            raise FarmError("nothing to submit: give at least one chunk of frames")
        if request.main_blend not in request.files:
            raise FarmError(f"the main .blend {request.main_blend!r} is not among the files to send")
        paths = list(request.files.items())
        for package_path, source in paths:
            if not Path(source).is_file():
                raise FarmError(f"{source} ({package_path}) is missing or not a file: run pre-flight again")

        self.emit(Step("upload", f"encrypting and uploading {len(paths)} files (only what the relay lacks)"))
        with translated("uploading the scene to the relay"):
            report = self.relay.upload_files([source for _, source in paths], self.convergent_secret,
                                             progress=lambda done, total: self.emit(UploadProgress(done, total)))
        self.emit(UploadDone(report.blobs_total, report.blobs_uploaded, report.bytes_uploaded))
        files = [SceneFile(package_path, up.blob_id, up.key.hex(), up.plaintext_sha256, up.size)
                 for (package_path, _), up in zip(paths, report.files, strict=True)]

        envelopes = [self._seal(SceneManifest(
            requester=self.address, provider=chunk.provider, blender_version=request.blender_version,
            main_blend=request.main_blend, frames=chunk.frames, render=request.render, files=files))
            for chunk in request.chunks]
        chain_chunks = [Chunk(c.provider, c.reward, c.complexity, c.estimated_duration,
                              hashlib.sha256(envelope).digest(), c.frames.start, c.frames.end)
                        for c, envelope in zip(request.chunks, envelopes, strict=True)]
        total = sum(c.reward for c in request.chunks)
        self.emit(Step("create-jobs", f"creating {len(chain_chunks)} chunk(s) on chain, escrowing {total} µSTX"))
        with translated("creating the jobs on chain"):
            created = self.farm.create_jobs(self.private_key, chain_chunks, min_reputation=request.min_reputation,
                                            relay_url=self.relay.base_url)
        job_ids = created.job_ids
        self.emit(JobsCreated(tuple(job_ids), created.batch_id, tuple(envelopes)))
        jobs = [SubmittedJob(job_id, c.provider, c.frames, c.reward, envelope)
                for job_id, c, envelope in zip(job_ids, request.chunks, envelopes, strict=True)]
        blob_ids = sorted({f.blob for f in files})
        for job in jobs:
            self.send_manifest(job.job_id, job.envelope, blob_ids)
        return Submission(created.batch_id, jobs, report.blobs_total, report.blobs_uploaded, report.bytes_uploaded)

    def send_manifest(self, job_id: int, envelope: bytes, blob_ids: list[str] | None = None) -> None:
        """Store a chunk's sealed manifest on the relay (again, after a relay failure: it is idempotent)."""
        if blob_ids is None:
            blob_ids = [f.blob for f in self._own_manifest(job_id, envelope).files]
        # (A relay whose cached view of the job predates a reassign reads the chain again on a mismatch.)
        with translated(f"storing job {job_id}'s scene manifest on the relay (the job exists on chain: resume "
                        "once the relay answers, with Resume in the panel or `resume`, or cancel it to recover "
                        "the escrow)"):
            self.relay.jobs.put_scene_manifest(job_id, envelope, blob_ids)

    def resend_scene(self, job_id: int, envelope: bytes, files: Mapping[str, Path], provider: str) -> int:
        """Finish a chunk whose submit a relay failure cut short after create-jobs: upload the files of its
        manifest the relay lacks (from `files`, package path -> file on disk; content-addressed, so they get
        the same blob ids) and store the sealed manifest. Returns how many blobs were uploaded."""
        manifest = self._own_manifest(job_id, envelope, provider)
        blob_ids = sorted({f.blob for f in manifest.files})
        with translated("asking the relay which of the scene's files it lacks"):
            missing = set(self.relay.blobs.missing(blob_ids))
        need = [f for f in manifest.files if f.blob in missing]
        uploaded = 0
        if need:
            absent = [f.path for f in need if not Path(files.get(f.path, "")).is_file()]
            if absent:
                raise FarmError(f"the relay lacks {len(need)} of job {job_id}'s files and the package no longer holds "
                                f"{absent[0]}: cancel the job (its escrow comes back) and submit the scene again")
            self.emit(Step("upload", f"uploading {len(need)} files of job {job_id} the relay lacks", job_id))
            with translated("uploading the scene to the relay"):
                report = self.relay.upload_files([files[f.path] for f in need], self.convergent_secret,
                                                 progress=lambda done, total: self.emit(UploadProgress(done, total)))
            changed = [f.path for f, up in zip(need, report.files, strict=True) if up.blob_id != f.blob]
            if changed:
                raise IntegrityError(f"{changed[0]} changed since job {job_id} was submitted, so the provider could "
                                     "not verify it: cancel the job (its escrow comes back) and submit again")
            uploaded = report.blobs_uploaded
        self.send_manifest(job_id, envelope, blob_ids)
        return uploaded

    def _seal(self, manifest: SceneManifest) -> bytes:
        return seal_scene_manifest(manifest, self.private_key, self._provider_key(manifest.provider))

    def _provider_key(self, provider: str) -> bytes:
        with translated(f"reading provider {provider} from the chain"):
            record = self.farm.get_provider(provider)
        if record is None or not record.registered:
            raise FarmError(f"{provider} is not a registered provider: pick another one")
        return record.public_key

    def _pair_secret(self, provider: str) -> bytes:
        if provider not in self._shared:
            self._shared[provider] = exchange.shared_secret(self.private_key, self._provider_key(provider))
        return self._shared[provider]

    def _own_manifest(self, job_id: int, envelope: bytes, provider: str | None = None) -> SceneManifest:
        provider = provider or self.job(job_id).provider
        return open_own_scene_manifest(envelope, self.private_key, self._provider_key(provider))

    # ---- follow and review --------------------------------------------------------------------------

    def check_party(self, job: Job) -> None:
        if job.requester != self.address:
            raise AuthorizationError(f"job {job.job_id} belongs to {job.requester}, not to this wallet "
                                     f"({self.address})")

    def scene_manifest(self, job_id: int) -> SceneManifest:
        """The manifest this requester sealed for the job's current provider, read back from the relay."""
        return self._scene_manifest(self.job(job_id))

    def _scene_manifest(self, job: Job) -> SceneManifest:
        envelope = self.sealed_scene(job)
        with translated(f"opening job {job.job_id}'s scene manifest"):
            return self._own_manifest(job.job_id, envelope, job.provider)

    def result(self, job_id: int) -> ResultManifest:
        """The provider's result manifest, checked against the result-hash it committed on chain."""
        return self._result(self.job(job_id))

    def _result(self, job: Job) -> ResultManifest:
        job_id = job.job_id
        if job.result_hash is None:
            raise JobStateError(f"job {job_id} has no result yet (status {job.status.name.lower()})")
        with translated(f"reading job {job_id}'s result manifest"):
            sealed = self.relay.jobs.get_result_manifest(job_id).data
        if exchange.result_hash(sealed) != job.result_hash:
            raise IntegrityError(f"the relay's result manifest for job {job_id} differs from the hash the provider "
                                 "committed on chain: reject the result")
        with translated(f"opening job {job_id}'s result manifest"):
            key = exchange.result_manifest_key(self._pair_secret(job.provider), job_id)
            manifest = ResultManifest.from_bytes(crypto.decrypt_bytes(key, sealed))
        if manifest.job_id != job_id:
            raise IntegrityError(f"the result manifest is for job {manifest.job_id}, not {job_id}: reject it")
        return manifest

    def review(self, job_id: int) -> Review:
        """Everything the requester needs to judge a submitted chunk before paying: previews and gaps."""
        job = self.job(job_id)
        expected = self._scene_manifest(job).frames.frames()
        result = self._result(job)
        self.emit(Step("review", f"opening {len(result.previews)} previews of job {job_id}", job_id))
        key = exchange.preview_key(self._pair_secret(job.provider), job_id)
        previews = {}
        for preview in result.previews:
            with translated(f"opening the preview of frame {preview.frame}"):
                previews[preview.frame] = crypto.decrypt_bytes(key, self.relay.jobs.get_preview(job_id, preview.name))
        have = {f.frame for f in result.frames}
        return Review(job_id, result, previews, [f for f in expected if f not in have])

    # ---- decide -------------------------------------------------------------------------------------

    def approve(self, job_id: int) -> None:
        self.transact("approve-result", job_id, self.farm.approve_result)

    def reject(self, job_id: int) -> None:
        self.transact("reject-result", job_id, self.farm.reject_result)

    def cancel(self, job_id: int) -> int:
        """Cancel a chunk nobody started (or a rejected/declined one); returns the refund in µSTX."""
        return self.transact("cancel-job", job_id, self.farm.cancel_job)

    def reassign(self, job_id: int, new_provider: str) -> bytes:
        """Give a rejected, declined or no-show chunk to another provider: a manifest sealed for it, the
        new scene-hash on chain, the manifest on the relay. Returns the new envelope."""
        manifest = self.scene_manifest(job_id)
        envelope = self._seal(replace(manifest, provider=new_provider))
        self.transact("reassign-job", job_id, lambda key, jid: self.farm.reassign_job(
            key, jid, new_provider, hashlib.sha256(envelope).digest()))
        self.send_manifest(job_id, envelope, [f.blob for f in manifest.files])
        return envelope

    # ---- collect ------------------------------------------------------------------------------------

    def wait_for_reveal(self, job_id: int, *, timeout: float = 600, poll: float = 1.0) -> bytes:
        """Block until the provider's claim reveals r on chain; returns r."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job.status == JobStatus.COMPLETED and job.secret:
                return job.secret
            if job.status in (JobStatus.EXPIRED, JobStatus.CANCELLED):
                raise JobStateError(f"job {job_id} ended {job.status.name.lower()}: it will not be revealed")
            if time.monotonic() >= deadline:
                raise JobStateError(f"job {job_id} is {job.status.name.lower()}; r was not revealed within "
                                    f"{timeout:g} s: wait longer (the provider claims after approval)")
            time.sleep(poll)

    def download(self, job_id: int, output: str | Callable[[int, str], Path]) -> list[Path]:
        """Decrypt and verify every frame of a completed chunk. `output` is the scene's absolute output
        pattern (Blender's '#' rule, addon.farm.frame_naming) or a function (frame, extension) -> path.
        A frame already on disk with the right hash is kept as is, so a broken download resumes."""
        job = self.job(job_id)
        if not job.secret:
            raise JobStateError(f"job {job_id} is {job.status.name.lower()}: its frames unlock when the provider "
                                "claims (wait_for_reveal)")
        if hashlib.sha256(job.secret).digest() != job.commitment:
            raise IntegrityError(f"job {job_id}'s revealed secret does not match its commitment")
        name = output if callable(output) else (lambda frame, ext: frame_path(output, frame, ext))
        result = self._result(job)
        secret = exchange.frames_secret(self._pair_secret(job.provider), job_id, job.secret)
        written = []
        self.emit(Step("download", f"downloading {len(result.frames)} frames of job {job_id}", job_id))
        for item in sorted(result.frames, key=lambda f: f.frame):
            path = Path(name(item.frame, item.extension))
            if not (path.is_file() and crypto.sha256_file(path).hex() == item.sha256):
                key = crypto.file_key(secret, bytes.fromhex(item.sha256))
                try:
                    with translated(f"downloading frame {item.frame} of job {job_id}"):
                        self.relay.download_file(item.blob, key, path, plaintext_sha256=item.sha256)
                except PlaintextMismatch:
                    raise IntegrityError(f"frame {item.frame} of job {job_id} does not match the hash the provider "
                                         "committed to: it was not kept") from None
            written.append(path)
            self.emit(FrameDownloaded(job_id, item.frame, str(path)))
        return written
