"""uvicorn's httptools protocol, plus the relay's connection limits and a body handoff (body_handoff.py).

Limits are enforced here, where the bytes are parsed, before the ASGI app sees a request: the request
line and headers together at most `max_header_bytes` and `max_headers` headers (431), complete within
`header_timeout` seconds of their first byte or of the connection's start (408: a connection that sends
nothing, or half a header, is closed), at most `max_connections` open connections (503). Parser errors
are answered as the relay's JSON errors too (400). Idle keep-alive connections are closed by uvicorn
after its timeout_keep_alive.

This leans on uvicorn's internals (parser, cycle, flow attributes); uvicorn is pinned in requirements.txt
and tests/test_relay_blobs.py covers keep-alive after a handoff, so an upgrade that breaks it shows.
"""

from __future__ import annotations

import http

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from addon.farm import relay_errors as E

from .body_handoff import EXTENSION, BodyHandoff
from .errors import error_bytes


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a request the relay refuses."""


class RelayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header limits and timeouts, and a body handoff for PUT requests
    with a Content-Length. `limited(config)` makes the subclass with a relay's configured limits."""

    body_seen = 0
    max_header_bytes = 16 * 1024
    max_headers = 64
    header_timeout = 10.0
    max_connections = 2048

    ip_fail_limiter = None  # ratelimit.RateLimiter of failed authentications per client IP, if any

    @classmethod
    def limited(cls, config, state=None) -> type[RelayHttpProtocol]:
        """The protocol with `config`'s limits; with the relay's `state`, a client IP whose failed
        authentications are over their rate is turned away as it connects (unless behind a proxy,
        where the connecting IP is the proxy's)."""
        throttle = state.ip_fail_limiter if state is not None and not config.forwarded_allow_ips else None
        return type(
            "RelayHttpProtocol",
            (cls,),
            {
                "max_header_bytes": config.max_header_bytes,
                "max_headers": config.max_headers,
                "header_timeout": config.header_timeout,
                "max_connections": config.max_connections,
                "ip_fail_limiter": throttle,
            },
        )

    # ---- connection and head limits

    def connection_made(self, transport) -> None:
        self._refusal: tuple[type[E.RelayRefused], str] | None = None
        self._head_timer = None
        self._start_head()
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(E.RelayBusy, "the relay has as many connections open as it allows; retry shortly")
            return
        wait = self.ip_fail_limiter.peek(self.client[0]) if self.ip_fail_limiter and self.client else 0
        if wait:  # the cheapest refusal: no request parsed, no task started
            self._refuse(E.RateLimited, f"too many failed authentications from {self.client[0]}; retry in "
                         f"{wait:.0f}s", retry_after=max(1, round(wait)))
            return
        self._arm_head_timer()

    def connection_lost(self, exc) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _start_head(self) -> None:
        self._in_head, self._head_bytes, self._header_count = True, 0, 0

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head and not self.transport.is_closing():
            if self._head_bytes:
                self._refuse(E.RequestTimeout, f"the request headers did not arrive within {self.header_timeout}s")
            else:  # idle since the connection opened or its last response: nobody to answer
                self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)  # may count body bytes of this chunk too: a bound, not a tally
            self._arm_head_timer()
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            self._refuse(E.HeadersTooLarge, f"request line and headers may be at most {self.max_header_bytes} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._refusal = (E.HeadersTooLarge, f"a request may have at most {self.max_headers} headers")
            raise _Refused()
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this on any parser error (including _Refused from a callback): answer in JSON.
        kind, message = self._refusal or (E.BadRequest, "the request is not well-formed HTTP/1.1")
        self._refuse(kind, message)

    def _refuse(self, kind: type[E.RelayRefused], message: str, retry_after: int | None = None) -> None:
        body = error_bytes(kind, message)
        head = (
            f"HTTP/1.1 {kind.status} {http.HTTPStatus(kind.status).phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n"
            + (f"retry-after: {retry_after}\r\n" if retry_after else "")
            + "\r\n"
        )
        if not self.transport.is_closing():
            self.transport.write(head.encode() + body)
            self.transport.close()
        self._disarm_head_timer()

    def new_parser(self) -> httptools.HttpRequestParser:
        parser = httptools.HttpRequestParser(self)
        try:
            parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn does
        except AttributeError:  # pragma: no cover - httptools < 0.6.3
            pass
        self._start_head()  # after a handoff: the next bytes are the next request's head
        return parser

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.body_seen = 0

    def on_body(self, body: bytes) -> None:
        self.body_seen += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._start_head()

    # ---- body handoff

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()
        if self.scope.get("method") != "PUT" or self.scheme != "http" or self.pipeline:
            return
        if self.cycle is None or self.cycle.scope is not self.scope:  # an upgrade: no cycle was made
            return
        length = None
        for name, value in self.headers:
            if name == b"transfer-encoding":
                return
            if name == b"content-length":
                length = value
        if length is None or not length.isdigit():
            return
        extensions = self.scope.setdefault("extensions", {})
        extensions[EXTENSION] = BodyHandoff(self, self.cycle, int(length))
