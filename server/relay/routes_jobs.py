"""Job documents and progress. Only a job's requester and assigned provider (read from the chain) get in.

requester writes: scene manifest; provider writes: result manifest, previews, progress heartbeats;
both read everything. Documents are opaque ciphertext; the plaintext list of blob ids a document
references is what keeps those blobs from garbage collection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from addon.farm import relay_errors as E
from addon.farm.relay_protocol import (
    JobDocument,
    JobSummary,
    PreviewInfo,
    ProgressEvent,
    ProgressPage,
    StoredDocument,
)

from .auth import SignedRoute, Signer
from .authority import JobParties
from .errors import RelayError
from .routes_blobs import BlobId

log = logging.getLogger("relay")
router = APIRouter(prefix="/v1/jobs", tags=["jobs"], route_class=SignedRoute)

MAX_JOB_ID = 2**63 - 1  # SQLite integer range; chain job ids are counters far below it
JobId = Annotated[int, Path(ge=0, le=MAX_JOB_ID, description="the job's id on chain")]
PreviewName = Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
SCENE, RESULT, PREVIEW = "scene-manifest", "result-manifest", "preview"
MAX_WAIT = 60
SSE_MAX_SECONDS = 300


class DocumentIn(BaseModel):
    ciphertext: str = Field(description="base64 of the encrypted document")
    blob_ids: list[BlobId] = Field(
        default=[],
        max_length=100_000,
        description="blobs this document references (kept from garbage collection)",
    )


class PreviewIn(BaseModel):
    ciphertext: str = Field(description="base64 of the encrypted preview image")


class Heartbeat(BaseModel):
    frames_done: int = Field(ge=0, le=10_000_000)
    frames_total: int = Field(ge=0, le=10_000_000)
    eta_seconds: float | None = Field(default=None, ge=0, le=1e9)
    message: str = Field(default="", max_length=500)


class SeqOut(BaseModel):
    seq: int


@dataclass(frozen=True)
class JobAccess:
    """What an authorized job route gets: the job, the signer and the job's parties as read from the chain."""

    job_id: int
    address: str
    parties: JobParties


_WHO = {
    "requester": "its requester",
    "provider": "its assigned provider",
    "party": "its requester and assigned provider",
}


async def _access(request: Request, job_id: int, address: str, role: str) -> JobAccess:
    state = request.app.state.relay
    try:
        parties = await state.run(state.authority.parties, job_id)
    except Exception as exc:  # the chain is unreachable or answered nonsense: not the client's fault
        log.warning("cannot read job %s from the chain: %r", job_id, exc)
        raise RelayError(
            E.ChainUnavailable, f"the relay cannot read job {job_id} from the chain; retry shortly",
            headers={"Retry-After": "5"},
        ) from None
    if parties is None:
        raise RelayError(E.NoSuchJob, f"job {job_id} does not exist on chain")
    allowed = {
        "requester": {parties.requester},
        "provider": {parties.provider} - {None},
        "party": {parties.requester, parties.provider} - {None},
    }[role]
    if address not in allowed:
        state.metrics.inc("forbidden_total")
        raise RelayError(E.NotAuthorized, f"{address} may not do this: only {_WHO[role]} may", address=address)
    return JobAccess(job_id, address, parties)


async def requester_access(job_id: JobId, request: Request, address: Signer) -> JobAccess:
    return await _access(request, job_id, address, "requester")


async def provider_access(job_id: JobId, request: Request, address: Signer) -> JobAccess:
    return await _access(request, job_id, address, "provider")


async def party_access(job_id: JobId, request: Request, address: Signer) -> JobAccess:
    return await _access(request, job_id, address, "party")


# Route parameters declaring who may call a job route (each also declares the {job_id} path parameter).
Requester = Annotated[JobAccess, Depends(requester_access)]
Provider = Annotated[JobAccess, Depends(provider_access)]
Party = Annotated[JobAccess, Depends(party_access)]


def _decode(text: str, limit: int) -> bytes:
    if len(text) > (limit * 4) // 3 + 4:
        raise RelayError(E.DocumentTooLarge, f"a document may be at most {limit} bytes", limit=limit)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise RelayError(E.BadBase64, "ciphertext must be standard base64") from None


async def _put_document(
    request: Request, job: JobAccess, kind: str, name: str, data: bytes, blob_ids: list[str] | None
) -> StoredDocument:
    state = request.app.state.relay
    digest = hashlib.sha256(data).hexdigest()
    committed = job.parties.scene_manifest_hash
    if kind == SCENE and committed and committed.hex() != digest:
        # The cached chain read may predate a reassign-job that committed a new hash: read it once more.
        forget = getattr(state.authority, "forget", None)
        if forget is not None:
            forget(job.job_id)
            fresh = await _access(request, job.job_id, job.address, "requester")
            committed = fresh.parties.scene_manifest_hash
    if kind == SCENE and committed and committed.hex() != digest:
        raise RelayError(
            E.ManifestHashMismatch,
            f"this scene manifest does not match the hash committed on chain ({committed.hex()})",
        )
    now = time.time()
    refused = await state.run(
        state.meta.put_document, job.job_id, kind, name, data, digest, blob_ids, now, state.config
    )
    if refused and refused["refused"] == "missing_blobs":
        missing = refused["missing"]
        raise RelayError(
            E.MissingBlobs,
            f"{len(missing)} referenced blobs are not on the relay; upload them first",
            missing=missing[:1000],
        )
    if refused:
        cfg = state.config
        raise RelayError(
            E.JobFull,
            f"a job may hold at most {cfg.max_previews_per_job} previews and {cfg.max_job_bytes} bytes of documents",
            max_previews=cfg.max_previews_per_job,
            max_bytes=cfg.max_job_bytes,
        )
    return StoredDocument(sha256=digest, updated_at=now)


async def _get_document(request: Request, job_id: int, kind: str, name: str = ""):
    state = request.app.state.relay
    doc = await state.run(state.meta.get_document, job_id, kind, name)
    if doc is None:
        raise RelayError(E.NoSuchDocument, f"job {job_id} has no {kind} yet")
    return doc


@router.get("/{job_id}", response_model=JobSummary, summary="What the relay holds for a job")
async def job_summary(job: Party, request: Request):
    job_id, parties = job.job_id, job.parties
    state = request.app.state.relay
    meta = state.meta
    scene = await state.run(meta.get_document, job_id, SCENE, "")
    result = await state.run(meta.get_document, job_id, RESULT, "")
    previews = await state.run(meta.list_documents, job_id, PREVIEW)
    events = await state.run(meta.progress_after, job_id, 0, 10**9)
    return JobSummary(
        job_id=job_id,
        requester=parties.requester,
        provider=parties.provider,
        scene_manifest=scene is not None,
        result_manifest=result is not None,
        previews=len(previews),
        last_progress_seq=events[-1][0] if events else 0,
    )


@router.delete("/{job_id}", status_code=204, summary="Drop a job's documents (requester); its blobs become collectable")
async def delete_job(job: Requester, request: Request):
    job_id = job.job_id
    state = request.app.state.relay
    await state.run(state.meta.delete_job, job_id)
    return Response(status_code=204)


@router.put("/{job_id}/scene-manifest", response_model=StoredDocument, summary="Store the encrypted scene manifest")
async def put_scene_manifest(job: Requester, body: DocumentIn, request: Request):
    data = _decode(body.ciphertext, request.app.state.relay.config.max_document_bytes)
    return await _put_document(request, job, SCENE, "", data, body.blob_ids)


@router.get("/{job_id}/scene-manifest", response_model=JobDocument, summary="Read the encrypted scene manifest")
async def get_scene_manifest(job: Party, request: Request):
    job_id = job.job_id
    doc = await _get_document(request, job_id, SCENE)
    return JobDocument(base64.b64encode(doc.data).decode(), doc.sha256, doc.blob_ids, doc.updated_at)


@router.put("/{job_id}/result-manifest", response_model=StoredDocument, summary="Store the encrypted result manifest")
async def put_result_manifest(job: Provider, body: DocumentIn, request: Request):
    data = _decode(body.ciphertext, request.app.state.relay.config.max_document_bytes)
    return await _put_document(request, job, RESULT, "", data, body.blob_ids)


@router.get("/{job_id}/result-manifest", response_model=JobDocument, summary="Read the encrypted result manifest")
async def get_result_manifest(job: Party, request: Request):
    job_id = job.job_id
    doc = await _get_document(request, job_id, RESULT)
    return JobDocument(base64.b64encode(doc.data).decode(), doc.sha256, doc.blob_ids, doc.updated_at)


@router.put("/{job_id}/previews/{name}", response_model=StoredDocument, summary="Store an encrypted preview")
async def put_preview(job: Provider, name: PreviewName, body: PreviewIn, request: Request):
    data = _decode(body.ciphertext, request.app.state.relay.config.max_document_bytes)
    return await _put_document(request, job, PREVIEW, name, data, None)


@router.get("/{job_id}/previews", response_model=list[PreviewInfo], summary="List previews")
async def list_previews(job: Party, request: Request):
    job_id = job.job_id
    state = request.app.state.relay
    rows = await state.run(state.meta.list_documents, job_id, PREVIEW)
    return [PreviewInfo(name=n, size=s, sha256=h, updated_at=u) for n, s, h, u in rows]


@router.get(
    "/{job_id}/previews/{name}",
    summary="Read one encrypted preview (raw bytes)",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def get_preview(job: Party, name: PreviewName, request: Request):
    job_id = job.job_id
    doc = await _get_document(request, job_id, PREVIEW, name)
    return Response(doc.data, media_type="application/octet-stream", headers={"X-Content-SHA256": doc.sha256})


@router.post("/{job_id}/progress", response_model=SeqOut, summary="Post a progress heartbeat (provider)")
async def post_progress(job: Provider, body: Heartbeat, request: Request):
    job_id = job.job_id
    state = request.app.state.relay
    seq = await state.run(state.meta.add_progress, job_id, body.model_dump_json(), time.time())
    state.notify_progress(job_id)
    return SeqOut(seq=seq)


def _events(rows) -> list[ProgressEvent]:
    return [ProgressEvent(seq=seq, at=at, **json.loads(body)) for seq, at, body in rows]


@router.get(
    "/{job_id}/progress",
    response_model=ProgressPage,
    summary="Heartbeats after `after`; waits up to `wait` seconds for a new one (long-poll)",
)
async def get_progress(
    job: Party,
    request: Request,
    after: Annotated[int, Query(ge=0, le=MAX_JOB_ID)] = 0,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0,
):
    job_id = job.job_id
    state = request.app.state.relay
    deadline = time.monotonic() + wait
    while True:
        event = state.progress_event(job_id)
        rows = await state.run(state.meta.progress_after, job_id, after)
        left = deadline - time.monotonic()
        if rows or left <= 0:
            break
        try:
            await asyncio.wait_for(event.wait(), timeout=left)
        except TimeoutError:
            pass
    events = _events(rows)
    return ProgressPage(events=events, last_seq=events[-1].seq if events else after)


@router.get(
    "/{job_id}/progress/stream",
    summary="Heartbeats as Server-Sent Events",
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_progress(
    job: Party, request: Request, after: Annotated[int, Query(ge=0, le=MAX_JOB_ID)] = 0
):
    job_id = job.job_id
    state = request.app.state.relay

    async def events():
        last, deadline = after, time.monotonic() + SSE_MAX_SECONDS
        while time.monotonic() < deadline:
            event = state.progress_event(job_id)
            for e in _events(await state.run(state.meta.progress_after, job_id, last)):
                last = e.seq
                data = json.dumps(dataclasses.asdict(e), separators=(",", ":"))
                yield f"id: {e.seq}\nevent: progress\ndata: {data}\n\n"
            try:
                await asyncio.wait_for(event.wait(), timeout=15)
            except TimeoutError:
                yield ": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})
