"""The local chain (contract/devnet) through the Python Stacks client, with real signed transactions."""

import httpx
import pytest

from addon.stacks import clarity as C
from addon.stacks import postconditions as P
from addon.stacks import transactions as T
from addon.stacks.api import StacksClient
from addon.stacks.errors import TransactionFailed, TransactionRejected
from addon.stacks.keys import address_from_private_key, make_private_key
from server.devnet import Devnet, DevnetError
from tests.conftest_devnet import devnet, devnet_accounts, devnet_client  # noqa: F401

FEE = 3_000  # µSTX, comfortably above 1 µSTX/byte for these transactions
STX = 1_000_000

# A contract of our own, deployed by a transaction: the devnet must not depend on render-farm.
PROBE = """
(define-fungible-token probe-token)
(define-non-fungible-token probe-nft uint)
(define-data-var counter uint u0)
(define-map notes principal (string-ascii 40))
(define-read-only (get-counter) (var-get counter))
(define-read-only (get-time) stacks-block-time)
(define-read-only (get-height) stacks-block-height)
(define-public (bump (n uint))
  (begin (var-set counter (+ (var-get counter) n)) (print {event: "bump", n: n}) (ok (var-get counter))))
(define-public (note (text (string-ascii 40))) (begin (map-set notes tx-sender text) (ok true)))
(define-public (deposit (amount uint))
  (begin (var-set counter (+ (var-get counter) u1)) (stx-transfer? amount tx-sender current-contract)))
(define-public (fail (code uint)) (begin (var-set counter u999) (err code)))
(define-public (panic) (begin (var-set counter u777) (ok (unwrap-panic (element-at? (list u1) u5)))))
(define-public (mint-and-send (amount uint) (id uint) (to principal))
  (begin
    (var-set counter (+ (var-get counter) u1))
    (try! (ft-mint? probe-token amount tx-sender))
    (try! (nft-mint? probe-nft id tx-sender))
    (try! (ft-transfer? probe-token amount tx-sender to))
    (try! (nft-transfer? probe-nft id tx-sender to))
    (ok true)))
"""


class Wallet:
    """A fresh key funded by the faucet, so tests never race other tests for a nonce."""

    def __init__(self, chain: Devnet, client, stx: int = 10):
        self.key = make_private_key()
        self.address = address_from_private_key(self.key, "testnet")
        self.client = client
        if stx:
            chain.faucet(self.address, stx * STX)

    def nonce(self) -> int:
        return self.client.get_nonce(self.address)

    def call(self, contract_id: str, function: str, args=(), *, nonce=None, fee=FEE, **kw) -> T.Transaction:
        address, name = contract_id.split(".")
        return T.make_contract_call(address, name, function, list(args), private_key=self.key,
                                    nonce=self.nonce() if nonce is None else nonce, fee=fee, **kw)

    def transfer(self, to: str, amount: int, *, nonce=None, fee=FEE, **kw) -> T.Transaction:
        return T.make_stx_transfer(to, amount, private_key=self.key,
                                   nonce=self.nonce() if nonce is None else nonce, fee=fee, **kw)


@pytest.fixture
def wallet(devnet, devnet_client):  # noqa: F811
    return Wallet(devnet, devnet_client)


@pytest.fixture(scope="module")
def probe(devnet, devnet_client):  # noqa: F811
    """The probe contract's id, deployed by a deploy transaction from a fresh account."""
    owner = Wallet(devnet, devnet_client)
    tx = T.make_contract_deploy("probe", PROBE, private_key=owner.key, nonce=0, fee=50_000)
    result = devnet_client.submit(tx, timeout=10)
    assert result.status == "success"
    return f"{owner.address}.probe"


def rejected(client, tx_or_bytes) -> TransactionRejected:
    with pytest.raises(TransactionRejected) as info:
        client.broadcast(tx_or_bytes)
    return info.value


def counter(client, probe) -> int:
    return C.to_python(client.get_data_var(probe, "counter"))


# ---- chain and account views ------------------------------------------------------------------------


def test_info_accounts_and_keys(devnet, devnet_client, devnet_accounts):  # noqa: F811
    info = devnet_client.get_info()
    assert info["network_id"] == 0x80000000
    assert info["stacks_tip_height"] >= 1 and info["burn_block_height"] >= 1
    assert set(devnet_accounts) >= {"deployer", "wallet_1", "wallet_2", "wallet_3", "wallet_4", "wallet_5"}
    for account in devnet_accounts.values():
        # The served keys are the ones that own the funded addresses.
        assert address_from_private_key(account["private_key"], "testnet") == account["address"]
    raw = httpx.get(f"{devnet.url}/v2/accounts/{devnet_accounts['wallet_3']['address']}", params={"proof": 0}).json()
    assert raw["balance"].startswith("0x") and len(raw["balance"]) == 34
    assert set(raw) == {"balance", "locked", "unlock_height", "nonce"}
    stx = httpx.get(f"{devnet.url}/extended/v1/address/{devnet_accounts['wallet_3']['address']}/stx").json()
    assert int(stx["balance"]) == int(raw["balance"], 16)
    nonces = httpx.get(f"{devnet.url}/extended/v1/address/{devnet_accounts['wallet_3']['address']}/nonces").json()
    assert nonces["possible_next_nonce"] == raw["nonce"]
    assert nonces["detected_missing_nonces"] == []


def test_stx_transfer_moves_amount_and_fee_and_has_the_api_shape(devnet, devnet_client, wallet):  # noqa: F811
    recipient = Wallet(devnet, devnet_client, stx=0)
    before = devnet_client.get_balance(wallet.address)
    tx = wallet.transfer(recipient.address, 1234, memo="hello")
    txid = devnet_client.broadcast(tx)
    assert txid == tx.txid()
    assert devnet_client.get_balance(wallet.address) == before - 1234 - FEE
    assert devnet_client.get_balance(recipient.address) == 1234
    assert devnet_client.get_nonce(wallet.address) == 1
    data = httpx.get(f"{devnet.url}/extended/v1/tx/{txid}").json()  # without 0x, too
    assert data["tx_id"] == "0x" + txid
    assert data["tx_status"] == "success" and data["tx_type"] == "token_transfer"
    assert data["tx_result"] == {"hex": "0x0703", "repr": "(ok true)"}
    assert data["token_transfer"]["amount"] == "1234"
    assert data["token_transfer"]["recipient_address"] == recipient.address
    assert data["fee_rate"] == str(FEE) and data["nonce"] == 0 and data["sender_address"] == wallet.address
    assert data["post_condition_mode"] == "deny" and data["block_height"] >= 1 and data["block_time"] > 1_600_000_000
    [event] = data["events"]
    assert event["event_type"] == "stx_asset"
    assert event["asset"] == {"asset_event_type": "transfer", "sender": wallet.address,
                              "recipient": recipient.address, "amount": "1234", "memo": event["asset"]["memo"]}


def test_unknown_and_malformed_txids(devnet):  # noqa: F811
    missing = httpx.get(f"{devnet.url}/extended/v1/tx/0x{'ab' * 32}")
    assert missing.status_code == 404 and missing.json()["error"] == "could not find transaction by ID"
    bad = httpx.get(f"{devnet.url}/extended/v1/tx/xyz")
    assert bad.status_code == 400 and "64 hex digits" in bad.json()["error"]


# ---- admission -----------------------------------------------------------------------------------


def test_forged_signatures_are_rejected_and_change_nothing(devnet, devnet_client, wallet):  # noqa: F811
    victim = Wallet(devnet, devnet_client)
    good = bytearray(wallet.transfer(victim.address, 500).serialize())
    flipped = bytearray(good)
    flipped[60] ^= 0x01  # inside the signature
    assert rejected(devnet_client, bytes(flipped)).reason == "SignatureValidation"
    # Claim to be the victim (its hash160 as the signer) while signing with another key.
    forged = bytearray(victim.transfer(wallet.address, 500).serialize())
    forged[44:109] = good[44:109]
    assert rejected(devnet_client, bytes(forged)).reason == "SignatureValidation"
    assert devnet_client.get_balance(victim.address) == 10 * STX
    assert devnet_client.get_nonce(victim.address) == 0 and devnet_client.get_nonce(wallet.address) == 0


def test_bad_nonce_says_which_nonce_was_expected(devnet_client, wallet, probe):  # noqa: F811
    devnet_client.submit(wallet.call(probe, "bump", [C.UInt(1)]), timeout=5)
    for wrong in (0, 5):  # already used, and a gap (there is no mempool to hold it)
        error = rejected(devnet_client, wallet.call(probe, "bump", [C.UInt(1)], nonce=wrong))
        assert error.reason == "BadNonce"
        assert error.body["reason_data"]["expected"] == 1 and error.body["reason_data"]["actual"] == wrong
        assert error.body["txid"]
    assert devnet_client.get_nonce(wallet.address) == 1


def test_insufficient_funds(devnet, devnet_client, probe):  # noqa: F811
    poor = Wallet(devnet, devnet_client, stx=0)
    devnet.faucet(poor.address, 5_000)
    error = rejected(devnet_client, poor.transfer(probe, 4_000))  # 4000 + fee 3000 > 5000
    assert error.reason == "NotEnoughFunds"
    assert int(error.body["reason_data"]["expected"], 16) == 7_000
    assert int(error.body["reason_data"]["actual"], 16) == 5_000
    error = rejected(devnet_client, poor.call(probe, "bump", [C.UInt(1)], fee=6_000))
    assert error.reason == "NotEnoughFunds"
    assert devnet_client.get_balance(poor.address) == 5_000 and devnet_client.get_nonce(poor.address) == 0


def test_fee_below_one_microstx_per_byte(devnet_client, wallet, probe):  # noqa: F811
    tx = wallet.call(probe, "bump", [C.UInt(1)], fee=10)
    error = rejected(devnet_client, tx)
    assert error.reason == "FeeTooLow"
    assert error.body["reason_data"] == {"expected": len(tx.serialize()), "actual": 10}


def test_mainnet_transaction_is_rejected(devnet_client, wallet):  # noqa: F811
    tx = T.make_stx_transfer("SP000000000000000000002Q6VF78", 5, private_key=wallet.key, nonce=0, fee=FEE,
                             network="mainnet")
    assert rejected(devnet_client, tx).reason == "BadTransactionVersion"


def test_contract_call_is_checked_against_the_abi(devnet_client, wallet, probe):  # noqa: F811
    assert rejected(devnet_client, wallet.call(probe, "bump", [C.Int(1)])).reason == "BadFunctionArgument"
    assert rejected(devnet_client, wallet.call(probe, "bump", [])).reason == "BadFunctionArgument"
    assert rejected(devnet_client, wallet.call(probe, "get-counter")).reason == "NoSuchPublicFunction"
    assert rejected(devnet_client, wallet.call(probe + "-nope", "bump", [C.UInt(1)])).reason == "NoSuchContract"
    deploy_again = T.make_contract_deploy("probe", PROBE, private_key=wallet.key, nonce=0, fee=50_000)
    devnet_client.submit(deploy_again, timeout=5)  # same name, another deployer: a new contract
    again = T.make_contract_deploy("probe", PROBE, private_key=wallet.key, nonce=1, fee=50_000)
    assert rejected(devnet_client, again).reason == "ContractAlreadyExists"


# ---- execution -----------------------------------------------------------------------------------


def test_contract_call_events_reads_and_contract_endpoints(devnet, devnet_client, wallet, probe):  # noqa: F811
    start = counter(devnet_client, probe)
    result = devnet_client.submit(wallet.call(probe, "bump", [C.UInt(5)]), timeout=5)
    assert result.status == "success" and result.result == C.Ok(C.UInt(start + 5))
    [log] = result.raw["events"]
    assert log["event_type"] == "smart_contract_log"
    assert log["contract_log"]["value"]["repr"] == '(tuple (event "bump") (n u5))'
    call = result.raw["contract_call"]
    assert call["function_signature"] == "(define-public (bump (n uint)))"
    five = "0x" + C.serialize(C.UInt(5)).hex()
    assert call["function_args"] == [{"hex": five, "repr": "u5", "name": "n", "type": "uint"}]
    assert result.raw["execution_cost_runtime"] > 0
    assert devnet_client.call_read_only(probe, "get-counter") == C.UInt(start + 5)
    devnet_client.submit(wallet.call(probe, "note", [C.StringAscii("hi")]), timeout=5)
    assert devnet_client.get_map_entry(probe, "notes", C.principal(wallet.address)) == C.StringAscii("hi")
    assert devnet_client.get_map_entry(probe, "notes", C.principal(probe)) is None
    iface = httpx.get(f"{devnet.url}/v2/contracts/interface/{probe.replace('.', '/')}").json()
    assert {f["name"] for f in iface["functions"]} >= {"bump", "get-counter"}
    source = httpx.get(f"{devnet.url}/v2/contracts/source/{probe.replace('.', '/')}").json()
    assert "define-data-var counter" in source["source"]


def test_abort_by_response_uses_nonce_and_fee_but_keeps_no_writes(devnet_client, wallet, probe):  # noqa: F811
    start, balance = counter(devnet_client, probe), devnet_client.get_balance(wallet.address)
    with pytest.raises(TransactionFailed) as info:
        devnet_client.submit(wallet.call(probe, "fail", [C.UInt(7)]), timeout=5)
    assert info.value.status == "abort_by_response" and info.value.result == C.Err(C.UInt(7))
    assert counter(devnet_client, probe) == start
    assert devnet_client.get_balance(wallet.address) == balance - FEE
    assert devnet_client.get_nonce(wallet.address) == 1


def test_runtime_error_is_mined_as_err_none_and_rolled_back(devnet, devnet_client, wallet, probe):  # noqa: F811
    start, balance = counter(devnet_client, probe), devnet_client.get_balance(wallet.address)
    tx = wallet.call(probe, "panic")
    with pytest.raises(TransactionFailed) as info:
        devnet_client.submit(tx, timeout=5)
    assert info.value.status == "abort_by_response" and info.value.result == C.Err(C.NoneType())
    assert "UnwrapFailure" in devnet_client.get_transaction(tx.txid())["vm_error"]
    assert counter(devnet_client, probe) == start
    assert devnet_client.get_balance(wallet.address) == balance - FEE
    # The chain goes on normally after the rebuild.
    assert devnet_client.submit(wallet.call(probe, "bump", [C.UInt(1)]), timeout=5).result == C.Ok(C.UInt(start + 1))


def test_post_condition_failure_leaves_no_trace(devnet, devnet_client, wallet, probe):  # noqa: F811
    start = counter(devnet_client, probe)
    balance = devnet_client.get_balance(wallet.address)
    contract_balance = devnet_client.get_balance(probe)
    height = devnet_client.get_info()["stacks_tip_height"]
    # Deny mode, no post-condition covering the 200 µSTX deposit.
    tx = wallet.call(probe, "deposit", [C.UInt(200)])
    with pytest.raises(TransactionFailed) as info:
        devnet_client.submit(tx, timeout=5)
    assert info.value.status == "abort_by_post_condition"
    record = devnet_client.get_transaction(tx.txid())
    assert "STX was moved by " + wallet.address in record["vm_error"] and record["events"] == []
    assert counter(devnet_client, probe) == start
    assert devnet_client.get_balance(probe) == contract_balance
    assert devnet_client.get_balance(wallet.address) == balance - FEE
    assert devnet_client.get_nonce(wallet.address) == 1
    assert devnet_client.get_info()["stacks_tip_height"] == height + 1  # it was mined, in its own block
    # A post-condition that does not match the amount fails too.
    wrong = wallet.call(probe, "deposit", [C.UInt(200)], post_conditions=[P.stx_post_condition("origin", "eq", 100)])
    with pytest.raises(TransactionFailed):
        devnet_client.submit(wrong, timeout=5)
    assert counter(devnet_client, probe) == start and devnet_client.get_balance(probe) == contract_balance
    # The right one passes, and so does allow mode without any.
    right = wallet.call(probe, "deposit", [C.UInt(200)], post_conditions=[P.stx_post_condition("origin", "eq", 200)])
    assert devnet_client.submit(right, timeout=5).status == "success"
    allow = wallet.call(probe, "deposit", [C.UInt(300)], post_condition_mode="allow")
    assert devnet_client.submit(allow, timeout=5).status == "success"
    assert devnet_client.get_balance(probe) == contract_balance + 500
    assert counter(devnet_client, probe) == start + 2
    assert devnet_client.get_balance(wallet.address) == balance - 4 * FEE - 500


def test_fungible_and_non_fungible_post_conditions(devnet, devnet_client, wallet, probe):  # noqa: F811
    other = Wallet(devnet, devnet_client, stx=0)
    token, nft = probe + "::probe-token", probe + "::probe-nft"
    args = [C.UInt(50), C.UInt(9), C.principal(other.address)]
    only_ft = [P.ft_post_condition("origin", token, "eq", 50)]
    with pytest.raises(TransactionFailed) as info:
        devnet_client.submit(wallet.call(probe, "mint-and-send", args, post_conditions=only_ft), timeout=5)
    assert "probe-nft value" in devnet_client.get_transaction(info.value.txid)["vm_error"]
    wrong_nft = only_ft + [P.nft_post_condition("origin", nft, C.UInt(8), "sent")]
    with pytest.raises(TransactionFailed):
        devnet_client.submit(wallet.call(probe, "mint-and-send", args, post_conditions=wrong_nft), timeout=5)
    both = only_ft + [P.nft_post_condition("origin", nft, C.UInt(9), "sent")]
    result = devnet_client.submit(wallet.call(probe, "mint-and-send", args, post_conditions=both), timeout=5)
    kinds = [(e["event_type"], e["asset"]["asset_event_type"]) for e in result.raw["events"]]
    assert kinds == [("fungible_token_asset", "mint"), ("non_fungible_token_asset", "mint"),
                     ("fungible_token_asset", "transfer"), ("non_fungible_token_asset", "transfer")]
    assert result.raw["events"][3]["asset"]["value"]["repr"] == "u9"
    # The NFT exists once: minting id 9 again fails by response, not by post-condition.
    with pytest.raises(TransactionFailed) as info:
        devnet_client.submit(wallet.call(probe, "mint-and-send", args, post_conditions=both), timeout=5)
    assert info.value.status == "abort_by_post_condition"  # the nft "sent" condition cannot hold on an err


# ---- devnet controls -----------------------------------------------------------------------------


def test_faucet_funds_any_testnet_address_and_refuses_bad_input(devnet, devnet_client):  # noqa: F811
    address = address_from_private_key(make_private_key(), "testnet")
    assert devnet.faucet(address, 42) == 42
    assert devnet.faucet(address, 8) == 50 == devnet_client.get_balance(address)
    for body in ({"address": address, "amount": -1}, {"address": address, "amount": "1.5"}, {"address": address},
                 {"address": "SP000000000000000000002Q6VF78", "amount": 1}, {"address": "nope", "amount": 1}, [1],
                 {"address": f"{address}.some-contract", "amount": 1}):
        response = httpx.post(f"{devnet.url}/devnet/faucet", json=body)
        assert response.status_code == 400 and response.json()["error"]
    assert devnet_client.get_balance(address) == 50


def test_advance_moves_height_and_block_time(devnet, devnet_client, wallet, probe):  # noqa: F811
    time_before = C.to_python(devnet_client.call_read_only(probe, "get-time"))
    height_before = devnet_client.get_info()["stacks_tip_height"]
    moved = devnet.advance(blocks=3)
    assert moved["stacks_tip_height"] == height_before + 3
    moved = devnet.advance(seconds=3 * 3600 + 25)
    assert moved["burn_blocks"] >= 17 and moved["seconds_advanced"] >= 3 * 3600 + 25
    now = C.to_python(devnet_client.call_read_only(probe, "get-time"))
    assert time_before + 3 * 3600 + 25 <= now <= time_before + 3 * 3600 + 25 + 30 + 20 + 10
    assert moved["block_time"] == now
    for body in ({}, {"blocks": 0}, {"blocks": -1}, {"seconds": "soon"}, {"blocks": 10**9}):
        assert httpx.post(f"{devnet.url}/devnet/advance", json=body).status_code == 400


def test_fee_estimates(devnet, devnet_client, wallet, probe):  # noqa: F811
    tx = wallet.call(probe, "bump", [C.UInt(1)])
    fee = devnet_client.estimate_fee(tx)
    assert fee >= len(tx.serialize())
    assert httpx.get(f"{devnet.url}/v2/fees/transfer").json() == 1
    estimate = httpx.post(f"{devnet.url}/v2/fees/transaction",
                          json={"transaction_payload": "0x" + T.serialize_payload(tx.payload).hex()}).json()
    assert len(estimate["estimations"]) == 3 and {"fee", "fee_rate"} <= set(estimate["estimations"][0])


# ---- malformed input -----------------------------------------------------------------------------


def test_malformed_requests_get_clear_400s_and_the_server_keeps_going(devnet, devnet_client, probe):  # noqa: F811
    url = devnet.url
    octets = {"Content-Type": "application/octet-stream"}
    garbage = httpx.post(f"{url}/v2/transactions", content=b"\x80\x00garbage", headers=octets)
    assert garbage.status_code == 400 and garbage.json()["reason"] == "Deserialization"
    empty = httpx.post(f"{url}/v2/transactions", content=b"", headers=octets)
    assert empty.status_code == 400 and empty.json()["reason"] == "Deserialization"
    assert httpx.post(f"{url}/v2/transactions", json={"tx": "zz"}).status_code == 400
    text = httpx.post(f"{url}/v2/transactions", content=b"00", headers={"Content-Type": "text/plain"})
    assert text.status_code == 400 and "application/octet-stream" in text.json()["error"]
    path = probe.replace(".", "/")
    bad_hex_arg = b'{"sender": "' + probe.encode() + b'", "arguments": ["0xzz"]}'
    uint_key = b'"0x0100000000000000000000000000000001"'  # the map is keyed by principal
    cases = [
        ("POST", f"/v2/contracts/call-read/{path}/get-counter", b"{not json"),
        ("POST", f"/v2/contracts/call-read/{path}/get-counter", b'{"sender": "x", "arguments": []}'),
        ("POST", f"/v2/contracts/call-read/{path}/get-counter", bad_hex_arg),
        ("POST", f"/v2/map_entry/{path}/notes", b'{"key": 1}'),
        ("POST", f"/v2/map_entry/{path}/notes", uint_key),
        ("GET", "/v2/accounts/not-an-address", b""),
        ("GET", "/v2/accounts/%E0%A4%A", b""),
        ("POST", "/v2/fees/transaction", b'{"transaction_payload": 5}'),
        ("POST", "/devnet/advance", b"[]"),
    ]
    for method, target, body in cases:
        response = httpx.request(method, url + target, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (target, response.text)
        assert response.json()["error"]
    assert httpx.get(f"{url}/v2/data_var/{path}/no-such-var").status_code == 404
    assert httpx.get(f"{url}/v2/no/such/endpoint").status_code == 404
    assert httpx.get(f"{url}/v2/transactions").status_code == 405
    wrong_arg = devnet_client._json("POST", f"/v2/contracts/call-read/{path}/get-counter",
                                    json={"sender": probe, "arguments": ["0x0100000000000000000000000000000001"]})
    assert wrong_arg["okay"] is False and "get-counter takes 0 argument" in wrong_arg["cause"]
    assert devnet_client.get_info()["network_id"] == 0x80000000


def test_json_transaction_body_is_accepted(devnet, devnet_client, wallet, probe):  # noqa: F811
    tx = wallet.call(probe, "bump", [C.UInt(1)])
    response = httpx.post(f"{devnet.url}/v2/transactions", json={"tx": tx.serialize().hex()})
    assert response.status_code == 200 and response.json() == tx.txid()


# ---- persistence ---------------------------------------------------------------------------------


def test_state_survives_a_restart(tmp_path):
    with Devnet(state_dir=tmp_path) as first, StacksClient("devnet", api_url=first.url) as client:
        owner = Wallet(first, client)
        client.submit(T.make_contract_deploy("probe", PROBE, private_key=owner.key, nonce=0, fee=50_000), timeout=10)
        probe = f"{owner.address}.probe"
        client.submit(owner.call(probe, "bump", [C.UInt(41)]), timeout=5)
        failed = owner.call(probe, "deposit", [C.UInt(100)])  # no post-condition: aborted, fee paid
        with pytest.raises(TransactionFailed):
            client.submit(failed, timeout=5)
        first.advance(seconds=7200)
        seen = {
            "balance": client.get_balance(owner.address),
            "nonce": client.get_nonce(owner.address),
            "counter": counter(client, probe),
            "time": client.call_read_only(probe, "get-time"),
            "failed": client.get_transaction(failed.txid()),
        }
    with Devnet(state_dir=tmp_path) as second, StacksClient("devnet", api_url=second.url) as client:
        owner.client = client
        assert client.get_balance(owner.address) == seen["balance"]
        assert client.get_nonce(owner.address) == seen["nonce"] == 3
        assert counter(client, probe) == seen["counter"] == 41
        assert client.call_read_only(probe, "get-time") == seen["time"]
        assert client.get_transaction(failed.txid()) == seen["failed"]
        assert client.submit(owner.call(probe, "bump", [C.UInt(1)]), timeout=5).result == C.Ok(C.UInt(42))
    with Devnet(state_dir=tmp_path, reset=True) as fresh, StacksClient("devnet", api_url=fresh.url) as client:
        assert client.get_nonce(owner.address) == 0 and client.get_balance(owner.address) == 0


def test_a_saved_chain_from_other_contracts_or_a_damaged_log_is_refused(tmp_path):
    log = tmp_path / "chain.jsonl"
    log.write_text('{"kind":"genesis","format":1,"genesis_ms":1700000000000,"contracts":"not-these"}\n')
    with pytest.raises(DevnetError, match="--reset"):
        Devnet(state_dir=tmp_path, startup_timeout=60).start()
    log.write_text("this is not json\n")
    with pytest.raises(DevnetError, match="not JSON"):
        Devnet(state_dir=tmp_path, startup_timeout=60).start()
    assert log.read_text() == "this is not json\n"  # nothing is overwritten without --reset
