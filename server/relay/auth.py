"""Request authentication: the signer's Stacks address is recovered from the request signature.

Refused: missing or malformed headers, a timestamp outside the allowed clock skew, a body that does
not match its signed hash, a signature that does not recover, and a nonce this address already used
(nonces are remembered in the metadata store until their timestamp leaves the window, across restarts).
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from fastapi import Depends, Request

from addon.farm import relay_protocol as proto
from addon.stacks.errors import StacksError
from addon.stacks.keys import address_from_public_key
from addon.stacks.message import recover_public_key

from .errors import RelayError


def _refuse(state, reason: str, message: str) -> RelayError:
    state.metrics.inc("auth_failures_total", reason=reason)
    return RelayError(401, "unauthenticated", message, reason=reason)


def _path_and_query(request: Request) -> str:
    # The path exactly as sent (percent-encoding intact), so client and relay sign the same text.
    scope = request.scope
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return path + ("?" + query if query else "")


async def authenticate(request: Request, body: bytes | None) -> str:
    """Return the signer's address. `body=None` for streamed blob bytes (signed as UNSIGNED-PAYLOAD)."""
    state = request.app.state.relay
    h = request.headers
    signature, ts_text, nonce, content = (
        h.get(proto.SIGNATURE_HEADER),
        h.get(proto.TIMESTAMP_HEADER),
        h.get(proto.NONCE_HEADER),
        h.get(proto.CONTENT_HASH_HEADER),
    )
    if not (signature and ts_text and nonce and content):
        raise _refuse(
            state,
            "missing_headers",
            "sign the request: headers X-Farm-Signature, X-Farm-Timestamp, "
            "X-Farm-Nonce and X-Farm-Content-SHA256 are required (see addon.farm.relay_client)",
        )
    try:
        timestamp = int(ts_text)
    except ValueError:
        raise _refuse(state, "bad_timestamp", "X-Farm-Timestamp must be integer Unix seconds") from None
    skew = state.config.clock_skew
    now = time.time()
    if abs(now - timestamp) > skew:
        raise _refuse(
            state,
            "stale_timestamp",
            f"request timestamp is more than {skew}s from the relay's clock "
            f"({int(now)}); check the system clock and sign a fresh request",
        )
    if not proto.NONCE_RE.match(nonce):
        raise _refuse(state, "bad_nonce", "X-Farm-Nonce must be 16-64 characters of [A-Za-z0-9_-]")
    if body is None:
        if content != proto.UNSIGNED_PAYLOAD:
            raise _refuse(
                state,
                "bad_content_hash",
                f"blob bytes are signed with X-Farm-Content-SHA256: {proto.UNSIGNED_PAYLOAD}",
            )
    elif content != hashlib.sha256(body).hexdigest():
        raise _refuse(state, "body_mismatch", "the body does not match X-Farm-Content-SHA256 (altered in transit?)")
    message = proto.canonical_request(request.method, _path_and_query(request), content, timestamp, nonce)
    try:
        address = address_from_public_key(recover_public_key(message, signature), state.config.network)
    except (StacksError, ValueError):
        raise _refuse(state, "bad_signature", "the signature does not verify for this request") from None
    # Recorded only once the signature is valid, so nobody can burn another address's nonces.
    if not state.nonces.use(address, nonce, timestamp + skew + 1):  # on the loop: see nonces.py
        raise _refuse(state, "replayed_nonce", "this nonce was already used; sign every request with a new nonce")
    wait = state.limiter.allow(address)
    if wait:
        state.metrics.inc("rate_limited_total")
        raise RelayError(
            429,
            "rate_limited",
            f"too many requests from {address}; retry in {wait:.2f}s",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    request.state.address = address
    return address


async def signed(request: Request) -> str:
    """Dependency: the signer of a request whose body is covered by the signature."""
    return await authenticate(request, await request.body())


async def signed_stream(request: Request) -> str:
    """Dependency: the signer of a request streaming blob bytes (verified by their content address)."""
    return await authenticate(request, None)


# Route parameter: runs before body validation, so unsigned requests get 401 rather than a schema error.
Signer = Annotated[str, Depends(signed)]
StreamSigner = Annotated[str, Depends(signed_stream)]
