"""Signed transport to the relay: every request signed with the caller's Stacks key, retried with backoff.

The signature covers method, path, body hash, timestamp and nonce (relay_protocol). Network errors,
5xx and 429 are retried with exponential backoff (honouring Retry-After); other refusals raise at
once. Blob bytes and small requests to a plain-HTTP relay go through a pooled http.client fast path
(`_BodySender`); TLS or proxied relays and streamed downloads use httpx.
"""

from __future__ import annotations

import http.client
import json
import random
import secrets
import select
import threading
import time
import urllib.request
from collections.abc import Iterable

import httpx

from ..stacks.message import sign_message
from . import relay_protocol as proto
from .relay_errors import RelayRefused, RelayUnavailable, error_from_response

KEEPALIVE_REUSE = 4.0  # seconds an idle blob connection is reused (uvicorn closes them after 5)


class SignedTransport:
    """Signed requests to one relay as one account."""

    def __init__(self, base_url: str, private_key: str, *, timeout: float = 60.0, retries: int = 6,
                 backoff: float = 0.25):
        self.base_url = base_url.rstrip("/")
        self.private_key = private_key
        self.retries, self.backoff = retries, backoff
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=10.0), limits=httpx.Limits(max_connections=64))
        self._bodies = _BodySender(self.base_url, timeout)  # blob bytes: straight from our buffers to the socket

    def close(self) -> None:
        self.http.close()
        self._bodies.close()

    def _headers(self, method: str, path: str, content_sha256: str) -> dict:
        timestamp, nonce = int(time.time()), secrets.token_urlsafe(18)
        message = proto.canonical_request(method, path, content_sha256, timestamp, nonce)
        return {
            proto.SIGNATURE_HEADER: sign_message(message, self.private_key),
            proto.TIMESTAMP_HEADER: str(timestamp),
            proto.NONCE_HEADER: nonce,
            proto.CONTENT_HASH_HEADER: content_sha256,
        }

    def send(self, method: str, path: str, *, body: bytes = b"", stream_body=None, headers=None,
             stream: bool = False) -> httpx.Response:
        """One signed attempt. `stream_body` (an iterator of bytes) is sent unsigned, for blob bytes."""
        digest = proto.UNSIGNED_PAYLOAD if stream_body is not None else proto.body_hash(body)
        all_headers = self._headers(method, path, digest) | (headers or {})
        if stream_body is not None and self._bodies.usable:
            return self._bodies.send(method, path, all_headers, stream_body)
        if not stream and self._bodies.usable:  # a third of httpx's CPU per request
            if body or method in ("POST", "PUT", "PATCH"):
                all_headers["content-length"] = str(len(body))
            return self._bodies.send(method, path, all_headers, [body] if body else [], chunked=False)
        content = stream_body if stream_body is not None else body
        request = self.http.build_request(method, self.base_url + path, content=content, headers=all_headers)
        return self.http.send(request, stream=stream)

    def request(self, method: str, path: str, *, json_body=None, headers=None, stream=False,
                ok=(200, 201, 204, 206)) -> httpx.Response:
        """Signed request with retries on network errors, 5xx and 429; other errors raise at once."""
        body = b"" if json_body is None else json_bytes(json_body)
        hdrs = dict(headers or {})
        if json_body is not None:
            hdrs["content-type"] = "application/json"
        for attempt in range(self.retries + 1):
            try:
                response = self.send(method, path, body=body, headers=hdrs, stream=stream)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise RelayUnavailable(f"relay at {self.base_url} unreachable: {exc}; check the relay URL "
                                           "and that the relay is running, then retry") from exc
                self.sleep(attempt)
                continue
            if response.status_code in ok:
                return response
            error = error_from(response)
            if error.retryable and attempt < self.retries:
                self.sleep(attempt, error.retry_after)
                continue
            raise error
        raise AssertionError("unreachable")

    def sleep(self, attempt: int, retry_after: float | None = None) -> None:
        """Exponential backoff with jitter, never shorter than the relay's Retry-After."""
        delay = min(10.0, self.backoff * (2**attempt)) * (0.5 + random.random() / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, 60.0))
        time.sleep(delay)

    def info(self) -> dict:
        return self.http.get(self.base_url + "/v1/info").json()


def json_bytes(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def error_from(response: httpx.Response) -> RelayRefused:
    """The relay_errors class of a refused response (its body read and the response closed)."""
    try:
        body = response.read()
    except httpx.HTTPError:
        body = b""
    finally:
        response.close()
    return error_from_response(response.status_code, body, response.headers)


class _BodySender:
    """Sends requests with http.client: for blob PUTs, it hands each chunk to `socket.sendall` as it is, where httpx
    (h11) first joins it into a new bytes object. Chunks can therefore be views into reused buffers,
    so ciphertext goes from the cipher's output buffer to the socket with no copy in between.

    Small signed requests go through it too (about 0.25 ms of CPU each against httpx's 0.6). Only for
    plain-HTTP relays reached without a proxy (loopback, LAN); otherwise `usable` is False and the
    caller sends through httpx, which handles TLS settings and proxies; streamed downloads always use
    httpx. Connections are kept alive in a small pool shared by the threads.
    """

    def __init__(self, base_url: str, timeout: float):
        url = httpx.URL(base_url)
        self.host, self.port, self.timeout = url.host, url.port or 80, timeout
        self.prefix = url.raw_path.decode().rstrip("/")
        self.usable = url.scheme == "http" and not _proxied(base_url)
        self._idle: list[tuple[http.client.HTTPConnection, float]] = []
        self._lock = threading.Lock()

    def send(
        self, method: str, path: str, headers: dict, chunks: Iterable, chunked: bool | None = None
    ) -> httpx.Response:
        """One request; the body is `chunks`, framed as chunks unless a Content-Length is given (or
        `chunked=False`: no body or a Content-Length in `headers`)."""
        conn = self._connection()
        if chunked is None:
            chunked = not any(name.lower() == "content-length" for name in headers)
        try:
            conn.putrequest(method, self.prefix + path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            if chunked:
                conn.putheader("transfer-encoding", "chunked")
            conn.endheaders()
            for chunk in chunks:
                if not chunked:
                    conn.send(chunk)
                elif len(chunk):
                    conn.send(b"%x\r\n" % len(chunk))
                    conn.send(chunk)
                    conn.send(b"\r\n")
            if chunked:
                conn.send(b"0\r\n\r\n")
            reply = conn.getresponse()
            content = reply.read()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}") from exc
        except BaseException:
            conn.close()  # e.g. the body's source failed: the request is half sent
            raise
        if reply.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle.append((conn, time.monotonic()))
        return httpx.Response(reply.status, headers=reply.getheaders(), content=content)

    def _connection(self) -> http.client.HTTPConnection:
        # Reuse a kept-alive connection unless the relay may have closed it: idle past its keep-alive
        # time, or readable (a closed socket reads EOF; an idle HTTP/1.1 one never has data).
        while True:
            with self._lock:
                conn, since = self._idle.pop() if self._idle else (None, 0.0)
            if conn is None:
                return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            if conn.sock is not None and time.monotonic() - since < KEEPALIVE_REUSE:
                readable, _, _ = select.select([conn.sock], [], [], 0)
                if not readable:
                    return conn
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            conn.close()


def _proxied(base_url: str) -> bool:
    """Whether httpx would send requests to this URL through a proxy (from the environment)."""
    host = httpx.URL(base_url).host
    proxies = urllib.request.getproxies()
    return bool(proxies.get("http") or proxies.get("all")) and not urllib.request.proxy_bypass(host)
