"""The relay's error codes, one table shared by the relay (which raises them) and its clients (which catch them).

Every error the relay sends is JSON, `{"error": {"code": ..., "message": ..., **details}}`, with the HTTP
status of its code below. On the client side each code is one exception class, a subclass of
`RelayRefused`; `error_from_response` turns any response (JSON or not, e.g. from a proxy in front of the
relay) into the right one. Whether a request is worth retrying as it is (after a pause, re-signed) is
`retryable`, decided here and nowhere else. tests/test_relay_errors.py checks that the relay emits only
these codes, with these statuses.

bpy-free: imported by the relay and by the add-on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping


class RelayRefused(Exception):
    """The relay (or something in front of it) refused a request."""

    code = "unexpected"
    status = 0  # the HTTP status the relay sends with this code (0: any)
    RETRYABLE = False

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(f"relay refused ({status} {code}): {message}")
        self.status, self.code, self.message, self.details = status, code, message, details or {}

    @property
    def retryable(self) -> bool:
        """Whether the same request, signed again after a pause, may succeed."""
        return self.RETRYABLE

    @property
    def retry_after(self) -> float | None:
        """Seconds the relay asked the client to wait (its Retry-After header), if it said."""
        value = self.details.get("retry_after")
        return float(value) if isinstance(value, int | float) else None


class RelayUnavailable(Exception):
    """The relay could not be reached (or kept failing) after all retries: check its URL and that it runs."""


# ---- the table: one class per code; the docstring is what the code means


class NotAuthenticated(RelayRefused):
    """The request is not signed correctly (`details["reason"]` says how): sign every request afresh with
    the four X-Farm-* headers; check the system clock if the reason is stale_timestamp."""

    code, status = "unauthenticated", 401


class NotAuthorized(RelayRefused):
    """The signer is not a party of this job allowed to do this (requester or assigned provider, on chain)."""

    code, status = "forbidden", 403


class QuotaExceeded(RelayRefused):
    """The signer's storage quota would be exceeded; wait for old jobs' blobs to be collected."""

    code, status = "quota_exceeded", 403


class RelayFull(RelayRefused):
    """The relay's total storage ceiling (or its disk reserve) would be exceeded: try later or another relay."""

    code, status = "relay_full", 507


class RateLimited(RelayRefused):
    """Too many requests from this signer or client address; wait Retry-After seconds."""

    code, status, RETRYABLE = "rate_limited", 429, True


class TooManyUploads(RelayRefused):
    """The signer has as many open upload sessions as the relay allows; finish or DELETE some, or wait."""

    code, status, RETRYABLE = "too_many_uploads", 429, True


class RelayBusy(RelayRefused):
    """The relay is at a global ceiling (connections, requests in flight or open sessions); retry shortly."""

    code, status, RETRYABLE = "relay_busy", 503, True


class ChainUnavailable(RelayRefused):
    """The relay cannot read the job from the chain right now; retry shortly."""

    code, status, RETRYABLE = "chain_unavailable", 503, True


class InternalError(RelayRefused):
    """An unexpected relay failure (logged there); retry later, and report it if it persists."""

    code, status, RETRYABLE = "internal", 500, True


class RequestTimeout(RelayRefused):
    """The request's headers or body did not arrive in time; send it again."""

    code, status, RETRYABLE = "request_timeout", 408, True


class UploadBusy(RelayRefused):
    """Another request is sending bytes for this upload; retry shortly."""

    code, status, RETRYABLE = "upload_busy", 409, True


class OffsetMismatch(RelayRefused):
    """The relay holds a different number of bytes of this upload (`details["offset"]`); resume from there."""

    code, status, RETRYABLE = "offset_mismatch", 409, True


class NoSuchJob(RelayRefused):
    """The job does not exist on chain (yet: the relay reads the chain through its node)."""

    code, status = "no_job", 404


class NoSuchBlob(RelayRefused):
    """The relay has no blob with this id; ask /v1/blobs/missing and upload it."""

    code, status = "no_blob", 404


class NoSuchUpload(RelayRefused):
    """No upload of this blob or token is open for the signer; start one with POST /v1/uploads."""

    code, status = "no_upload", 404


class NoSuchDocument(RelayRefused):
    """The job has no such document (manifest or preview) yet."""

    code, status = "no_document", 404


class NoSuchEndpoint(RelayRefused):
    """No such endpoint; see the relay's /docs for its API (client and relay versions may differ)."""

    code, status = "not_found", 404


class MethodNotAllowed(RelayRefused):
    """The endpoint exists but not with this HTTP method."""

    code, status = "method_not_allowed", 405


class TokenInUse(RelayRefused):
    """The signer uses this name as an upload token; start it with {token, size}."""

    code, status = "token_in_use", 409


class SizeConflict(RelayRefused):
    """An upload of this blob with another size (`details["size"]`) is open; DELETE it to restart."""

    code, status = "size_conflict", 409


class ManifestHashMismatch(RelayRefused):
    """The scene manifest's sha256 differs from the hash committed on chain for the job."""

    code, status = "manifest_hash_mismatch", 409


class MissingBlobs(RelayRefused):
    """A document references blobs the relay lacks (`details["missing"]`); upload them first."""

    code, status = "missing_blobs", 409


class JobFull(RelayRefused):
    """The job holds as many previews or document bytes as the relay allows per job."""

    code, status = "job_full", 409


class BlobTooLarge(RelayRefused):
    """The blob is larger than the relay's max_blob_bytes (see /v1/info)."""

    code, status = "blob_too_large", 413


class TooManyBytes(RelayRefused):
    """The bytes sent go past the upload's declared size; nothing of the request was kept."""

    code, status = "too_many_bytes", 413


class DocumentTooLarge(RelayRefused):
    """The document is larger than the relay's max_document_bytes (see /v1/info)."""

    code, status = "document_too_large", 413


class BodyTooLarge(RelayRefused):
    """The request body is larger than this endpoint accepts (see /v1/info)."""

    code, status = "body_too_large", 413


class HeadersTooLarge(RelayRefused):
    """The request's headers are too large or too many."""

    code, status = "headers_too_large", 431


class RangeNotSatisfiable(RelayRefused):
    """The Range starts past the end of the blob (`details["size"]` is its size)."""

    code, status = "range_not_satisfiable", 416


class BadRequest(RelayRefused):
    """The request is not well-formed HTTP (or has a malformed header such as Range)."""

    code, status = "bad_request", 400


class InvalidRequest(RelayRefused):
    """The request does not match the API schema (`details["problems"]` lists where)."""

    code, status = "invalid_request", 422


class BadBase64(RelayRefused):
    """A document's ciphertext is not standard base64."""

    code, status = "bad_base64", 422


class HashMismatch(RelayRefused):
    """The uploaded bytes do not hash to the blob id; the upload was discarded, start again from 0."""

    code, status = "hash_mismatch", 422


class UnexpectedResponse(RelayRefused):
    """A response that is not one of the relay's errors (an older relay, or a proxy in front of it)."""

    code, status = "unexpected", 0
    RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

    @property
    def retryable(self) -> bool:
        return self.status in self.RETRYABLE_STATUSES


TABLE: tuple[type[RelayRefused], ...] = tuple(
    cls for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, RelayRefused) and cls not in (RelayRefused, UnexpectedResponse)
)
BY_CODE: dict[str, type[RelayRefused]] = {cls.code: cls for cls in TABLE}
assert len(BY_CODE) == len(TABLE), "two classes share a code"


def error_from_response(status: int, body: bytes, headers: Mapping | None = None) -> RelayRefused:
    """The exception for a refused request: the class of its JSON error code, else UnexpectedResponse."""
    retry_after = _retry_after(headers)
    try:
        error = json.loads(body)["error"]
        code, message = error["code"], error["message"]
        if not isinstance(code, str) or not isinstance(message, str):
            raise TypeError(code)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = body[:200].decode("utf-8", "replace").strip()
        hint = "a proxy in front of the relay may have answered; check the relay URL and retry later"
        details = {} if retry_after is None else {"retry_after": retry_after}
        return UnexpectedResponse(status, "unexpected", f"{text or 'no error body'} ({hint})", details)
    details = {k: v for k, v in error.items() if k not in ("code", "message")}
    if retry_after is not None:
        details.setdefault("retry_after", retry_after)
    return BY_CODE.get(code, UnexpectedResponse)(status, code, message, details)


def _retry_after(headers: Mapping | None) -> float | None:
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: rare enough to ignore
        return None
