"""Blob endpoints: which are missing, resumable verified uploads, Range downloads."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field, model_validator
from starlette.requests import ClientDisconnect
from starlette.responses import MalformedRangeHeader, RangeNotSatisfiable

from addon.farm import relay_errors as E
from addon.farm.relay_protocol import UploadStatus

from .auth import SignedRoute, Signer, StreamSigner
from .body_handoff import EXTENSION
from .errors import RelayError
from .storage import UploadKey

router = APIRouter(prefix="/v1", tags=["blobs"], route_class=SignedRoute)

BlobId = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the stored bytes, lowercase hex")]
BlobIdPath = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="sha256 of the stored bytes")]
SessionPath = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="the upload's blob id, or its token")]
# Bytes handed to the disk thread at once; the next batch is received while this one is written.
WRITE_BATCH = 4 << 20
INLINE_LOOKUPS = 500  # blob ids looked up on the event loop itself (WAL reads never wait for writers)
MAX_WRITE_CHUNKS = 512  # one writev takes at most IOV_MAX (1024 on Linux) buffers


class MissingRequest(BaseModel):
    blob_ids: list[BlobId] = Field(max_length=10_000)


class MissingResponse(BaseModel):
    missing: list[str]


class UploadStart(BaseModel):
    blob_id: BlobId | None = Field(None, description="sha256 of the blob; the relay refuses other bytes")
    token: BlobId | None = Field(
        None,
        description="instead of blob_id: a session name the client chose (64 hex digits, e.g. derived from the "
        "file's key), for bytes it streams without hashing them first; the relay names the blob by the "
        "sha256 it computes, returns it when complete, and remembers it for the next upload of this token",
    )
    size: int = Field(ge=0, description="total size of the blob in bytes")

    @model_validator(mode="after")
    def _one_name(self):
        if (self.blob_id is None) == (self.token is None):
            raise ValueError("give exactly one of blob_id and token")
        return self


def _state(request: Request):
    return request.app.state.relay


def _status(meta, address: str, name: str) -> tuple[bool, UploadStatus | None]:
    """(is `name` a token session, its status if the blob it names is already stored)."""
    is_token, produced = meta.token_state(address, name)
    blob_id = produced if is_token else name
    stored = meta.blob_size(blob_id) if blob_id else None
    if stored is None:
        return is_token, None
    return is_token, UploadStatus(
        blob_id=blob_id, token=name if is_token else None, size=stored, offset=stored, complete=True
    )


def _open_status(name: str, is_token: bool, size: int, offset: int) -> UploadStatus:
    if is_token:
        return UploadStatus(blob_id=None, token=name, size=size, offset=offset, complete=False)
    return UploadStatus(blob_id=name, size=size, offset=offset, complete=False)


@router.post("/blobs/missing", response_model=MissingResponse, summary="Which of these blobs the relay lacks")
async def missing_blobs(body: MissingRequest, request: Request, address: Signer):
    state = _state(request)
    now = time.time()
    # Blobs reported present get their GC grace restarted (unless touched in its last half): the
    # client is about to reference them in a manifest and must not find them collected first.
    args = (body.blob_ids, now, now - state.config.gc_grace / 2)
    if len(body.blob_ids) <= INLINE_LOOKUPS:  # a few indexed reads (a write only when a touch is due)
        return MissingResponse(missing=state.meta.missing_blobs(*args))
    return MissingResponse(missing=await state.run(state.meta.missing_blobs, *args))


@router.post(
    "/uploads",
    response_model=UploadStatus,
    response_model_exclude_none=True,
    summary="Start or resume the upload of one blob",
)
async def start_upload(body: UploadStart, request: Request, address: Signer):
    state = _state(request)
    return await state.run(_start_upload, state, address, body.blob_id or body.token, body.size, body.token is not None)


_ADMISSION = {
    "size_conflict": (E.SizeConflict, "an upload of this blob with size {size} is in progress; "
                      "DELETE /v1/uploads/{{id}} first to restart with another size"),
    "too_many_uploads": (E.TooManyUploads, "you have {open} uploads open, the most this relay allows; "
                         "finish or DELETE some first"),
    "relay_busy": (E.RelayBusy, "the relay holds as many open uploads as it allows; retry later"),
    "quota_exceeded": (E.QuotaExceeded, "storing {size_asked} more bytes would exceed the quota of {quota} bytes "
                       "({used} used); wait for old jobs to be collected"),
    "relay_full": (E.RelayFull, "the relay's storage is full; retry later or use another relay"),
}


def _start_upload(state, address: str, name: str, size: int, by_token: bool) -> UploadStatus:
    meta, config = state.meta, state.config
    is_token, done = _status(meta, address, name)
    if is_token and not by_token:
        raise RelayError(E.TokenInUse, "you use this name as an upload token; start it with {token, size}")
    now = time.time()
    # Stored already: a dedup answer, so its GC grace restarts as on /blobs/missing (and if GC took it
    # just now, it is uploaded again like any missing blob).
    fresh_after = now - config.gc_grace / 2
    if done is not None and is_token == by_token and not meta.missing_blobs([done.blob_id], now, fresh_after):
        _drop_session(state, UploadKey(address, name))  # left over if someone else published the blob first
        return done
    if size > config.max_blob_bytes:
        raise RelayError(
            E.BlobTooLarge, f"a blob may be at most {config.max_blob_bytes} bytes", max_blob_bytes=config.max_blob_bytes
        )
    refused = meta.admit_upload(address, name, size, by_token, now, config)
    if refused is not None:
        reason = refused.pop("refused")
        kind, message = _ADMISSION[reason]
        headers = {"Retry-After": "5"} if kind.RETRYABLE else None
        raise RelayError(kind, message.format(size_asked=size, **refused), headers=headers, **refused)
    offset = state.blobs.upload_offset(UploadKey(address, name))
    return _open_status(name, by_token, size, offset)


def _drop_session(state, key: UploadKey) -> None:
    """Forget an open session of a blob that is stored anyway (its bytes, file and quota charge)."""
    if state.meta.get_upload(key.owner, key.blob_id) is not None:
        state.blobs.discard_upload(key)
        state.meta.delete_upload(key.owner, key.blob_id)


@router.get(
    "/uploads/{blob_id}", response_model=UploadStatus, response_model_exclude_none=True, summary="Progress of an upload"
)
async def upload_status(blob_id: SessionPath, request: Request, address: Signer):
    state = _state(request)
    is_token, done, size = _upload_in_progress(state, address, blob_id)
    if done is not None:
        return done
    offset = await state.run(state.blobs.upload_offset, UploadKey(address, blob_id))
    return _open_status(blob_id, is_token, size, offset)


def _upload_in_progress(state, address: str, blob_id: str):
    """(is a token upload, the finished status if it is done, the declared size if it is still open)."""
    is_token, done = _status(state.meta, address, blob_id)
    if done is not None:
        return is_token, done, None
    size = state.meta.get_upload(address, blob_id)
    if size is None:
        raise RelayError(E.NoSuchUpload, "no upload of this blob in progress; start one with POST /v1/uploads")
    return is_token, None, size


@router.delete("/uploads/{blob_id}", status_code=204, summary="Abandon an upload")
async def abort_upload(blob_id: SessionPath, request: Request, address: Signer):
    state = _state(request)
    key = UploadKey(address, blob_id)
    async with state.upload_lock(key):
        await state.run(state.blobs.discard_upload, key)
        await state.run(state.meta.delete_upload, address, blob_id)
    return Response(status_code=204)


@router.put(
    "/uploads/{blob_id}",
    response_model=UploadStatus,
    response_model_exclude_none=True,
    summary="Send blob bytes starting at `offset`; the last byte verifies and publishes the blob",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_bytes(
    blob_id: SessionPath,
    request: Request,
    address: StreamSigner,
    offset: Annotated[int, Query(ge=0, description="where these bytes start")],
):
    state = _state(request)
    is_token, done, size = _upload_in_progress(state, address, blob_id)
    key = UploadKey(address, blob_id)
    if done is not None:
        await state.run(_drop_session, state, key)  # someone else published this blob first
        return done
    lock = state.upload_lock(key)
    if lock.locked():
        raise RelayError(E.UploadBusy, "another request is sending bytes for this upload; retry shortly")
    async with lock:
        session = await state.run(state.blobs.open_upload, key)
        try:
            if offset != session.offset:
                raise RelayError(
                    E.OffsetMismatch,
                    f"the relay has {session.offset} bytes of this upload; resume from that offset",
                    offset=session.offset,
                )
            try:
                await _receive_body(state, request, session, size)
            except ClientDisconnect:
                # Keep what arrived: the client resumes from the persisted offset.
                state.metrics.inc("upload_disconnects_total")
                return Response(status_code=400)
            if session.offset < size:
                await state.run(state.meta.put_upload, address, blob_id, size, time.time())  # still active: no GC
                return _open_status(blob_id, is_token, size, session.offset)
            produced = await state.run(_finish_upload, state, key, session, size, is_token)
        finally:
            state.blobs.release_upload(key, session)  # an idle session holds no descriptor
    await _drop_other_sessions(state, produced, address)
    return UploadStatus(blob_id=produced, token=blob_id if is_token else None, size=size, offset=size, complete=True)


async def _drop_other_sessions(state, blob_id: str, publisher: str) -> None:
    """Other uploaders' sessions of a blob just published: their bytes are not needed any more. A session
    busy with a request is left to that request (its owner's next start or PUT finds the blob stored)."""
    for owner in await state.run(state.meta.sessions_of_blob, blob_id):
        key = UploadKey(owner, blob_id)
        lock = state.upload_lock(key)
        if owner == publisher or lock.locked():
            continue
        async with lock:
            await state.run(_drop_session, state, key)


async def _receive_body(state, request: Request, session, size: int) -> None:
    """The body straight from the socket in a worker thread when the server offers it, else via ASGI."""
    handoff = request.scope.get("extensions", {}).get(EXTENSION)
    if handoff is not None and session.offset + handoff.content_length <= size:
        start = session.offset
        complete = await handoff.receive(partial(session.receive, idle_timeout=state.config.body_timeout))
        if complete is not None:
            state.metrics.inc("upload_handoffs_total")
            state.metrics.inc("bytes_received_total", session.offset - start)
            if not complete:
                raise ClientDisconnect()
            return
    await _receive(state, request, session, size)


async def _receive(state, request: Request, session, size: int) -> None:
    """Append the request body to the session, writing one batch while the next one arrives.

    At most one batch is being written (and hashed) in a worker thread at a time, so memory stays
    bounded and the event loop only collects chunks. On any exit the in-flight write is awaited
    first, so the session's offset is exact before a rollback or the reply.
    """
    start = received = session.offset
    pending: list[bytes] = []
    pending_len = 0
    writing: asyncio.Future | None = None

    async def flush(chunks: list[bytes]) -> None:
        nonlocal writing
        if writing is not None:
            await writing
        writing = asyncio.ensure_future(state.run(session.write, chunks))

    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            received += len(chunk)
            if received > size:
                if writing is not None:
                    await writing
                    writing = None
                await state.run(session.rollback, start)
                raise RelayError(
                    E.TooManyBytes,
                    f"the upload is declared as {size} bytes; these bytes go "
                    f"past the end, nothing of this request was kept (resume at {start})",
                    offset=start,
                )
            pending.append(chunk)
            pending_len += len(chunk)
            if pending_len >= WRITE_BATCH or len(pending) >= MAX_WRITE_CHUNKS:
                await flush(pending)
                pending, pending_len = [], 0
    except ClientDisconnect:
        if pending:  # what did arrive is a valid prefix: keep it, the client resumes after it
            await flush(pending)
        raise
    else:
        if pending:
            await flush(pending)
    finally:
        if writing is not None:
            await writing
        state.metrics.inc("bytes_received_total", received - start)


def _finish_upload(state, key: UploadKey, session, size: int, is_token: bool) -> str:
    """Verify and publish; returns the blob id (for a token session, whatever the bytes hash to)."""
    digest = session.digest_hex()
    if not is_token and digest != key.blob_id:
        state.blobs.discard_upload(key)
        state.meta.delete_upload(key.owner, key.blob_id)
        state.metrics.inc("upload_hash_mismatch_total")
        raise RelayError(
            E.HashMismatch,
            "the uploaded bytes do not hash to the blob id; the upload was discarded, start again from offset 0",
        )
    with state.publish_lock:
        state.blobs.publish(key, session, digest)
        state.meta.add_blob(digest, size, key.owner, time.time(), session=key.blob_id)
    state.metrics.inc("uploads_completed_total")
    return digest


class BlobFileResponse(FileResponse):
    """A blob file, leased from GC until it is sent; Range refusals as the relay's JSON errors."""

    chunk_size = 4 << 20  # fewer event-loop round trips per byte than the 64 KiB default

    def __init__(self, path, state, blob_id: str, **kwargs):
        super().__init__(path, **kwargs)
        self.state, self.blob_id = state, blob_id

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.state.release_download(self.blob_id)

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int):
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader as exc:
            raise RelayError(E.BadRequest, f"{exc.content} Send Range: bytes=START- or bytes=START-END") from None
        except RangeNotSatisfiable:
            raise RelayError(
                E.RangeNotSatisfiable,
                f"the range starts past the end of the blob ({file_size} bytes)",
                headers={"Content-Range": f"bytes */{file_size}"},
                size=file_size,
            ) from None


_DOWNLOAD_RESPONSES = {200: {"content": {"application/octet-stream": {}}}, 206: {"description": "partial"}}


# GET and HEAD as two routes: one api_route with both methods gives them one OpenAPI operation id.
@router.head("/blobs/{blob_id}", summary="A blob's size and headers", operation_id="head_blob",
             responses=_DOWNLOAD_RESPONSES)
@router.get("/blobs/{blob_id}", summary="Download a blob (Range supported)", operation_id="download_blob",
            responses=_DOWNLOAD_RESPONSES)
async def download_blob(blob_id: BlobIdPath, request: Request, address: Signer):
    state = _state(request)
    if not state.lease_download(blob_id):  # held until the response is sent: GC cannot delete it meanwhile
        raise RelayError(E.NoSuchBlob, "the relay has no blob with this id (ask /v1/blobs/missing, then upload)")
    state.metrics.inc("downloads_total")
    try:
        return BlobFileResponse(
            state.blobs.blob_path(blob_id),
            state,
            blob_id,
            media_type="application/octet-stream",
            headers={"Cache-Control": "private, max-age=31536000, immutable"},
        )
    except BaseException:
        state.release_download(blob_id)
        raise
