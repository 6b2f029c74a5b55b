"""A job's documents on the relay: the sealed scene manifest, the result manifest, previews, progress.

The relay stores them as opaque ciphertext and lets only the job's requester and assigned provider
(read from the chain) in. Each document lists the blob ids it references, which keeps those blobs
from garbage collection.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator

from .relay_protocol import (
    JobDocument,
    JobSummary,
    PreviewInfo,
    ProgressEvent,
    ProgressPage,
    StoredDocument,
    from_json,
)
from .relay_transport import SignedTransport

SCENE_MANIFEST, RESULT_MANIFEST = "scene-manifest", "result-manifest"


class JobDocuments:
    def __init__(self, transport: SignedTransport):
        self.transport = transport

    def put_scene_manifest(self, job_id: int, envelope: bytes, blob_ids: Iterable[str]) -> StoredDocument:
        """The requester's sealed scene manifest; the relay checks its sha256 against the job's scene-hash."""
        return self._put(job_id, SCENE_MANIFEST, envelope, blob_ids)

    def get_scene_manifest(self, job_id: int) -> JobDocument:
        return self._get(job_id, SCENE_MANIFEST)

    def put_result_manifest(self, job_id: int, ciphertext: bytes, blob_ids: Iterable[str]) -> StoredDocument:
        """The provider's encrypted result manifest; it names (and keeps from GC) the frames' blobs."""
        return self._put(job_id, RESULT_MANIFEST, ciphertext, blob_ids)

    def get_result_manifest(self, job_id: int) -> JobDocument:
        return self._get(job_id, RESULT_MANIFEST)

    def _put(self, job_id: int, kind: str, ciphertext: bytes, blob_ids: Iterable[str]) -> StoredDocument:
        body = {"ciphertext": base64.b64encode(ciphertext).decode(), "blob_ids": list(blob_ids)}
        answer = self.transport.request("PUT", f"/v1/jobs/{int(job_id)}/{kind}", json_body=body).json()
        return from_json(StoredDocument, answer)

    def _get(self, job_id: int, kind: str) -> JobDocument:
        return from_json(JobDocument, self.transport.request("GET", f"/v1/jobs/{int(job_id)}/{kind}").json())

    def put_preview(self, job_id: int, name: str, ciphertext: bytes) -> StoredDocument:
        body = {"ciphertext": base64.b64encode(ciphertext).decode()}
        answer = self.transport.request("PUT", f"/v1/jobs/{int(job_id)}/previews/{name}", json_body=body).json()
        return from_json(StoredDocument, answer)

    def list_previews(self, job_id: int) -> list[PreviewInfo]:
        answer = self.transport.request("GET", f"/v1/jobs/{int(job_id)}/previews").json()
        return [from_json(PreviewInfo, item) for item in answer]

    def get_preview(self, job_id: int, name: str) -> bytes:
        return self.transport.request("GET", f"/v1/jobs/{int(job_id)}/previews/{name}").content

    def summary(self, job_id: int) -> JobSummary:
        return from_json(JobSummary, self.transport.request("GET", f"/v1/jobs/{int(job_id)}").json())

    def delete(self, job_id: int) -> None:
        self.transport.request("DELETE", f"/v1/jobs/{int(job_id)}")

    def post_progress(self, job_id: int, frames_done: int, frames_total: int, eta_seconds: float | None = None,
                      message: str = "") -> int:
        body = {"frames_done": frames_done, "frames_total": frames_total, "eta_seconds": eta_seconds,
                "message": message}
        return self.transport.request("POST", f"/v1/jobs/{int(job_id)}/progress", json_body=body).json()["seq"]

    def progress(self, job_id: int, after: int = 0, wait: float = 0) -> ProgressPage:
        """Heartbeats after `after`; with `wait`, the relay holds the request until one arrives."""
        path = f"/v1/jobs/{int(job_id)}/progress?after={int(after)}&wait={wait:g}"
        return ProgressPage.from_json(self.transport.request("GET", path).json())

    def follow_progress(self, job_id: int, after: int = 0, wait: float = 30) -> Iterator[ProgressEvent]:
        """Yield heartbeats as they arrive (long-poll), forever; stop by breaking out of the loop."""
        while True:
            page = self.progress(job_id, after, wait)
            yield from page.events
            after = page.last_seq
