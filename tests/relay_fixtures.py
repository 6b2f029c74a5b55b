"""Helpers for relay tests: signed headers, an in-process relay (no uvicorn), raw HTTP over sockets."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from dataclasses import replace
from pathlib import Path

import httpx

from addon.farm import relay_protocol as proto
from addon.stacks.keys import address_from_private_key, make_private_key
from addon.stacks.message import sign_message
from server.relay.app import create_app
from server.relay.authority import TableJobAuthority
from server.relay.config import RelayConfig


def signed_headers(key: str, method: str, path: str, body: bytes = b"", content: str | None = None) -> dict:
    """The four X-Farm-* headers for one request (a fresh nonce each call)."""
    timestamp, nonce = int(time.time()), os.urandom(12).hex()
    content = content or proto.body_hash(body)
    return {
        proto.SIGNATURE_HEADER: sign_message(proto.canonical_request(method, path, content, timestamp, nonce), key),
        proto.TIMESTAMP_HEADER: str(timestamp),
        proto.NONCE_HEADER: nonce,
        proto.CONTENT_HASH_HEADER: content,
    }


class Signer:
    """A fresh key and its address."""

    def __init__(self):
        self.key = make_private_key()
        self.address = address_from_private_key(self.key, "testnet")


class InProcessRelay:
    """The relay's ASGI app driven through httpx.ASGITransport on an event loop of its own: no uvicorn
    process, no lifespan (so no background GC: tests call server.relay.gc themselves)."""

    def __init__(self, root: Path, **limits):
        root.mkdir(parents=True, exist_ok=True)
        self.jobs = TableJobAuthority(str(root / "jobs.sqlite3"))
        self.config = replace(RelayConfig(), data_dir=root / "data", jobs_table=root / "jobs.sqlite3", **limits)
        self.app = create_app(self.config, authority=self.jobs)
        self.state = self.app.state.relay
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(self.app, raise_app_exceptions=False, client=("127.0.0.1", 40000))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://relay")

    def request(self, signer: Signer | None, method: str, path: str, body=None, headers=None):
        raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
        all_headers = {"content-type": "application/json"} | (headers or {})
        if signer is not None:
            all_headers |= signed_headers(signer.key, method, path, raw)
        return self.run(self.http.request(method, path, content=raw, headers=all_headers))

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def close(self):
        self.run(self.http.aclose())
        self.loop.close()
        self.state.meta.close()
        self.state.nonces.close()


def raw_exchange(port: int, data: bytes, timeout: float = 10.0, read_all: bool = True) -> bytes:
    """Send raw bytes to the relay and return what it answers until it closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # the relay may close before reading everything: its answer is what counts
        return read_reply(s, read_all)


def read_reply(s: socket.socket, read_all: bool = True) -> bytes:
    out = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        out += chunk
        if not read_all and b"\r\n\r\n" in out:
            head, _, rest = out.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            lengths = [int(h.split(b":", 1)[1]) for h in lines if h.lower().startswith(b"content-length:")]
            length = lengths[0] if lengths else 0
            if len(rest) >= length:
                break
    return out


def parse_reply(reply: bytes) -> tuple[int, dict, bytes]:
    """(status, lowercased headers, body) of one raw HTTP/1.1 response."""
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))
