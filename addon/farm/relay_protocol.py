"""Wire conventions shared by the relay and its clients: signed-request headers and the signed text.

Every request carries four headers; the signature is a Stacks message signature (recoverable
secp256k1, `addon.stacks.message`) over the canonical text below, so the relay learns the signer's
address from the signature itself and no account registration exists.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from dataclasses import dataclass

SIGNATURE_HEADER = "x-farm-signature"
TIMESTAMP_HEADER = "x-farm-timestamp"
NONCE_HEADER = "x-farm-nonce"
CONTENT_HASH_HEADER = "x-farm-content-sha256"
# Blob bytes are verified against their content address, so their requests do not hash the body first.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGNING_DOMAIN = "render-farm-relay/v1"

BLOB_ID_RE = re.compile(r"^[0-9a-f]{64}$")
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str, path_and_query: str, content_sha256: str, timestamp: int, nonce: str
) -> str:
    """The exact text that is signed. `path_and_query` is the path as sent, e.g. "/v1/blobs/ab..?x=1"."""
    return "\n".join([SIGNING_DOMAIN, method.upper(), path_and_query, content_sha256, str(timestamp), nonce])


# ---- response documents -----------------------------------------------------------------------------
# The relay's answers as plain data. The relay declares its responses with these (FastAPI accepts
# dataclasses as response models) and the client decodes them with `from_json`, so both sides read
# one definition.


def from_json(cls, obj: dict):
    """Build the dataclass `cls` from a relay answer, ignoring fields a newer relay may add."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in obj.items() if k in names})


@dataclass(frozen=True)
class UploadStatus:
    size: int
    offset: int  # bytes the relay has persisted: continue the upload from here
    complete: bool  # the blob is stored and visible
    blob_id: str | None = None  # absent while a token upload is incomplete
    token: str | None = None  # the session token, for uploads started with one


@dataclass(frozen=True)
class StoredDocument:
    sha256: str
    updated_at: float


@dataclass(frozen=True)
class JobDocument:
    ciphertext: str  # base64 of the encrypted document
    sha256: str  # of the ciphertext bytes
    blob_ids: list[str]
    updated_at: float

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.ciphertext)


@dataclass(frozen=True)
class PreviewInfo:
    name: str
    size: int
    sha256: str
    updated_at: float


@dataclass(frozen=True)
class ProgressEvent:
    seq: int
    at: float
    frames_done: int
    frames_total: int
    eta_seconds: float | None = None
    message: str = ""


@dataclass(frozen=True)
class ProgressPage:
    events: list[ProgressEvent]
    last_seq: int

    @classmethod
    def from_json(cls, obj: dict) -> ProgressPage:
        return cls([from_json(ProgressEvent, e) for e in obj["events"]], obj["last_seq"])


@dataclass(frozen=True)
class JobSummary:
    job_id: int
    requester: str
    provider: str | None
    scene_manifest: bool
    result_manifest: bool
    previews: int
    last_progress_seq: int
