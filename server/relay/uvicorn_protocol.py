"""uvicorn's httptools protocol, plus a body handoff (see body_handoff.py) for PUTs with a Content-Length.

This leans on uvicorn's internals (parser, cycle, flow attributes); uvicorn is pinned in requirements.txt
and tests/test_relay_blobs.py covers keep-alive after a handoff, so an upgrade that breaks it shows.
"""

from __future__ import annotations

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .body_handoff import EXTENSION, BodyHandoff


class RelayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus a body handoff for PUT requests with a Content-Length."""

    body_seen = 0

    def new_parser(self) -> httptools.HttpRequestParser:
        parser = httptools.HttpRequestParser(self)
        try:
            parser.set_dangerous_leniencies(lenient_data_after_close=True)  # as uvicorn does
        except AttributeError:  # pragma: no cover - httptools < 0.6.3
            pass
        return parser

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.body_seen = 0

    def on_body(self, body: bytes) -> None:
        self.body_seen += len(body)
        super().on_body(body)

    def on_headers_complete(self) -> None:
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
