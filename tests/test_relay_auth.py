"""Signed requests: forged, expired, replayed and wrong-account requests are refused; job data is per party."""

import base64
import time

import httpx
import pytest

from addon.farm import relay_protocol as proto
from addon.farm.relay_client import RelayClient
from addon.stacks.keys import address_from_private_key, make_private_key
from addon.stacks.message import sign_message
from server.relay.local import RelayHarness

JOB, OTHER_JOB = 11, 12


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("relay-auth")
    with RelayHarness(root, extra_args=["--clock-skew", "60"]) as h:
        keys = {name: make_private_key() for name in ("requester", "provider", "stranger", "other_requester")}
        addr = {name: address_from_private_key(k, "testnet") for name, k in keys.items()}
        h.jobs.set_job(JOB, addr["requester"], addr["provider"])
        h.jobs.set_job(OTHER_JOB, addr["other_requester"], addr["stranger"])
        clients = {name: RelayClient(h.url, k, retries=0) for name, k in keys.items()}
        yield h, keys, clients
        for c in clients.values():
            c.close()


def _signed(url, key, method, path, body=b"", *, timestamp=None, nonce=None, content=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or "n" + str(time.perf_counter_ns()).rjust(20, "0")
    content = content or proto.body_hash(body)
    sig = sign_message(proto.canonical_request(method, path, content, timestamp, nonce), key)
    headers = {
        proto.SIGNATURE_HEADER: sig,
        proto.TIMESTAMP_HEADER: str(timestamp),
        proto.NONCE_HEADER: nonce,
        proto.CONTENT_HASH_HEADER: content,
        "content-type": "application/json",
    }
    return method, url + path, body, headers


def _send(args):
    method, url, body, headers = args
    return httpx.request(method, url, content=body, headers=headers)


def _reason(response):
    return response.json()["error"].get("reason")


MISSING = b'{"blob_ids": []}'


def test_valid_signature_is_accepted(env):
    h, keys, _ = env
    assert _send(_signed(h.url, keys["stranger"], "POST", "/v1/blobs/missing", MISSING)).status_code == 200


def test_unsigned_request_is_refused(env):
    h, _, _ = env
    r = httpx.post(h.url + "/v1/blobs/missing", content=MISSING)
    assert r.status_code == 401 and _reason(r) == "missing_headers"


def test_forged_signature_is_refused(env):
    h, keys, _ = env
    method, url, body, headers = _signed(h.url, keys["requester"], "GET", f"/v1/jobs/{JOB}")
    sig = bytearray(bytes.fromhex(headers[proto.SIGNATURE_HEADER]))
    sig[64] = 7  # impossible recovery id
    r = _send((method, url, body, headers | {proto.SIGNATURE_HEADER: sig.hex()}))
    assert r.status_code == 401 and _reason(r) == "bad_signature"
    sig = bytearray(bytes.fromhex(headers[proto.SIGNATURE_HEADER]))
    sig[5] ^= 1  # recovers to some other key: not the requester, so no access
    r = _send((method, url, body, headers | {proto.SIGNATURE_HEADER: sig.hex()}))
    assert r.status_code in (401, 403)


def test_altered_body_or_path_is_refused(env):
    h, keys, _ = env
    method, url, body, headers = _signed(h.url, keys["requester"], "POST", "/v1/blobs/missing", MISSING)
    r = _send((method, url, b'{"blob_ids": ["' + b"0" * 64 + b'"]}', headers))
    assert r.status_code == 401 and _reason(r) == "body_mismatch"
    # The requester's signature for one job replayed on another path recovers a different address.
    method, url, body, headers = _signed(h.url, keys["requester"], "GET", f"/v1/jobs/{JOB}")
    r = _send((method, url.replace(f"/{JOB}", f"/{OTHER_JOB}"), body, headers))
    assert r.status_code == 403


@pytest.mark.parametrize("offset", [-3600, -61, 62, 3600])  # +62: int(time()) truncates up to 1 s
def test_stale_or_future_timestamps_are_refused(env, offset):
    h, keys, _ = env
    r = _send(
        _signed(h.url, keys["requester"], "POST", "/v1/blobs/missing", MISSING, timestamp=int(time.time()) + offset)
    )
    assert r.status_code == 401 and _reason(r) == "stale_timestamp"


def test_replayed_request_is_refused_even_after_a_restart(env):
    h, keys, _ = env
    request = _signed(h.url, keys["requester"], "POST", "/v1/blobs/missing", MISSING)
    assert _send(request).status_code == 200
    again = _send(request)
    assert again.status_code == 401 and _reason(again) == "replayed_nonce"
    h.relay.restart()
    assert _reason(_send(request)) == "replayed_nonce"


def test_unsigned_payload_only_for_blob_bytes(env):
    h, keys, _ = env
    r = _send(_signed(h.url, keys["requester"], "POST", "/v1/blobs/missing", MISSING, content=proto.UNSIGNED_PAYLOAD))
    assert r.status_code == 401 and _reason(r) == "body_mismatch"


def _doc(data=b"ciphertext"):
    return base64.b64encode(data), []


def test_only_the_requester_writes_the_scene_manifest(env):
    _, _, c = env
    c["requester"].jobs.put_scene_manifest(JOB, b"scene v1", [])
    for name in ("provider", "stranger", "other_requester"):
        with pytest.raises(Exception) as err:
            c[name].jobs.put_scene_manifest(JOB, b"evil", [])
        assert err.value.status == 403 and err.value.code == "forbidden"
    assert _content(c["provider"].jobs.get_scene_manifest(JOB)) == (b"scene v1", [])


def test_a_requester_cannot_read_another_requesters_job(env):
    _, _, c = env
    c["other_requester"].jobs.put_scene_manifest(OTHER_JOB, b"theirs", [])
    for name in ("requester", "provider"):
        with pytest.raises(Exception) as err:
            c[name].jobs.get_scene_manifest(OTHER_JOB)
        assert err.value.status == 403
    with pytest.raises(Exception) as err:
        c["stranger"].jobs.get_scene_manifest(JOB)
    assert err.value.status == 403


def test_a_provider_cannot_write_to_a_job_not_assigned_to_it(env):
    _, _, c = env
    c["provider"].jobs.put_result_manifest(JOB, b"frames", [])
    c["provider"].jobs.post_progress(JOB, 1, 10)
    for call in (
        lambda: c["provider"].jobs.put_result_manifest(OTHER_JOB, b"x", []),
        lambda: c["provider"].jobs.post_progress(OTHER_JOB, 1, 10),
        lambda: c["provider"].jobs.put_preview(OTHER_JOB, "f0001.jpg", b"x"),
        lambda: c["requester"].jobs.put_result_manifest(JOB, b"x", []),
        lambda: c["requester"].jobs.post_progress(JOB, 1, 10),
    ):
        with pytest.raises(Exception) as err:
            call()
        assert err.value.status == 403
    assert _content(c["requester"].jobs.get_result_manifest(JOB)) == (b"frames", [])


def test_unknown_job_is_404_and_unassigned_job_has_no_provider(env):
    h, keys, c = env
    with pytest.raises(Exception) as err:
        c["requester"].jobs.get_scene_manifest(999)
    assert err.value.status == 404 and err.value.code == "no_job"
    h.jobs.set_job(13, address_from_private_key(keys["requester"], "testnet"), None)
    with pytest.raises(Exception) as err:
        c["provider"].jobs.post_progress(13, 0, 1)
    assert err.value.status == 403


def _content(document):
    """A job document as (ciphertext, referenced blob ids)."""
    return document.data, document.blob_ids
