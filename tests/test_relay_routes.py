"""Relay routes driven in process (httpx.ASGITransport, no uvicorn): authorization declared per route,
authentication before the body, per-job limits, atomic quota, GC that cannot lose a blob it vouched for."""

import asyncio
import base64
import hashlib
import os
import time

import pytest
from fastapi.routing import APIRoute

from addon.farm import relay_errors as E
from server.relay import routes_blobs, routes_jobs
from server.relay.auth import SignedRoute
from server.relay.gc import collect_garbage
from server.relay.ratelimit import RateLimiter
from tests.relay_fixtures import InProcessRelay, Signer, signed_headers

JOB = 3


@pytest.fixture
def relay(tmp_path):
    r = InProcessRelay(tmp_path, quota_bytes=30_000, max_previews_per_job=3, max_job_bytes=4000, gc_grace=3600.0)
    r.requester, r.provider, r.stranger = Signer(), Signer(), Signer()
    r.jobs.set_job(JOB, r.requester.address, r.provider.address)
    yield r
    r.close()


def _error(response) -> E.RelayRefused:
    return E.error_from_response(response.status_code, response.content, response.headers)


def _upload(relay, signer, data: bytes) -> str:
    blob_id = hashlib.sha256(data).hexdigest()
    r = relay.request(signer, "POST", "/v1/uploads", {"blob_id": blob_id, "size": len(data)})
    assert r.status_code == 200, r.text
    path = f"/v1/uploads/{blob_id}?offset=0"
    headers = signed_headers(signer.key, "PUT", path, content="UNSIGNED-PAYLOAD")
    r = relay.run(relay.http.put(path, content=data, headers=headers))
    assert r.status_code == 200 and r.json()["complete"], r.text
    return blob_id


def _doc(data: bytes, blob_ids=()) -> dict:
    return {"ciphertext": base64.b64encode(data).decode(), "blob_ids": list(blob_ids)}


# ---- authorization, declared once per route


def test_every_v1_route_is_signed_and_every_job_route_declares_who_may_call_it(relay):
    job_deps = {routes_jobs.requester_access, routes_jobs.provider_access, routes_jobs.party_access}
    v1 = [r for r in routes_blobs.router.routes + routes_jobs.router.routes if isinstance(r, APIRoute)]
    assert len(v1) >= 15 and all(r.path.startswith("/v1/") for r in v1)
    served = relay.run(relay.http.get("/openapi.json")).json()["paths"]
    assert {p for p in served if p.startswith("/v1/") and p != "/v1/info"} == {r.path for r in v1}
    for route in v1:
        assert isinstance(route, SignedRoute), route.path
        declared = {d.call for d in route.dependant.dependencies} & job_deps
        assert len(declared) == (1 if route.path.startswith("/v1/jobs/") else 0), route.path
    assert routes_blobs.router.route_class is SignedRoute and routes_jobs.router.route_class is SignedRoute


def test_every_operation_has_its_own_openapi_id(relay):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns on a duplicate operation id
        served = relay.run(relay.http.get("/openapi.json")).json()["paths"]
    ids = [op["operationId"] for path in served.values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {"get", "head"} <= set(served["/v1/blobs/{blob_id}"])


ROLES = [  # method, path, body, who may
    ("PUT", f"/v1/jobs/{JOB}/scene-manifest", _doc(b"scene"), {"requester"}),
    ("GET", f"/v1/jobs/{JOB}/scene-manifest", None, {"requester", "provider"}),
    ("PUT", f"/v1/jobs/{JOB}/result-manifest", _doc(b"result"), {"provider"}),
    ("GET", f"/v1/jobs/{JOB}/result-manifest", None, {"requester", "provider"}),
    ("PUT", f"/v1/jobs/{JOB}/previews/f1.png", {"ciphertext": "AAAA"}, {"provider"}),
    ("GET", f"/v1/jobs/{JOB}/previews", None, {"requester", "provider"}),
    ("POST", f"/v1/jobs/{JOB}/progress", {"frames_done": 1, "frames_total": 2}, {"provider"}),
    ("GET", f"/v1/jobs/{JOB}/progress", None, {"requester", "provider"}),
    ("GET", f"/v1/jobs/{JOB}", None, {"requester", "provider"}),
    ("DELETE", f"/v1/jobs/{JOB}", None, {"requester"}),
]


@pytest.mark.parametrize("method,path,body,allowed", ROLES, ids=[f"{m} {p}" for m, p, _, _ in ROLES])
def test_job_routes_admit_exactly_their_parties(relay, method, path, body, allowed):
    relay.request(relay.requester, "PUT", f"/v1/jobs/{JOB}/scene-manifest", _doc(b"scene"))
    relay.request(relay.provider, "PUT", f"/v1/jobs/{JOB}/result-manifest", _doc(b"result"))
    for who in ("stranger", "provider", "requester"):  # the requester last: its DELETE would drop the others' data
        r = relay.request(getattr(relay, who), method, path, body)
        if who in allowed:
            assert r.status_code < 300, (who, r.text)
        else:
            assert type(_error(r)) is E.NotAuthorized, (who, r.status_code, r.text)


def test_chain_failure_is_a_clean_503(relay):
    class BrokenChain:
        def parties(self, job_id):
            raise ConnectionError("node at http://10.0.0.7:20443/v2 said: secret stack detail")

    relay.state.authority = BrokenChain()
    r = relay.request(relay.requester, "GET", f"/v1/jobs/{JOB}")
    err = _error(r)
    assert type(err) is E.ChainUnavailable and err.retryable and r.headers["retry-after"]
    assert "10.0.0.7" not in r.text and "secret" not in r.text and "ConnectionError" not in r.text


# ---- authentication before the body


def test_unsigned_request_is_refused_before_its_body_is_parsed(relay):
    r = relay.request(None, "POST", "/v1/blobs/missing", b"{this is not json")
    assert type(_error(r)) is E.NotAuthenticated and r.headers["connection"] == "close"
    r = relay.request(None, "PUT", f"/v1/jobs/{JOB}/scene-manifest", b'{"ciphertext": 5}')
    assert type(_error(r)) is E.NotAuthenticated


def test_declared_body_over_the_limit_is_refused_before_authentication(relay):
    limit = relay.config.request_body_limit
    r = relay.run(relay.http.post("/v1/blobs/missing", content=b"x", headers={"content-length": str(limit + 1)}))
    err = _error(r)
    assert type(err) is E.BodyTooLarge and err.details["limit"] == limit


def test_streamed_body_over_the_limit_is_cut_off(tmp_path):
    relay = InProcessRelay(tmp_path, max_request_bytes=1000)
    try:
        me, path = Signer(), "/v1/blobs/missing"
        body = b'{"blob_ids": []}' + b" " * 5000

        async def chunks():
            for i in range(0, len(body), 100):
                yield body[i : i + 100]

        headers = signed_headers(me.key, "POST", path, body) | {"content-type": "application/json"}
        r = relay.run(relay.http.post(path, content=chunks(), headers=headers))  # chunked: no Content-Length
        assert type(_error(r)) is E.BodyTooLarge
    finally:
        relay.close()


def test_huge_or_negative_timestamp_is_a_401_not_a_500(relay):
    for ts in ("9" * 400, "-5", "1e9", " 17"):
        headers = signed_headers(relay.requester.key, "GET", "/v1/jobs/3") | {"x-farm-timestamp": ts}
        r = relay.run(relay.http.get("/v1/jobs/3", headers=headers))
        err = _error(r)
        assert type(err) is E.NotAuthenticated and err.details["reason"] == "bad_timestamp", (ts, r.text)


def test_altered_body_is_refused(relay):
    path = "/v1/blobs/missing"
    headers = signed_headers(relay.requester.key, "POST", path, b'{"blob_ids": []}')
    r = relay.run(relay.http.post(path, content=b'{"blob_ids":  []}', headers=headers))
    assert type(_error(r)) is E.NotAuthenticated and _error(r).details["reason"] == "body_mismatch"


# ---- per-job limits


def test_previews_and_document_bytes_per_job_are_capped(relay):
    for i in range(3):
        r = relay.request(relay.provider, "PUT", f"/v1/jobs/{JOB}/previews/p{i}", {"ciphertext": "AAAA"})
        assert r.status_code == 200, r.text
    r = relay.request(relay.provider, "PUT", f"/v1/jobs/{JOB}/previews/p3", {"ciphertext": "AAAA"})
    assert type(_error(r)) is E.JobFull
    # Replacing an existing preview is not a new one.
    again = relay.request(relay.provider, "PUT", f"/v1/jobs/{JOB}/previews/p0", {"ciphertext": "AAAA"})
    assert again.status_code == 200
    r = relay.request(relay.requester, "PUT", f"/v1/jobs/{JOB}/scene-manifest", _doc(os.urandom(3000)))
    assert r.status_code == 200
    r = relay.request(relay.provider, "PUT", f"/v1/jobs/{JOB}/result-manifest", _doc(os.urandom(1500)))
    assert type(_error(r)) is E.JobFull and r.json()["error"]["max_bytes"] == 4000


# ---- atomic quota


def test_concurrent_upload_starts_never_exceed_the_quota(relay):
    """Each round a fresh address starts 10 uploads of a third of its quota at once: at most 3 may open."""
    size = relay.config.quota_bytes // 3

    async def round_():
        me = Signer()
        bodies = [{"blob_id": os.urandom(32).hex(), "size": size} for _ in range(10)]
        requests = []
        for body in bodies:
            raw = __import__("json").dumps(body).encode()
            headers = signed_headers(me.key, "POST", "/v1/uploads", raw) | {"content-type": "application/json"}
            requests.append(relay.http.post("/v1/uploads", content=raw, headers=headers))
        return await asyncio.gather(*requests)

    for _ in range(25):
        responses = relay.run(round_())
        admitted = [r for r in responses if r.status_code == 200]
        refused = [_error(r) for r in responses if r.status_code != 200]
        assert len(admitted) == 3, [r.text for r in responses]
        assert all(type(e) is E.QuotaExceeded for e in refused)


def test_sessions_per_address_are_capped(tmp_path):
    relay = InProcessRelay(tmp_path, max_uploads_per_address=5)
    try:
        me = Signer()
        def start(who, name="blob_id"):
            return relay.request(who, "POST", "/v1/uploads", {name: os.urandom(32).hex(), "size": 1})

        for _ in range(5):
            assert start(me).status_code == 200
        err = _error(start(me))
        assert type(err) is E.TooManyUploads and err.retryable
        assert start(Signer(), "token").status_code == 200  # another address is not affected
    finally:
        relay.close()


def test_total_storage_ceiling(tmp_path):
    relay = InProcessRelay(tmp_path, total_bytes=1000)
    try:
        assert relay.request(Signer(), "POST", "/v1/uploads", {"blob_id": "a" * 64, "size": 600}).status_code == 200
        err = _error(relay.request(Signer(), "POST", "/v1/uploads", {"blob_id": "b" * 64, "size": 600}))
        assert type(err) is E.RelayFull
    finally:
        relay.close()


# ---- dedup and GC


def test_someone_elses_upload_of_the_same_blob_frees_my_session(relay):
    data = os.urandom(20_000)
    blob_id = hashlib.sha256(data).hexdigest()
    first, second = Signer(), Signer()
    assert relay.request(first, "POST", "/v1/uploads", {"blob_id": blob_id, "size": len(data)}).status_code == 200
    path = f"/v1/uploads/{blob_id}?offset=0"
    headers = signed_headers(first.key, "PUT", path, content="UNSIGNED-PAYLOAD")
    assert relay.run(relay.http.put(path, content=data[:5000], headers=headers)).json()["offset"] == 5000
    _upload(relay, second, data)
    part = relay.config.data_dir / "uploads" / f"{first.address}.{blob_id}.part"
    assert not part.exists()  # its bytes, its row and its quota charge are gone
    assert relay.state.meta.get_upload(first.address, blob_id) is None
    # The whole quota is free again: nothing of the abandoned session is charged.
    other = {"blob_id": os.urandom(32).hex(), "size": relay.config.quota_bytes}
    assert relay.request(first, "POST", "/v1/uploads", other).status_code == 200


def test_a_blob_reported_present_survives_gc_until_it_is_referenced(relay):
    blob_id = _upload(relay, relay.requester, os.urandom(1000))
    long_ago = time.time() - 10 * relay.config.gc_grace
    relay.state.meta._write("UPDATE blobs SET created_at = ?", (long_ago,))  # uploaded long ago
    r = relay.request(relay.requester, "POST", "/v1/blobs/missing", {"blob_ids": [blob_id]})
    assert r.json()["missing"] == []  # the requester is told it is there ...
    collect_garbage(relay.state)  # ... and GC runs before its manifest references it
    r = relay.request(relay.requester, "PUT", f"/v1/jobs/{JOB}/scene-manifest", _doc(b"m", [blob_id]))
    assert r.status_code == 200, r.text


def test_a_reupload_restarts_the_grace_period(relay):
    data = os.urandom(1000)
    blob_id = _upload(relay, relay.requester, data)
    relay.state.meta._write("UPDATE blobs SET created_at = ?", (time.time() - 10 * relay.config.gc_grace,))
    _upload(relay, relay.provider, data)
    collect_garbage(relay.state)
    assert relay.state.meta.blob_size(blob_id) == 1000


def test_gc_rechecks_a_candidate_touched_after_it_was_listed(relay):
    blob_id = _upload(relay, relay.requester, os.urandom(100))
    now = time.time()
    relay.state.meta._write("UPDATE blobs SET created_at = ?", (now - 10 * relay.config.gc_grace,))
    cutoff = now - relay.config.gc_grace
    assert relay.state.meta.collectable_blobs(cutoff) == [blob_id]
    relay.state.meta.missing_blobs([blob_id], now, now - relay.config.gc_grace / 2)  # touched meanwhile
    assert not relay.state.meta.delete_blob_if_unreferenced(blob_id, cutoff)


def test_a_download_racing_gc_gets_its_bytes(relay, monkeypatch):
    data = os.urandom(25_000)
    blob_id = _upload(relay, relay.requester, data)
    relay.state.meta._write("UPDATE blobs SET created_at = ?", (time.time() - 10 * relay.config.gc_grace,))
    original = routes_blobs.BlobFileResponse.__call__
    report = {}

    async def gc_first(self, scope, receive, send):  # GC runs between the route's checks and the file read
        report.update(await relay.state.run(collect_garbage, relay.state))
        return await original(self, scope, receive, send)

    monkeypatch.setattr(routes_blobs.BlobFileResponse, "__call__", gc_first)
    r = relay.request(relay.requester, "GET", f"/v1/blobs/{blob_id}")
    assert r.status_code == 200 and r.content == data, r.text[:300]
    assert report["blobs"] == 0
    monkeypatch.setattr(routes_blobs.BlobFileResponse, "__call__", original)
    assert collect_garbage(relay.state)["blobs"] == 1  # once nobody downloads it, it goes
    assert type(_error(relay.request(relay.requester, "GET", f"/v1/blobs/{blob_id}"))) is E.NoSuchBlob


def test_range_errors_are_json(relay):
    blob_id = _upload(relay, relay.requester, os.urandom(1000))
    path = f"/v1/blobs/{blob_id}"
    cases = (("bytes=5000-", E.RangeNotSatisfiable), ("pages=1-2", E.BadRequest), ("bytes=9-3", E.BadRequest))
    for value, kind in cases:
        headers = signed_headers(relay.requester.key, "GET", path) | {"range": value}
        r = relay.run(relay.http.get(path, headers=headers))
        assert type(_error(r)) is kind and r.headers["content-type"] == "application/json", (value, r.text)
    headers = signed_headers(relay.requester.key, "GET", path) | {"range": "bytes=10-19"}
    assert relay.run(relay.http.get(path, headers=headers)).status_code == 206


# ---- in-memory state is pruned


def test_locks_and_progress_events_do_not_accumulate(relay):
    for _ in range(5):
        _upload(relay, Signer(), os.urandom(500))
    r = relay.request(relay.requester, "GET", f"/v1/jobs/{JOB}/progress?wait=0.05")
    assert r.status_code == 200
    assert len(relay.state.upload_locks) == 0 and len(relay.state.progress_events) == 0


def test_rate_buckets_of_idle_clients_are_forgotten():
    now = [0.0]
    limiter = RateLimiter(rate=10, burst=20, clock=lambda: now[0])
    for i in range(10_000):
        assert limiter.allow(f"key-{i}") == 0
    assert len(limiter) == 10_000
    now[0] = 60.0  # every bucket refilled long ago
    limiter.allow("fresh")
    assert len(limiter) == 1


def test_requests_in_flight_per_client_ip_are_capped(tmp_path):
    relay = InProcessRelay(tmp_path, max_inflight_per_ip=2)
    try:
        me = Signer()
        relay.jobs.set_job(JOB, me.address, None)

        def get(path):
            return relay.http.get(path, headers=signed_headers(me.key, "GET", path))

        async def three():
            polls = [asyncio.ensure_future(get(f"/v1/jobs/{JOB}/progress?wait=1.5")) for _ in range(2)]
            await asyncio.sleep(0.5)  # both long-polls are waiting now
            third = await get(f"/v1/jobs/{JOB}")
            return third, await asyncio.gather(*polls)

        third, polls = relay.run(three())
        assert type(_error(third)) is E.RelayBusy and all(p.status_code == 200 for p in polls)
        assert relay.request(me, "GET", f"/v1/jobs/{JOB}").status_code == 200  # once they are done
        assert not relay.state.inflight_by_ip and relay.state.inflight == 0
    finally:
        relay.close()


def test_a_fresh_session_holds_no_descriptor_yet_writes_directly(tmp_path):
    from server.relay.direct_io import open_direct
    from server.relay.fs_blobs import FileUploadSession

    probe = tmp_path / "probe"
    probe.touch()
    fd = open_direct(probe)
    if fd is None:
        pytest.skip("this file system does not do O_DIRECT")
    os.close(fd)
    session = FileUploadSession(tmp_path / "s.part")
    assert not (tmp_path / "s.part").exists()  # nothing opened until a request writes
    assert session._direct_fd() is not None  # the lazily created file still takes O_DIRECT writes
    session.release()
    assert session._direct is None

