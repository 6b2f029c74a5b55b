"""Schema-driven fuzzing: schemathesis generates requests from the relay's served OpenAPI schema
(valid and invalid), each signed with a real Stacks key so the fuzz reaches past authentication, and
no response may be a server error (5xx).

CI runs RELAY_FUZZ_EXAMPLES (default 25) examples per operation; a longer run sets e.g. 500.
"""

import os
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from addon.farm import relay_protocol as proto
from addon.stacks.keys import address_from_private_key, make_private_key
from addon.stacks.message import sign_message
from server.relay.local import RelayHarness

EXAMPLES = int(os.environ.get("RELAY_FUZZ_EXAMPLES", "25"))
# The SSE stream stays open by design (minutes); its handler shares the long-poll code fuzzed below.
SKIP = {("GET", "/v1/jobs/{job_id}/progress/stream")}


class SignRequest(requests.auth.AuthBase):
    """Signs the final prepared request (exact path, query and body bytes), as RelayClient does."""

    def __init__(self, private_key: str):
        self.private_key = private_key

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(r.url)
        query = parse_qsl(url.query, keep_blank_values=True)
        if any(k == "wait" for k, _ in query):
            # Keep long-polls short; the value still goes through validation.
            query = [(k, "0.1" if k == "wait" and _is_big_number(v) else v) for k, v in query]
            r.prepare_url(f"{url.scheme}://{url.netloc}{url.path}", query)
            url = urlsplit(r.url)
        body = r.body or b""
        body = body.encode() if isinstance(body, str) else body
        if not isinstance(body, bytes):
            body = b"".join(body)
            r.body = body
        path = url.path + ("?" + url.query if url.query else "")
        ts, nonce = int(time.time()), os.urandom(12).hex()
        content = proto.body_hash(body)
        message = proto.canonical_request(r.method, path, content, ts, nonce)
        r.headers.update(
            {
                proto.SIGNATURE_HEADER: sign_message(message, self.private_key),
                proto.TIMESTAMP_HEADER: str(ts),
                proto.NONCE_HEADER: nonce,
                proto.CONTENT_HASH_HEADER: content,
            }
        )
        return r


def _is_big_number(value: str) -> bool:
    try:
        return float(value) > 0.5
    except ValueError:
        return False


@pytest.fixture(scope="module")
def relay(tmp_path_factory):
    root = tmp_path_factory.mktemp("relay-fuzz")
    limits = ["--rate", "100000", "--burst", "100000", "--ip-rate", "100000", "--ip-burst", "100000"]
    with RelayHarness(root, extra_args=limits + ["--ip-fail-burst", "100000"]) as h:
        key = make_private_key()
        me = address_from_private_key(key, "testnet")
        # The fuzzing signer is requester and provider of small job ids, so job routes run their full logic.
        for job_id in range(0, 4):
            h.jobs.set_job(job_id, me, me)
        yield h, key


def test_no_server_errors_on_schema_generated_requests(relay):
    h, key = relay
    schema = schemathesis.openapi.from_url(h.url + "/openapi.json")
    session = requests.Session()
    session.auth = SignRequest(key)
    operations = [r.ok() for r in schema.get_all_operations()]
    ran, statuses = [], {}
    for operation, mode in [(op, m) for op in operations for m in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]:
        if (operation.method.upper(), operation.path) in SKIP:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fuzz(case):
            response = case.call(session=session, base_url=h.url, timeout=30)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
            )
            case.validate_response(response, checks=[not_a_server_error])
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        try:
            fuzz()
        except Unsatisfiable:
            # An operation without parameters or body has no invalid variant to generate.
            assert mode == GenerationMode.NEGATIVE, operation.path
            continue
        ran.append(f"{mode} {operation.method.upper()} {operation.path}")
    print("fuzzed operations:", len(ran), "responses by status:", dict(sorted(statuses.items())))
    assert len(ran) >= 25, ran
    # Signed requests got past authentication: successes and authorization/validation outcomes, not just 401s.
    assert statuses.get(200, 0) > 0 and sum(n for s, n in statuses.items() if s != 401) > statuses.get(401, 0)
