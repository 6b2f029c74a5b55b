"""The node/API client's error mapping, against a scripted HTTP server on loopback.

The happy paths run against the real local chain in tests/test_devnet.py; here a small server answers
exactly what a node answers when things go wrong, which a healthy devnet would not do on demand.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from addon.stacks import clarity as c
from addon.stacks.api import ReadOnlyCallError, StacksClient
from addon.stacks.errors import (
    ApiError,
    NetworkError,
    TransactionFailed,
    TransactionRejected,
    TransactionTimeout,
)
from server.relay.local import free_port
from tests.test_stacks_vectors import ADDR, CONTRACT, KEY

TXID = "ab" * 32


class ScriptedNode:
    """Routes (method, path) to (status, body); bodies may be callables for stateful answers."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                path = self.path.split("?")[0]
                node.requests.append((self.command, path, body))
                status, payload = node.routes.get((self.command, path), (404, {"error": "not found"}))
                if callable(payload):
                    payload = payload()
                if isinstance(payload, (int, float)) and status == "sleep":
                    time.sleep(payload)
                    status, payload = 200, {}
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def node():
    n = ScriptedNode()
    yield n
    n.close()


@pytest.fixture
def client(node):
    with StacksClient("devnet", api_url=node.url, timeout=2) as cl:
        yield cl


def test_unreachable_node_says_how_to_start_one():
    port = free_port()  # a port nothing listens on
    with StacksClient("devnet", api_url=f"http://127.0.0.1:{port}") as cl, \
            pytest.raises(NetworkError, match="cannot reach the Stacks node.*python -m server devnet"):
        cl.get_info()


def test_slow_node_times_out_with_a_clear_error(node, client):
    node.routes[("GET", "/v2/info")] = ("sleep", 3)
    with pytest.raises(NetworkError, match="did not answer GET /v2/info in time"):
        client.get_info()


def test_http_errors_keep_status_and_message(node, client):
    node.routes[("GET", f"/v2/accounts/{ADDR}")] = (500, b"<html>upstream down</html>")
    with pytest.raises(ApiError, match="HTTP 500.*upstream down") as e:
        client.get_account(ADDR)
    assert e.value.status == 500


def test_non_json_success_is_an_error(node, client):
    node.routes[("GET", "/v2/info")] = (200, b"not json")
    with pytest.raises(ApiError, match="not JSON"):
        client.get_info()


def test_account_and_nonce(node, client):
    node.routes[("GET", f"/v2/accounts/{ADDR}")] = (200, {"balance": "0x0000000000000000000000e8d4a51000",
                                                           "locked": "0x0", "nonce": 4})
    node.routes[("GET", f"/extended/v1/address/{ADDR}/nonces")] = (200, {"possible_next_nonce": 6})
    account = client.get_account(ADDR)
    assert (account.balance, account.nonce) == (1_000_000_000_000, 4)
    assert client.get_nonce(ADDR) == 6
    del node.routes[("GET", f"/extended/v1/address/{ADDR}/nonces")]
    assert client.get_nonce(ADDR) == 4  # a bare node without the extended API


def test_rejected_broadcast_names_the_reason_and_what_to_do(node, client):
    from addon.stacks.transactions import make_stx_transfer

    tx = make_stx_transfer(ADDR, 5, private_key=KEY, nonce=0, fee=200)
    node.routes[("POST", "/v2/transactions")] = (400, {"error": "transaction rejected", "reason": "BadNonce",
                                                       "reason_data": {"expected": 3, "actual": 0}, "txid": TXID})
    with pytest.raises(TransactionRejected, match="BadNonce.*expected.*fetch the next nonce") as e:
        client.broadcast(tx)
    assert (e.value.reason, e.value.txid) == ("BadNonce", TXID)
    node.routes[("POST", "/v2/transactions")] = (200, f'"{tx.txid()}"'.encode())
    assert client.broadcast(tx) == tx.txid()
    assert node.requests[-1][2] == tx.serialize()


def test_wait_for_tx_reports_abort_with_the_result(node, client):
    answers = iter([(None, 404), ("pending", 200), ("abort_by_response", 200)])

    def tx_state():
        status, _ = next(answers)
        if status is None:
            return {"error": "could not find transaction by ID"}
        return {"tx_id": "0x" + TXID, "tx_status": status,
                "tx_result": {"hex": c.to_hex(c.Err(c.UInt(104))), "repr": "(err u104)"}, "block_height": 9}

    node.routes[("GET", f"/extended/v1/tx/0x{TXID}")] = (200, tx_state)
    with pytest.raises(TransactionFailed, match=r"the call returned \(err u104\)") as e:
        client.wait_for_tx(TXID, timeout=10, poll=0.01)
    assert e.value.status == "abort_by_response" and e.value.result == c.Err(c.UInt(104))


def test_wait_for_tx_post_condition_and_dropped(node, client):
    path = ("GET", f"/extended/v1/tx/0x{TXID}")
    node.routes[path] = (200, {"tx_status": "abort_by_post_condition", "tx_result": {"hex": c.to_hex(c.Ok(c.TRUE))}})
    with pytest.raises(TransactionFailed, match="a post-condition failed"):
        client.wait_for_tx(TXID, timeout=5, poll=0.01)
    node.routes[path] = (200, {"tx_status": "dropped_replace_by_fee"})
    with pytest.raises(TransactionFailed, match="dropped"):
        client.wait_for_tx(TXID, timeout=5, poll=0.01)


def test_wait_for_tx_times_out(node, client):
    node.routes[("GET", f"/extended/v1/tx/0x{TXID}")] = (200, {"tx_status": "pending"})
    with pytest.raises(TransactionTimeout, match="not confirmed within"):
        client.wait_for_tx(TXID, timeout=0.2, poll=0.05)


def test_success_returns_the_decoded_result(node, client):
    node.routes[("GET", f"/extended/v1/tx/0x{TXID}")] = (200, {"tx_status": "success", "block_height": 12,
                                                              "tx_result": {"hex": c.to_hex(c.Ok(c.UInt(7)))}})
    result = client.wait_for_tx(TXID, timeout=5)
    assert (result.result, result.block_height) == (c.Ok(c.UInt(7)), 12)


def test_read_only_calls_and_state(node, client):
    address, name = CONTRACT.split(".")
    node.routes[("POST", f"/v2/contracts/call-read/{address}/{name}/get-job")] = (
        200, {"okay": True, "result": c.to_hex(c.Some(c.Tuple({"reward": c.UInt(5)})))})
    assert client.call_read_only(CONTRACT, "get-job", [c.UInt(1)]) == c.Some(c.Tuple({"reward": c.UInt(5)}))
    sent = json.loads(node.requests[-1][2])
    assert sent == {"sender": address, "arguments": [c.to_hex(c.UInt(1))]}
    node.routes[("POST", f"/v2/contracts/call-read/{address}/{name}/boom")] = (
        200, {"okay": False, "cause": "Unchecked(NoSuchPublicFunction)"})
    with pytest.raises(ReadOnlyCallError, match="NoSuchPublicFunction"):
        client.call_read_only(CONTRACT, "boom")
    node.routes[("POST", f"/v2/map_entry/{address}/{name}/jobs")] = (200, {"data": c.to_hex(c.NONE)})
    assert client.get_map_entry(CONTRACT, "jobs", c.UInt(1)) is None
    node.routes[("POST", f"/v2/map_entry/{address}/{name}/jobs")] = (200, {"data": c.to_hex(c.Some(c.UInt(3)))})
    assert client.get_map_entry(CONTRACT, "jobs", c.UInt(1)) == c.UInt(3)
    node.routes[("GET", f"/v2/data_var/{address}/{name}/next-job-id")] = (200, {"data": c.to_hex(c.UInt(8))})
    assert client.get_data_var(CONTRACT, "next-job-id") == c.UInt(8)


def test_fee_estimate_falls_back_to_the_transfer_rate(node, client):
    from addon.stacks.transactions import make_stx_transfer

    tx = make_stx_transfer(ADDR, 5, private_key=KEY, nonce=0, fee=200)
    node.routes[("POST", "/v2/fees/transaction")] = (200, {"estimations": [{"fee": 100}, {"fee": 250}, {"fee": 900}]})
    assert client.estimate_fee(tx) == 250
    no_estimate = {"error": "Estimator RPC endpoint failed: NoEstimateAvailable"}
    node.routes[("POST", "/v2/fees/transaction")] = (400, no_estimate)
    node.routes[("GET", "/v2/fees/transfer")] = (200, 2)
    assert client.estimate_fee(tx) == max(2 * len(tx.serialize()), 180)
