"""Attacks on a relay process started by its own command, from a client with no key or a throwaway one.

Each test is one class of exhaustion from issue "Relay hardening": bodies before authentication, huge
or endless headers, file descriptors held by upload sessions, floods before authentication, a global
connection ceiling, and malformed requests that must never get a 5xx or a body that is not JSON.
"""

import hashlib
import json
import os
import socket
import threading
import time

import pytest

from addon.farm import relay_errors as E
from addon.farm.relay_client import RelayClient
from server.relay.local import RelayHarness
from tests.relay_fixtures import Signer, open_fds, parse_reply, raw_exchange, read_reply, rss_bytes, signed_headers

HEADER_TIMEOUT = 1.5
LIMITS = [
    "--header-timeout", str(HEADER_TIMEOUT), "--max-connections", "60", "--ip-fail-burst", "40",
    "--ip-fail-rate", "2", "--max-uploads-per-address", "1000",
]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    with RelayHarness(tmp_path_factory.mktemp("relay-limits"), extra_args=LIMITS) as h:
        yield h


def _pid(harness) -> int:
    return harness.relay.proc.pid


def _json_error(reply: bytes) -> tuple[int, E.RelayRefused]:
    status, headers, body = parse_reply(reply)
    assert headers.get("content-type") == "application/json", reply[:300]
    err = E.error_from_response(status, body, headers)
    assert type(err) is not E.UnexpectedResponse and err.status == status, reply[:300]
    return status, err


def _head(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_1gib_unsigned_body_is_refused_without_reading_it(harness):
    pid = _pid(harness)
    before = rss_bytes(pid)
    peak = [before]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_bytes(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    sent = 0
    try:
        put = "/v1/uploads/" + "a" * 64 + "?offset=0"
        signed = signed_headers(Signer().key, "PUT", put, content="UNSIGNED-PAYLOAD")
        throwaway = [f"{k}: {v}" for k, v in signed.items()]
        cases = [  # a blob PUT, a JSON body over the route's limit, a JSON body under it, a throwaway key's PUT
            ("PUT", put, 1 << 30, E.NotAuthenticated, []),
            ("POST", "/v1/blobs/missing", 1 << 30, E.BodyTooLarge, []),
            ("POST", "/v1/blobs/missing", 20 << 20, E.NotAuthenticated, []),
            ("PUT", put, 1 << 30, E.NoSuchUpload, throwaway),
        ]
        for method, path, length, kind, extra in cases:
            with socket.create_connection(("127.0.0.1", harness.relay.port), timeout=10) as s:
                s.sendall(_head([f"{method} {path} HTTP/1.1", "host: x", "content-type: application/json",
                                 f"content-length: {length}", *extra]))
                chunk = b"\0" * (1 << 20)
                try:
                    for _ in range(min(256, length >> 20)):  # offer up to 256 MiB; the relay should hang up first
                        s.sendall(chunk)
                        sent += len(chunk)
                except OSError:
                    pass
                status, err = _json_error(read_reply(s))
                assert type(err) is kind, (method, path, length)
                assert sent < 64 << 20, f"the relay kept reading the body ({sent >> 20} MiB sent)"
                sent = 0
    finally:
        stop.set()
        sampler.join()
    assert peak[0] - before < 32 << 20, f"relay memory rose by {(peak[0] - before) >> 20} MiB"


def test_oversized_and_too_many_headers_get_431(harness):
    port = harness.relay.port
    big = _head(["GET /v1/info HTTP/1.1", "host: x", "x-big: " + "a" * (64 << 20)])
    status, err = _json_error(raw_exchange(port, big))
    assert status == 431 and type(err) is E.HeadersTooLarge
    many = _head(["GET /v1/info HTTP/1.1", "host: x"] + [f"x-h{i}: v" for i in range(50_000)])
    status, err = _json_error(raw_exchange(port, many))
    assert status == 431 and type(err) is E.HeadersTooLarge
    long_url = _head(["GET /v1/info?" + "q" * (1 << 20) + " HTTP/1.1", "host: x"])
    assert _json_error(raw_exchange(port, long_url))[0] == 431
    # The relay still serves ordinary requests.
    status, _, body = parse_reply(raw_exchange(port, _head(["GET /health HTTP/1.1", "host: x", "connection: close"])))
    assert status == 200 and json.loads(body) == {"status": "ok"}


@pytest.mark.parametrize("sent", [b"", b"GET /v1/info HTTP/1.1\r\nhost: x\r\nx-slow: "], ids=["silent", "half-header"])
def test_a_slow_connection_is_closed_within_the_header_timeout(harness, sent):
    with socket.create_connection(("127.0.0.1", harness.relay.port), timeout=HEADER_TIMEOUT + 10) as s:
        start = time.monotonic()
        s.sendall(sent)
        reply = read_reply(s)  # returns when the relay closes the connection
        elapsed = time.monotonic() - start
    assert elapsed < HEADER_TIMEOUT + 3, elapsed
    if sent:
        status, err = _json_error(reply)
        assert status == 408 and type(err) is E.RequestTimeout
    else:
        assert reply == b""


def test_a_flood_of_upload_sessions_holds_no_file_descriptors(harness, tmp_path):
    pid = _pid(harness)
    before = open_fds(pid)
    flooders = [RelayClient(harness.url, Signer().key, retries=0) for _ in range(2)]
    try:
        for i in range(300):
            client = flooders[i % 2]
            data = os.urandom(2)
            blob_id = hashlib.sha256(data).hexdigest()
            client.request("POST", "/v1/uploads", json_body={"blob_id": blob_id, "size": 2})
            # One byte sent (the session's file now exists), then a refused PUT at a wrong offset.
            client.transport.send("PUT", f"/v1/uploads/{blob_id}?offset=0", stream_body=iter([data[:1]]))
            r = client.transport.send("PUT", f"/v1/uploads/{blob_id}?offset=0", stream_body=iter([data[:1]]))
            assert r.status_code == 409
        during = open_fds(pid)
        assert during - before < 40, f"{during - before} more descriptors open after 300 idle sessions"
        honest = RelayClient(harness.url, Signer().key)
        scene = tmp_path / "scene.bin"
        scene.write_bytes(os.urandom(3 << 20))
        from addon.farm import crypto

        report = honest.upload_files([scene], crypto.requester_file_secret(honest.transport.private_key))
        assert report.blobs_uploaded == 1
        honest.close()
    finally:
        for c in flooders:
            c.close()


def test_failed_authentications_throttle_their_ip_not_others(harness):
    """From 127.0.0.2: bad signatures until the relay refuses that address unverified; 127.0.0.1 is unaffected."""
    port = harness.relay.port
    forged = signed_headers(Signer().key, "GET", "/v1/jobs/1") | {"x-farm-signature": "00" * 65}
    head = ["GET /v1/jobs/1 HTTP/1.1", "host: x"] + [f"{k}: {v}" for k, v in forged.items()]
    kinds = []
    for _ in range(60):
        with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=("127.0.0.2", 0)) as s:
            try:
                s.sendall(_head(head))
            except OSError:  # a throttled address is answered and hung up on as it connects, maybe before this
                pass
            kinds.append(type(_json_error(read_reply(s))[1]))
    assert kinds[0] is E.NotAuthenticated and kinds[-1] is E.RateLimited, kinds
    assert set(kinds) == {E.NotAuthenticated, E.RateLimited}
    honest = RelayClient(harness.url, Signer().key, retries=0)
    try:
        assert honest.missing(["b" * 64]) == ["b" * 64]
    finally:
        honest.close()


def test_connections_beyond_the_ceiling_get_a_json_503(harness):
    port = harness.relay.port
    held = []
    try:
        for _ in range(70):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.3)
        refused = 0
        for s in held[60:]:
            s.settimeout(2)
            reply = read_reply(s)
            if reply:
                status, err = _json_error(reply)
                assert status == 503 and type(err) is E.RelayBusy and err.retryable
                refused += 1
        assert refused >= 5
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    status, _, _ = parse_reply(raw_exchange(port, _head(["GET /health HTTP/1.1", "host: x", "connection: close"])))
    assert status == 200


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /v1/info HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n",
    b"GET /v1/info HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
    b"POST /v1/blobs/missing HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    b"GET /v1/info HTTP/1.1\r\nbad header line\r\n\r\n",
    b"GET /v1/info HTTP/1.1\r\nhost: x\x00y\r\n\r\n",
    b"PUT /v1/uploads/" + b"a" * 64 + b"?offset=0 HTTP/1.1\r\nhost: x\r\ncontent-length: 99999999999999999999\r\n\r\n",
    b"GET /v1/blobs/" + b"a" * 64 + b" HTTP/1.1\r\nhost: x\r\nx-farm-timestamp: " + b"9" * 500
    + b"\r\nx-farm-signature: x\r\nx-farm-nonce: nnnnnnnnnnnnnnnnnnnn\r\nx-farm-content-sha256: y\r\n\r\n",
    b"GET /v1/blobs/" + b"a" * 64 + b" HTTP/1.1\r\nhost: x\r\nx-farm-timestamp: -99999999999999999999"
    + b"\r\nx-farm-signature: x\r\nx-farm-nonce: nnnnnnnnnnnnnnnnnnnn\r\nx-farm-content-sha256: y\r\n\r\n",
    b"GET /%ff%fe HTTP/1.1\r\nhost: x\r\n\r\n",
    b"GET /v1/jobs/99999999999999999999999 HTTP/1.1\r\nhost: x\r\n\r\n",
]


@pytest.mark.parametrize("request_bytes", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_requests_get_a_json_4xx(harness, request_bytes):
    reply = raw_exchange(harness.relay.port, request_bytes, timeout=HEADER_TIMEOUT + 5, read_all=False)
    status, err = _json_error(reply)
    assert 400 <= status < 500, reply[:300]


def test_the_body_timeout_ends_with_the_body(tmp_path):
    """A response that outlives --body-timeout (the SSE stream, a long download) is not cut off by it:
    once the body is in, the app's wait for a disconnect has no deadline."""
    import httpx

    with RelayHarness(tmp_path, extra_args=["--body-timeout", "0.5"]) as h:
        me = Signer()
        h.jobs.set_job(1, me.address, me.address)
        path = "/v1/jobs/1/progress/stream"
        with httpx.stream("GET", h.url + path, headers=signed_headers(me.key, "GET", path), timeout=20) as r:
            assert r.status_code == 200
            time.sleep(1.5)  # idle well past the body timeout
            post, raw = "/v1/jobs/1/progress", b'{"frames_done": 1, "frames_total": 2}'
            headers = signed_headers(me.key, "POST", post, raw) | {"content-type": "application/json"}
            assert httpx.post(h.url + post, content=raw, headers=headers).status_code == 200
            line = next(x for x in r.iter_lines() if x.startswith("data:"))
        assert '"frames_done":1' in line
