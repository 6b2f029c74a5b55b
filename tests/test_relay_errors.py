"""The relay and its client agree on error codes: one table (addon/farm/relay_errors.py) for both."""

import ast
from pathlib import Path

import pytest

from addon.farm import relay_errors as E
from server.relay.errors import error_bytes
from tests.relay_fixtures import InProcessRelay, Signer

RAISERS = ("RelayError", "error_body", "error_bytes")
RELAY_SOURCES = sorted((Path(__file__).resolve().parents[1] / "server" / "relay").glob("*.py"))


def _kinds_used_by_relay() -> dict[str, list[str]]:
    """Every `E.<Name>` the relay's code refers to, with where; and every call raising a RelayError."""
    used: dict[str, list[str]] = {}
    for path in RELAY_SOURCES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "E":
                used.setdefault(node.attr, []).append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in RAISERS:
                first = node.args[0] if node.args else None
                where = f"{path.name}:{node.lineno}"
                # A table class (E.X) or a variable holding one (looked up from the table in that module).
                assert isinstance(first, ast.Attribute | ast.Name), f"{where}: code not from the table"
    return used


def test_every_code_the_relay_emits_is_in_the_table():
    used = _kinds_used_by_relay()
    table_names = {cls.__name__ for cls in E.TABLE}
    assert used, "the relay raises no table errors?"
    for name, where in used.items():
        if name in ("RelayRefused", "RETRYABLE"):
            continue
        assert name in table_names, f"{name} used at {where} is not in relay_errors.TABLE"


def test_no_free_form_code_strings_in_the_relay():
    codes = {cls.code for cls in E.TABLE}
    for path in RELAY_SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RelayError":
                assert not any(isinstance(a, ast.Constant) and a.value in codes for a in node.args), path.name


@pytest.mark.parametrize("kind", E.TABLE, ids=lambda k: k.code)
def test_each_code_round_trips_to_its_class(kind):
    body = error_bytes(kind, "do this next", offset=7)
    err = E.error_from_response(kind.status, body, {"Retry-After": "3"})
    assert type(err) is kind and isinstance(err, E.RelayRefused)
    assert (err.status, err.code, err.message, err.details["offset"]) == (kind.status, kind.code, "do this next", 7)
    assert err.retryable is kind.RETRYABLE and err.retry_after == 3.0
    assert kind.__doc__ and 100 <= kind.status < 600
    assert E.BY_CODE[kind.code] is kind


def test_retryable_codes_are_the_transient_ones():
    retryable = {k.code for k in E.TABLE if k.RETRYABLE}
    assert retryable == {
        "rate_limited", "too_many_uploads", "relay_busy", "chain_unavailable", "internal", "request_timeout",
        "upload_busy", "offset_mismatch",
    }


def test_responses_that_are_not_relay_errors():
    proxy = E.error_from_response(502, b"<html>Bad Gateway</html>", {"content-type": "text/html"})
    assert type(proxy) is E.UnexpectedResponse and proxy.retryable and "Bad Gateway" in proxy.message
    assert not E.error_from_response(400, b"nope").retryable
    empty = E.error_from_response(503, b"", {"retry-after": "9"})
    assert empty.retryable and empty.retry_after == 9.0 and "no error body" in empty.message
    odd = E.error_from_response(409, b'{"error": {"code": "from_the_future", "message": "m"}}')
    assert type(odd) is E.UnexpectedResponse and odd.code == "from_the_future" and not odd.retryable
    for junk in (b'{"error": 1}', b"[]", b'{"error": {"code": 5, "message": "x"}}', b"\xff\xfe"):
        assert type(E.error_from_response(418, junk)) is E.UnexpectedResponse


def test_framework_refusals_use_table_codes_with_their_statuses(tmp_path):
    relay = InProcessRelay(tmp_path)
    me = Signer()
    try:
        cases = [
            (relay.request(None, "GET", "/v1/nothing-here"), E.NoSuchEndpoint),
            (relay.request(me, "DELETE", "/v1/blobs/missing"), E.MethodNotAllowed),
            (relay.request(me, "POST", "/v1/blobs/missing", {"blob_ids": ["zz"]}), E.InvalidRequest),
            (relay.request(me, "POST", "/v1/blobs/missing", b"{not json"), E.InvalidRequest),
            (relay.request(None, "POST", "/v1/blobs/missing", {"blob_ids": []}), E.NotAuthenticated),
            (relay.request(me, "GET", "/v1/jobs/5"), E.NoSuchJob),
        ]
        for response, kind in cases:
            err = E.error_from_response(response.status_code, response.content, response.headers)
            assert type(err) is kind, (response.status_code, response.text)
            assert response.status_code == kind.status
    finally:
        relay.close()
