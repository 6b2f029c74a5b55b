"""Blob PUT bodies handed to a worker thread (server/relay/body_handoff.py), over raw HTTP/1.1 sockets.

The client sends the head, then the body in pieces, so the relay takes the socket over mid-body; the
connection must then serve the next request (keep-alive), and a client that vanishes mid-body keeps
the bytes that arrived.
"""

import hashlib
import os
import socket
import time

import pytest

from addon.farm import relay_protocol as proto
from addon.farm.relay_client import RelayClient
from addon.stacks.keys import make_private_key
from server.relay.local import RelayHarness


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    with RelayHarness(tmp_path_factory.mktemp("relay-handoff")) as h:
        yield h


@pytest.fixture
def client(harness):
    c = RelayClient(harness.url, make_private_key(), retries=0)
    yield c
    c.close()


def _head(client, method, path, length=None, extra=""):
    content = proto.UNSIGNED_PAYLOAD if length is not None else proto.body_hash(b"")
    headers = client.transport._headers(method, path, content)
    lines = [f"{method} {path} HTTP/1.1", f"host: {client.base_url.removeprefix('http://')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"content-length: {length}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


class _Responses:
    """Responses read off one connection in order. Bytes past one response are kept for the next: when
    the relay answers two pipelined requests before we read, one recv holds both."""

    def __init__(self, sock):
        self.sock, self.data = sock, b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, f"the relay closed the connection; it had sent {self.data[:500]!r}"
        self.data += chunk

    def next(self) -> tuple[int, bytes]:
        """Status and body of one response with a Content-Length (all the relay's JSON replies have one)."""
        while b"\r\n\r\n" not in self.data:
            self._more()
        head, _, rest = self.data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        length = next(int(line.split(":")[1]) for line in lines if line.lower().startswith("content-length:"))
        while len(rest) < length:
            self._more()
            head, _, rest = self.data.partition(b"\r\n\r\n")
        self.data = rest[length:]
        return int(lines[0].split()[1]), rest[:length]


def _handoffs(client):
    text = client.transport.http.get(client.base_url + "/metrics").text
    line = next((x for x in text.splitlines() if x.startswith("relay_upload_handoffs_total ")), "x 0")
    return float(line.split()[1])


def _connect(harness):
    host, port = harness.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)))


def test_body_sent_in_pieces_is_stored_and_the_connection_serves_the_next_request(harness, client):
    data = os.urandom((3 << 20) + 12345)
    blob_id = hashlib.sha256(data).hexdigest()
    client.request("POST", "/v1/uploads", json_body={"blob_id": blob_id, "size": len(data)})
    before = _handoffs(client)
    with _connect(harness) as sock:
        responses = _Responses(sock)
        put = f"/v1/uploads/{blob_id}?offset=0"
        sock.sendall(_head(client, "PUT", put, len(data)) + data[:1000])
        time.sleep(0.2)  # let the relay take the socket over with part of the body already parsed
        for i in range(1000, len(data), 700_000):
            sock.sendall(data[i : i + 700_000])
        status, body = responses.next()
        assert status == 200 and b'"complete":true' in body
        # Same connection, next request: the parser was reset after the handed-off body.
        sock.sendall(_head(client, "GET", f"/v1/blobs/{blob_id}"))
        status, body = responses.next()
        assert status == 200 and body == data
    assert _handoffs(client) == before + 1


CUT = (1 << 20) + 4099  # not on a 4 KiB block: the resumed upload rewrites the partial block (O_DIRECT)


def test_client_vanishing_mid_body_keeps_what_arrived(harness, client):
    data = os.urandom(2 << 20)
    blob_id = hashlib.sha256(data).hexdigest()
    client.request("POST", "/v1/uploads", json_body={"blob_id": blob_id, "size": len(data)})
    with _connect(harness) as sock:
        sock.sendall(_head(client, "PUT", f"/v1/uploads/{blob_id}?offset=0", len(data)) + data[:5000])
        time.sleep(0.2)
        sock.sendall(data[5000:CUT])
    offset = 0
    for _ in range(100):  # the relay notices the disconnect asynchronously
        offset = client.upload_status(blob_id).offset
        if offset == CUT:
            break
        time.sleep(0.05)
    assert offset == CUT
    assert client.missing([blob_id]) == [blob_id]
    sent = client.upload_blob(blob_id, len(data), lambda off: iter([data[off:]]))
    assert sent == len(data) - offset and client.missing([blob_id]) == []


def test_pipelined_requests_and_expect_continue(harness, client):
    data = os.urandom(300_000)
    blob_id = hashlib.sha256(data).hexdigest()
    client.request("POST", "/v1/uploads", json_body={"blob_id": blob_id, "size": len(data)})
    with _connect(harness) as sock:
        responses = _Responses(sock)
        head = _head(client, "PUT", f"/v1/uploads/{blob_id}?offset=0", len(data), extra="expect: 100-continue\r\n")
        sock.sendall(head)
        interim = b""
        while b"\r\n\r\n" not in interim:  # the whole interim response, however the bytes arrive
            chunk = sock.recv(64)
            assert chunk, f"the relay closed the connection after {interim!r}"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        # The whole body and the next request in one go: the handoff must not read past the body.
        sock.sendall(data + _head(client, "GET", f"/v1/uploads/{blob_id}"))
        status, body = responses.next()
        assert status == 200 and b'"complete":true' in body
        status, body = responses.next()
        assert status == 200 and b'"complete":true' in body
