"""A client for the Stacks node RPC and API (the subset the farm uses), over httpx.

Works unchanged against the local devnet, testnet and mainnet. Every HTTP failure becomes a
StacksError subclass whose message says what to do next.
"""

import time
from dataclasses import dataclass

import httpx

from . import clarity
from .clarity import ClarityValue
from .errors import (
    ApiError,
    InvalidAddressError,
    NetworkError,
    TransactionFailed,
    TransactionRejected,
    TransactionTimeout,
)
from .keys import parse_principal
from .network import Network, get_network
from .transactions import Transaction, serialize_payload

FAILED_STATUSES = ("abort_by_response", "abort_by_post_condition")


@dataclass(frozen=True)
class Account:
    balance: int  # micro-STX, spendable + locked
    locked: int
    nonce: int


@dataclass(frozen=True)
class TxResult:
    txid: str
    status: str
    result: ClarityValue | None
    block_height: int | None
    raw: dict


class ReadOnlyCallError(ApiError):
    """A read-only call was refused or failed inside the VM."""


def _clean_txid(txid: str) -> str:
    return txid.removeprefix("0x").lower()


class StacksClient:
    def __init__(self, network: str | Network = "devnet", api_url: str | None = None, timeout: float = 30.0,
                 client: httpx.Client | None = None):
        self.network = get_network(network, api_url)
        self.base_url = self.network.api_url
        self._http = client or httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- transport ----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise NetworkError(f"the Stacks node at {self.base_url} did not answer {method} {path} in time; "
                               "check it is running and reachable, then retry") from None
        except httpx.HTTPError as e:
            raise NetworkError(f"cannot reach the Stacks node at {self.base_url} ({e.__class__.__name__}: {e}); "
                               "is it running? For the local chain start it with `python -m server devnet`") from None
        return response

    def _json(self, method: str, path: str, ok_statuses=(200,), **kwargs):
        response = self._request(method, path, **kwargs)
        if response.status_code not in ok_statuses:
            raise ApiError(f"{method} {path} failed with HTTP {response.status_code}: {_error_text(response)}",
                           response.status_code, _body(response))
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{method} {path} answered with something that is not JSON: {response.text[:200]!r}",
                           response.status_code, response.text) from None

    # ---- chain and accounts -------------------------------------------------------------------------

    def get_info(self) -> dict:
        return self._json("GET", "/v2/info")

    def get_account(self, address: str) -> Account:
        parse_principal(address)
        data = self._json("GET", f"/v2/accounts/{address}", params={"proof": 0})
        return Account(int(data["balance"], 16), int(data.get("locked", "0x0"), 16), int(data["nonce"]))

    def get_balance(self, address: str) -> int:
        return self.get_account(address).balance

    def get_nonce(self, address: str) -> int:
        """The next nonce to use, counting transactions still in the mempool."""
        parse_principal(address)
        try:
            data = self._json("GET", f"/extended/v1/address/{address}/nonces")
            return int(data["possible_next_nonce"])
        except ApiError as e:
            if e.status != 404:
                raise
            return self.get_account(address).nonce  # a bare node without the extended API

    # ---- transactions -------------------------------------------------------------------------------

    def broadcast(self, tx: Transaction | bytes) -> str:
        raw = tx.serialize() if isinstance(tx, Transaction) else bytes(tx)
        response = self._request("POST", "/v2/transactions", content=raw,
                                 headers={"Content-Type": "application/octet-stream"})
        if response.status_code == 200:
            try:
                return _clean_txid(response.json())
            except (ValueError, AttributeError):
                return _clean_txid(response.text.strip().strip('"'))
        body = _body(response)
        reason = body.get("reason", "") if isinstance(body, dict) else ""
        detail = body.get("reason_data") if isinstance(body, dict) else None
        hint = _REJECTION_HINTS.get(reason, "")
        raise TransactionRejected(
            f"the node rejected the transaction: {reason or _error_text(response)}"
            + (f" {detail}" if detail else "") + (f" — {hint}" if hint else ""),
            response.status_code, body, reason, body.get("txid", "") if isinstance(body, dict) else "",
        )

    def get_transaction(self, txid: str) -> dict | None:
        response = self._request("GET", f"/extended/v1/tx/0x{_clean_txid(txid)}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ApiError(f"reading transaction {txid} failed with HTTP {response.status_code}: "
                           f"{_error_text(response)}", response.status_code, _body(response))
        return response.json()

    def wait_for_tx(self, txid: str, timeout: float = 120.0, poll: float = 0.5) -> TxResult:
        """Wait until the transaction is mined; raise TransactionFailed if it aborted or was dropped."""
        deadline = time.monotonic() + timeout
        txid = _clean_txid(txid)
        while True:
            data = self.get_transaction(txid)
            status = data.get("tx_status", "pending") if data else "pending"
            if status != "pending":
                return _tx_result(txid, status, data)
            if time.monotonic() >= deadline:
                raise TransactionTimeout(f"transaction 0x{txid} was not confirmed within {timeout:.0f} s; "
                                         "it may still confirm: check it later or raise the fee")
            time.sleep(poll)

    def submit(self, tx: Transaction, timeout: float = 120.0) -> TxResult:
        """Broadcast and wait for the transaction to succeed."""
        return self.wait_for_tx(self.broadcast(tx), timeout)

    def estimate_fee(self, tx: Transaction) -> int:
        """The middle fee estimate for this transaction, or a per-byte fallback when the node has none."""
        length = len(tx.serialize())
        try:
            data = self._json("POST", "/v2/fees/transaction", json={
                "transaction_payload": "0x" + serialize_payload(tx.payload).hex(), "estimated_len": length})
            estimations = data.get("estimations") or []
            if estimations:
                return int(estimations[len(estimations) // 2]["fee"])
        except ApiError:
            pass  # nodes answer 400 when they have no estimate yet
        rate = self._json("GET", "/v2/fees/transfer")
        return max(int(rate) * length, 180)

    # ---- contract state -----------------------------------------------------------------------------

    def call_read_only(self, contract_id: str, function: str, args=(), sender: str | None = None) -> ClarityValue:
        address, name = _contract(contract_id)
        body = {"sender": sender or address, "arguments": [clarity.to_hex(a) for a in args]}
        data = self._json("POST", f"/v2/contracts/call-read/{address}/{name}/{function}", json=body)
        if not data.get("okay"):
            raise ReadOnlyCallError(f"read-only call {contract_id}::{function} failed: {data.get('cause')}",
                                    200, data)
        return clarity.from_hex(data["result"])

    def get_data_var(self, contract_id: str, var: str) -> ClarityValue:
        address, name = _contract(contract_id)
        data = self._json("GET", f"/v2/data_var/{address}/{name}/{var}", params={"proof": 0})
        return clarity.from_hex(data["data"])

    def get_map_entry(self, contract_id: str, map_name: str, key: ClarityValue) -> ClarityValue | None:
        """The entry's value, or None when the map has no such key."""
        address, name = _contract(contract_id)
        data = self._json("POST", f"/v2/map_entry/{address}/{name}/{map_name}", params={"proof": 0},
                          json=clarity.to_hex(key))
        value = clarity.from_hex(data["data"])
        return value.value if isinstance(value, clarity.Some) else None


_REJECTION_HINTS = {
    "BadNonce": "another transaction from this account used the nonce; fetch the next nonce and rebuild",
    "NotEnoughFunds": "the account cannot pay the amount plus the fee; fund it first",
    "FeeTooLow": "raise the fee (see estimate_fee)",
    "SignatureValidation": "the transaction was signed with the wrong key or for another network",
    "NoSuchContract": "the contract is not deployed on this network; check the contract id and network",
    "BadAddressVersionByte": "the address belongs to another network (mainnet vs testnet)",
}


def _contract(contract_id: str) -> tuple[str, str]:
    address, name = parse_principal(contract_id)
    if not name:
        raise InvalidAddressError(f"'{contract_id}' is not a contract id (ADDRESS.contract-name)")
    return address, name


def _body(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text


def _error_text(response: httpx.Response) -> str:
    body = _body(response)
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body.get("reason") or body)
    return str(body)[:300]


def _tx_result(txid: str, status: str, data: dict) -> TxResult:
    result_hex = (data.get("tx_result") or {}).get("hex")
    result = clarity.from_hex(result_hex) if result_hex else None
    out = TxResult(txid, status, result, data.get("block_height"), data)
    if status == "success":
        return out
    shown = clarity.to_repr(result) if result is not None else "no result"
    if status in FAILED_STATUSES:
        why = "a post-condition failed" if status == "abort_by_post_condition" else f"the call returned {shown}"
        raise TransactionFailed(f"transaction 0x{txid} failed: {why}", txid, status, result)
    raise TransactionFailed(f"transaction 0x{txid} was dropped ({status}); rebuild it with a fresh nonce",
                            txid, status, result)
