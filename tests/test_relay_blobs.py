"""Blob storage over real HTTP on loopback: round trips, dedup, verification, resume, Range, limits."""

import hashlib
import os

import httpx
import pytest

from addon.farm import crypto
from addon.farm.hash_cache import HashCache
from addon.farm.relay_blobs import PlaintextMismatch
from addon.farm.relay_client import RelayClient, RelayRefused
from addon.stacks.keys import make_private_key
from server.relay.local import RelayHarness

QUOTA = 48 << 20


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    root = tmp_path_factory.mktemp("relay-blobs")
    with RelayHarness(root, extra_args=["--quota-bytes", str(QUOTA), "--max-blob-bytes", str(40 << 20)]) as h:
        yield h


@pytest.fixture
def client(harness, tmp_path):
    c = RelayClient(
        harness.url, make_private_key(), hash_cache=HashCache(tmp_path / "hashes.sqlite3"), part_size=3 << 20
    )
    yield c
    c.close()


def _scene(dir_, sizes):
    dir_.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, size in enumerate(sizes):
        p = dir_ / f"file{i}.bin"
        p.write_bytes(os.urandom(size))
        paths.append(p)
    return paths


def _raw_upload(client, blob_id, size, data, offset=0):
    client.request("POST", "/v1/uploads", json_body={"blob_id": blob_id, "size": size})
    return client.transport.send("PUT", f"/v1/uploads/{blob_id}?offset={offset}", stream_body=iter([data]))


def test_round_trip_is_byte_identical_and_second_submission_sends_nothing(client, tmp_path):
    seg = crypto.DEFAULT_SEGMENT_SIZE
    sizes = [0, 1, 1000, seg - 1, seg, seg + 1, 7 * seg + 12345]
    paths = _scene(tmp_path / "scene", sizes)
    secret = crypto.requester_file_secret(client.transport.private_key)
    progress = []
    first = client.upload_files(paths, secret, progress=lambda done, total: progress.append((done, total)))
    assert first.blobs_uploaded == len(sizes)
    assert first.bytes_uploaded == sum(crypto.ciphertext_size(s) for s in sizes)
    assert progress[-1][0] == progress[-1][1] == first.bytes_uploaded

    for f in first.files:
        out = tmp_path / "out" / os.path.basename(f.path)
        assert client.download_file(f.blob_id, f.key, out) == f.size
        assert out.read_bytes() == open(f.path, "rb").read()

    # With the sender's plaintext hash the bytes are checked as they are written; a wrong one keeps nothing.
    big = first.files[-1]
    checked = tmp_path / "checked" / "big"
    assert client.download_file(big.blob_id, big.key, checked, plaintext_sha256=big.plaintext_sha256) == big.size
    with pytest.raises(PlaintextMismatch):
        client.download_file(big.blob_id, big.key, tmp_path / "refused" / "big", plaintext_sha256="0" * 64)
    assert not list((tmp_path / "refused").iterdir())

    hashed_before, sent_before = client.hash_cache.hashed_bytes, client.bytes_sent
    second = client.upload_files(paths, secret)
    assert second.blobs_uploaded == 0 and second.bytes_uploaded == 0
    assert client.bytes_sent == sent_before
    assert client.hash_cache.hashed_bytes == hashed_before, "unchanged files must not be re-hashed"
    assert [f.blob_id for f in second.files] == [f.blob_id for f in first.files]


def test_same_content_twice_is_one_blob_and_a_new_client_dedups_against_the_relay(harness, client, tmp_path):
    data = os.urandom(300_000)
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(data)
    b.write_bytes(data)
    secret = crypto.requester_file_secret(client.transport.private_key)
    report = client.upload_files([a, b], secret)
    assert report.blobs_total == 1 and report.blobs_uploaded == 1
    # Same requester on another machine (empty hash cache): hashes again but sends no blob bytes.
    other = RelayClient(harness.url, client.transport.private_key)
    try:
        again = other.upload_files([a], secret)
        assert again.bytes_uploaded == 0 and other.bytes_sent == 0
    finally:
        other.close()


def test_large_new_files_stream_under_a_token_and_the_relay_names_them(harness, client, tmp_path, monkeypatch):
    from addon.farm import relay_uploads

    monkeypatch.setattr(relay_uploads, "KEEP_CIPHERTEXT_BELOW", 1 << 20)  # token path without huge files
    paths = _scene(tmp_path / "scene", [3 << 20, (2 << 20) + 5])
    paths.append(tmp_path / "scene" / "copy.bin")
    paths[-1].write_bytes(paths[0].read_bytes())  # a duplicate shares its upload
    secret = crypto.requester_file_secret(client.transport.private_key)
    first = client.upload_files(paths, secret)
    assert first.blobs_total == 2 and first.blobs_uploaded == 2
    assert first.bytes_uploaded == sum(crypto.ciphertext_size(p.stat().st_size) for p in paths[:2])
    assert first.files[0].blob_id == first.files[2].blob_id
    for f in first.files:
        out = tmp_path / "out" / os.path.basename(f.path)
        assert client.download_file(f.blob_id, f.key, out) == f.size
        assert out.read_bytes() == open(f.path, "rb").read()
    # Another machine of the same requester (empty hash cache): the token finds the stored blobs.
    other = RelayClient(harness.url, client.transport.private_key)
    try:
        again = other.upload_files(paths, secret)
        assert again.bytes_uploaded == 0 and other.bytes_sent == 0 and again.blobs_uploaded == 0
        assert [f.blob_id for f in again.files] == [f.blob_id for f in first.files]
    finally:
        other.close()


def test_token_upload_resumes_and_cannot_be_restarted_as_a_blob_id(client):
    data = os.urandom(300_000)
    token = "7" * 64
    started = client.request("POST", "/v1/uploads", json_body={"token": token, "size": len(data)}).json()
    assert started == {"token": token, "size": len(data), "offset": 0, "complete": False}
    part = client.transport.send("PUT", f"/v1/uploads/{token}?offset=0", stream_body=iter([data[:100_000]]))
    assert part.json() == {"token": token, "size": len(data), "offset": 100_000, "complete": False}
    clash = client.transport.send(
        "POST",
        "/v1/uploads",
        body=b'{"blob_id":"' + token.encode() + b'","size":1}',
        headers={"content-type": "application/json"},
    )
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "token_in_use"
    blob_id, sent, fresh = client.upload_by_token(token, len(data), lambda off: iter([data[off:]]))
    assert blob_id == hashlib.sha256(data).hexdigest() and sent == len(data) - 100_000 and fresh
    assert client.missing([blob_id]) == []
    assert client.upload_by_token(token, len(data), lambda off: iter([data[off:]])) == (blob_id, 0, False)
    both = client.transport.send(
        "POST",
        "/v1/uploads",
        body=b'{"blob_id":"' + blob_id.encode() + b'","token":"' + token.encode() + b'","size":1}',
        headers={"content-type": "application/json"},
    )
    assert both.status_code == 422


def test_corrupted_upload_is_refused_and_never_visible(client):
    good = os.urandom(50_000)
    blob_id = hashlib.sha256(good).hexdigest()
    bad = bytearray(good)
    bad[1234] ^= 0xFF
    response = _raw_upload(client, blob_id, len(good), bytes(bad))
    assert response.status_code == 422 and response.json()["error"]["code"] == "hash_mismatch"
    assert client.missing([blob_id]) == [blob_id]
    with pytest.raises(RelayRefused) as err:
        client.download_blob(blob_id, open(os.devnull, "wb"))
    assert err.value.status == 404
    # The refused session is gone: a correct upload starts from zero and succeeds.
    assert (
        client.request("POST", "/v1/uploads", json_body={"blob_id": blob_id, "size": len(good)}).json()["offset"] == 0
    )
    assert _raw_upload(client, blob_id, len(good), good).json()["complete"] is True


def test_truncated_upload_stays_invisible_and_resumes(client, tmp_path):
    data = os.urandom(200_000)
    blob_id = hashlib.sha256(data).hexdigest()
    response = _raw_upload(client, blob_id, len(data), data[:70_000])
    assert response.status_code == 200
    assert response.json() == {"blob_id": blob_id, "size": len(data), "offset": 70_000, "complete": False}
    assert client.missing([blob_id]) == [blob_id]
    get = client.transport.send("GET", f"/v1/blobs/{blob_id}")
    assert get.status_code == 404 and get.json()["error"]["code"] == "no_blob"

    stale = client.transport.send("PUT", f"/v1/uploads/{blob_id}?offset=0", stream_body=iter([data]))
    assert stale.status_code == 409 and stale.json()["error"]["offset"] == 70_000
    done = client.transport.send("PUT", f"/v1/uploads/{blob_id}?offset=70000", stream_body=iter([data[70_000:]]))
    assert done.json()["complete"] is True
    out = tmp_path / "blob"
    with open(out, "wb") as f:
        client.download_blob(blob_id, f)
    assert out.read_bytes() == data


def test_bytes_past_the_declared_size_are_refused_without_trace(client):
    data = os.urandom(10_000)
    blob_id = hashlib.sha256(data).hexdigest()
    first = _raw_upload(client, blob_id, len(data), data[:4000])
    assert first.json()["offset"] == 4000
    too_many = client.transport.send("PUT", f"/v1/uploads/{blob_id}?offset=4000", stream_body=iter([data[4000:], b"x"]))
    assert too_many.status_code == 413 and too_many.json()["error"]["code"] == "too_many_bytes"
    assert client.upload_status(blob_id).offset == 4000


def test_client_disconnect_mid_upload_keeps_persisted_bytes_for_resume(client):
    data = os.urandom(6 << 20)
    blob_id = hashlib.sha256(data).hexdigest()
    client.request("POST", "/v1/uploads", json_body={"blob_id": blob_id, "size": len(data)})

    def dying_body():
        yield data[: 2 << 20]
        yield data[2 << 20 : 4 << 20]
        raise ConnectionResetError("client died")

    with pytest.raises((ConnectionResetError, httpx.TransportError)):
        client.transport.send("PUT", f"/v1/uploads/{blob_id}?offset=0", stream_body=dying_body())
    offset = 0
    for _ in range(50):  # the relay notices the disconnect asynchronously
        offset = client.upload_status(blob_id).offset
        if offset == 4 << 20:
            break
        import time

        time.sleep(0.05)
    assert 0 < offset <= 4 << 20
    sent = client.upload_blob(blob_id, len(data), lambda off: iter([data[off:]]))
    assert sent == len(data) - offset
    assert client.missing([blob_id]) == []


def test_range_downloads(client):
    data = os.urandom(3_000_000)
    blob_id = hashlib.sha256(data).hexdigest()
    client.upload_blob(blob_id, len(data), lambda off: iter([data[off:]]))
    part = client.request("GET", f"/v1/blobs/{blob_id}", headers={"range": "bytes=1000-2000999"})
    assert part.status_code == 206 and part.content == data[1000:2_001_000]
    assert part.headers["content-range"] == f"bytes 1000-2000999/{len(data)}"
    tail = client.request("GET", f"/v1/blobs/{blob_id}", headers={"range": "bytes=-10"})
    assert tail.content == data[-10:]
    bad = client.transport.send("GET", f"/v1/blobs/{blob_id}", headers={"range": f"bytes={len(data) + 5}-"})
    assert bad.status_code == 416
    assert b"".join(client.iter_blob(blob_id, start=2_999_000)) == data[2_999_000:]


def test_size_limit_and_quota(client):
    too_big = client.transport.send(
        "POST",
        "/v1/uploads",
        body=b'{"blob_id":"' + b"a" * 64 + b'","size":%d}' % (41 << 20),
        headers={"content-type": "application/json"},
    )
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "blob_too_large"
    # Sessions count against the quota before their bytes arrive.
    client.request("POST", "/v1/uploads", json_body={"blob_id": "b" * 64, "size": 30 << 20})
    over = client.transport.send(
        "POST",
        "/v1/uploads",
        body=b'{"blob_id":"' + b"c" * 64 + b'","size":%d}' % (30 << 20),
        headers={"content-type": "application/json"},
    )
    assert over.status_code == 403 and over.json()["error"]["code"] == "quota_exceeded"
    client.request("DELETE", f"/v1/uploads/{'b' * 64}")
    assert (
        client.request("POST", "/v1/uploads", json_body={"blob_id": "c" * 64, "size": 30 << 20}).json()["offset"] == 0
    )


@pytest.mark.parametrize(
    "method,path,body,code",
    [
        ("POST", "/v1/blobs/missing", b"{not json", "invalid_request"),
        ("POST", "/v1/blobs/missing", b'{"blob_ids": ["XYZ"]}', "invalid_request"),
        ("POST", "/v1/uploads", b'{"blob_id": "' + b"0" * 64 + b'", "size": -1}', "invalid_request"),
        ("GET", "/v1/blobs/not-a-hash", b"", "invalid_request"),
        ("GET", "/v1/nowhere", b"", "not_found"),
    ],
)
def test_bad_input_gets_a_clear_json_error(client, method, path, body, code):
    response = client.transport.send(method, path, body=body, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
