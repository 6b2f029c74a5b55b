"""Request authentication, decided from the headers alone before any body byte is read.

Every /v1 route is a `SignedRoute`: before FastAPI reads or parses a body, the signer's Stacks address
is recovered from the X-Farm-* headers and the declared body size is checked against the route's
limit. Only then does the body flow, through `_SignedBody`, which enforces that limit while streaming,
times out a silent client and checks the body against its signed sha256 at its end. So an anonymous
client can make the relay read headers (bounded by uvicorn_protocol.py) and verify one signature, and
nothing more; refusals close the connection rather than read a body nobody will use.

Refused: a client IP over its pre-authentication rate (or with too many failed authentications), the
relay (or this client IP) at its ceiling of requests in flight, missing or malformed headers, a timestamp outside the
allowed clock skew, a signature that does not recover, a nonce this address already used (remembered
until the timestamp leaves the window, across restarts), a body that does not match its signed hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.datastructures import Headers

from addon.farm import relay_errors as E
from addon.farm import relay_protocol as proto
from addon.stacks.errors import StacksError
from addon.stacks.keys import address_from_public_key
from addon.stacks.message import recover_public_key

from .body_handoff import EXTENSION
from .errors import RelayError

TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")  # Unix seconds; more digits overflow the float clock
SIGNATURE_RE = re.compile(r"^[0-9a-fA-F]{130}$")
DRAIN_LIMIT = 64 * 1024  # unread body bytes a response may leave for the server to skip on a kept-alive connection
CLOSE = {"Connection": "close"}  # a refused request's body is not read: the connection cannot be reused


def _refuse(state, reason: str, message: str) -> RelayError:
    state.metrics.inc("auth_failures_total", reason=reason)
    return RelayError(E.NotAuthenticated, message, headers=CLOSE, reason=reason)


def _path_and_query(scope) -> str:
    # The path exactly as sent (percent-encoding intact), so client and relay sign the same text.
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    return path + ("?" + query if query else "")


def _declared_length(headers: Headers) -> int | None:
    """The body's Content-Length; None for a chunked body (its size shows while it streams)."""
    value = headers.get("content-length")
    if value is None:
        return None if "transfer-encoding" in headers else 0
    return int(value) if value.isdigit() else None


def _too_large(limit: int) -> RelayError:
    return RelayError(
        E.BodyTooLarge, f"this endpoint accepts bodies of at most {limit} bytes", headers=CLOSE, limit=limit
    )


def verify_headers(state, scope, streamed: bool) -> str:
    """The signer's address, from the headers only. `streamed`: blob bytes, signed as UNSIGNED-PAYLOAD."""
    h = Headers(scope=scope)
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
    if not TIMESTAMP_RE.match(ts_text):
        raise _refuse(state, "bad_timestamp", "X-Farm-Timestamp must be integer Unix seconds")
    timestamp = int(ts_text)
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
    if streamed:
        if content != proto.UNSIGNED_PAYLOAD:
            raise _refuse(
                state,
                "bad_content_hash",
                f"blob bytes are signed with X-Farm-Content-SHA256: {proto.UNSIGNED_PAYLOAD}",
            )
    if not SIGNATURE_RE.match(signature):
        raise _refuse(state, "bad_signature", "X-Farm-Signature must be 130 hex digits (RSV)")
    message = proto.canonical_request(scope["method"], _path_and_query(scope), content, timestamp, nonce)
    try:
        address = address_from_public_key(recover_public_key(message, signature), state.config.network)
    except (StacksError, ValueError):
        raise _refuse(state, "bad_signature", "the signature does not verify for this request") from None
    # Recorded only once the signature is valid, so nobody can burn another address's nonces.
    if not state.nonces.use(address, nonce, timestamp + skew + 1):  # on the loop: see nonces.py
        raise _refuse(state, "replayed_nonce", "this nonce was already used; sign every request with a new nonce")
    return address


def _rate_limited(state, wait: float, who: str) -> RelayError:
    state.metrics.inc("rate_limited_total")
    return RelayError(
        E.RateLimited,
        f"too many requests from {who}; retry in {wait:.2f}s",
        headers={"Retry-After": str(max(1, round(wait)))} | CLOSE,
    )


class _SignedBody:
    """The ASGI receive channel of an authenticated request: at most `limit` bytes, no silence longer
    than `timeout`, and (unless streamed) the sha256 the signer declared, checked at the body's end."""

    def __init__(self, receive, state, limit: int, expected_sha256: str | None, timeout: float):
        self._receive, self.state, self.limit, self.timeout = receive, state, limit, timeout
        self.expected = expected_sha256
        self.hasher = hashlib.sha256() if expected_sha256 else None
        self.received = 0
        self.complete = False  # the app has read the body to its end

    async def __call__(self):
        if self.complete:  # after the body, only a disconnect can come: wait for it as long as it takes
            return await self._receive()
        try:
            async with asyncio.timeout(self.timeout):  # a timer, not a task per chunk as wait_for makes
                message = await self._receive()
        except TimeoutError:
            raise RelayError(
                E.RequestTimeout, f"no body bytes for {self.timeout:.0f}s; send the request again", headers=CLOSE
            ) from None
        if message["type"] != "http.request":
            return message
        chunk = message.get("body", b"")
        self.received += len(chunk)
        self.complete = not message.get("more_body", False)
        if self.received > self.limit:
            raise _too_large(self.limit)
        if self.hasher is not None:
            self.hasher.update(chunk)
            if not message.get("more_body", False) and self.hasher.hexdigest() != self.expected:
                raise _refuse(
                    self.state, "body_mismatch", "the body does not match X-Farm-Content-SHA256 (altered in transit?)"
                )
        return message


class SignedRoute(APIRoute):
    """A /v1 route: authenticated from its headers before its body is read (see the module docstring).

    Routes whose body is blob bytes declare the `StreamSigner` dependency; their size limit is the
    largest blob, and their bytes are verified against the blob id instead of a signed hash.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.streamed = any(d.call is signed_stream for d in self.dependant.dependencies)

    async def handle(self, scope, receive, send):
        state = scope["app"].state.relay
        if state.inflight >= state.config.max_inflight:
            raise RelayError(E.RelayBusy, "the relay is at its limit of requests in flight; retry shortly",
                             headers={"Retry-After": "1"} | CLOSE)
        ip = (scope.get("client") or ("?", 0))[0]
        wait = state.ip_limiter.allow(ip) or state.ip_fail_limiter.peek(ip)
        if wait:
            raise _rate_limited(state, wait, f"this client address ({ip})")
        if state.inflight_by_ip[ip] >= state.config.max_inflight_per_ip:
            raise RelayError(E.RelayBusy, f"{ip} has as many requests in flight as the relay allows one address; "
                             "retry when some have finished", headers={"Retry-After": "1"} | CLOSE)
        headers = Headers(scope=scope)
        cfg = state.config
        limit = cfg.max_blob_bytes if self.streamed else cfg.request_body_limit
        declared = _declared_length(headers)
        if declared is not None and declared > limit:
            raise _too_large(limit)
        try:
            address = verify_headers(state, scope, self.streamed)
        except RelayError:
            state.ip_fail_limiter.allow(ip)
            raise
        wait = state.limiter.allow(address)
        if wait:
            raise _rate_limited(state, wait, address)
        scope.setdefault("state", {})["address"] = address
        expected = None if self.streamed else headers.get(proto.CONTENT_HASH_HEADER)
        body = _SignedBody(receive, state, limit, expected, cfg.body_timeout)

        async def send_closing(message):
            # A response that leaves much of the body unread closes the connection: otherwise the server
            # would go on reading (and discarding) it, up to the declared gigabytes, for nobody.
            if message["type"] == "http.response.start" and _unread(scope, body, declared) > DRAIN_LIMIT:
                message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        state.inflight += 1
        state.inflight_by_ip[ip] += 1
        try:
            await super().handle(scope, body, send_closing)
        finally:
            state.inflight -= 1
            state.inflight_by_ip[ip] -= 1
            if not state.inflight_by_ip[ip]:
                del state.inflight_by_ip[ip]


def _unread(scope, body: _SignedBody, declared: int | None) -> int:
    handoff = scope.get("extensions", {}).get(EXTENSION)
    if body.complete or (handoff is not None and handoff.received_all):
        return 0
    return DRAIN_LIMIT + 1 if declared is None else declared - body.received


async def signed(request: Request) -> str:
    """Dependency: the signer of a request whose body is covered by the signature (checked as it is read)."""
    await request.body()  # FastAPI has read it already on routes with a JSON body
    return request.scope["state"]["address"]


async def signed_stream(request: Request) -> str:
    """Dependency: the signer of a request streaming blob bytes (verified by their content address)."""
    return request.scope["state"]["address"]


# Route parameters. A route with either must be a SignedRoute (the routers declare route_class).
Signer = Annotated[str, Depends(signed)]
StreamSigner = Annotated[str, Depends(signed_stream)]
