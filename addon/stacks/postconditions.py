"""Post-conditions (SIP-005): what a transaction may move, checked by the node after execution.

Principals are plain strings: "origin" (the transaction's sender), "SP…" or "SP….contract".
Assets are "SP….contract::asset-name".
"""

from dataclasses import dataclass

from .clarity import ClarityValue, read_value, serialize
from .errors import DecodeError, StacksError
from .keys import parse_principal
from .wire import ByteReader, address_bytes, lp_string, read_address, read_contract_name, read_lp_string

# Post-condition types.
STX, FUNGIBLE, NON_FUNGIBLE, STAKING, POX = 0, 1, 2, 3, 4
# Fungible (STX, FT, staking) comparators, by name as stacks.js writes them.
FUNGIBLE_CODES = {"eq": 0x01, "gt": 0x02, "gte": 0x03, "lt": 0x04, "lte": 0x05}
# Non-fungible conditions.
NFT_CODES = {"sent": 0x10, "not-sent": 0x11, "maybe-sent": 0x12}
POX_CODES = {"will-not-perform": 0x30, "may-perform": 0x31, "will-perform": 0x32}
MAX_AMOUNT = 2**64 - 1

_PRINCIPAL_ORIGIN, _PRINCIPAL_STANDARD, _PRINCIPAL_CONTRACT = 0x01, 0x02, 0x03


def _code(table: dict, name: str, what: str) -> int:
    try:
        return table[name]
    except KeyError:
        raise StacksError(f"unknown {what} '{name}': use one of {', '.join(table)}") from None


def _name_of(table: dict, code: int, what: str) -> str:
    for name, value in table.items():
        if value == code:
            return name
    raise DecodeError(f"unknown {what} code 0x{code:02x}")


def _check_amount(amount: int) -> int:
    if not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
        raise StacksError(f"post-condition amount must fit in 64 bits, got {amount!r}")
    return amount


@dataclass(frozen=True)
class StxPostCondition:
    principal: str
    code: str
    amount: int


@dataclass(frozen=True)
class FungiblePostCondition:
    principal: str
    asset: str
    code: str
    amount: int


@dataclass(frozen=True)
class NonFungiblePostCondition:
    principal: str
    asset: str
    asset_value: ClarityValue
    code: str


@dataclass(frozen=True)
class StakingPostCondition:
    principal: str
    code: str
    amount: int


@dataclass(frozen=True)
class PoxPostCondition:
    principal: str
    code: str


PostCondition = (StxPostCondition | FungiblePostCondition | NonFungiblePostCondition
                 | StakingPostCondition | PoxPostCondition)


def stx_post_condition(principal: str, code: str, amount: int) -> StxPostCondition:
    _code(FUNGIBLE_CODES, code, "comparator")
    _validate_principal(principal)
    return StxPostCondition(principal, code, _check_amount(amount))


def ft_post_condition(principal: str, asset: str, code: str, amount: int) -> FungiblePostCondition:
    _code(FUNGIBLE_CODES, code, "comparator")
    _validate_principal(principal)
    _split_asset(asset)
    return FungiblePostCondition(principal, asset, code, _check_amount(amount))


def nft_post_condition(principal: str, asset: str, asset_value: ClarityValue, code: str) -> NonFungiblePostCondition:
    _code(NFT_CODES, code, "NFT condition")
    _validate_principal(principal)
    _split_asset(asset)
    return NonFungiblePostCondition(principal, asset, asset_value, code)


def _validate_principal(principal: str) -> None:
    if principal != "origin":
        parse_principal(principal)


def _split_asset(asset: str) -> tuple[str, str, str]:
    contract, sep, name = asset.partition("::")
    address, contract_name = parse_principal(contract, strict=False)
    if not sep or not contract_name or not name:
        raise StacksError(f"asset '{asset}' must look like ADDRESS.contract::asset-name")
    return address, contract_name, name


# ---- wire format ----------------------------------------------------------------------------------




def _principal_bytes(principal: str) -> bytes:
    if principal == "origin":
        return bytes([_PRINCIPAL_ORIGIN])
    address, name = parse_principal(principal, strict=False)
    if name is None:
        return bytes([_PRINCIPAL_STANDARD]) + address_bytes(address)
    return bytes([_PRINCIPAL_CONTRACT]) + address_bytes(address) + lp_string(name)


def serialize_post_condition(pc: PostCondition) -> bytes:
    match pc:
        case StxPostCondition():
            return (bytes([STX]) + _principal_bytes(pc.principal) + bytes([FUNGIBLE_CODES[pc.code]])
                    + pc.amount.to_bytes(8, "big"))
        case FungiblePostCondition():
            return (bytes([FUNGIBLE]) + _principal_bytes(pc.principal) + _asset_bytes(pc.asset)
                    + bytes([FUNGIBLE_CODES[pc.code]]) + pc.amount.to_bytes(8, "big"))
        case NonFungiblePostCondition():
            return (bytes([NON_FUNGIBLE]) + _principal_bytes(pc.principal) + _asset_bytes(pc.asset)
                    + serialize(pc.asset_value) + bytes([NFT_CODES[pc.code]]))
        case StakingPostCondition():
            return (bytes([STAKING]) + _principal_bytes(pc.principal) + bytes([FUNGIBLE_CODES[pc.code]])
                    + pc.amount.to_bytes(8, "big"))
        case PoxPostCondition():
            return bytes([POX]) + _principal_bytes(pc.principal) + bytes([POX_CODES[pc.code]])
    raise StacksError(f"{pc!r} is not a post-condition")


def _asset_bytes(asset: str) -> bytes:
    address, contract_name, name = _split_asset(asset)
    return address_bytes(address) + lp_string(contract_name) + lp_string(name)








def _read_principal(r: ByteReader) -> str:
    kind = r.u8()
    if kind == _PRINCIPAL_ORIGIN:
        return "origin"
    if kind == _PRINCIPAL_STANDARD:
        return read_address(r)
    if kind == _PRINCIPAL_CONTRACT:
        address = read_address(r)
        return f"{address}.{read_contract_name(r)}"
    raise DecodeError(f"unknown post-condition principal type 0x{kind:02x}")


def _read_asset(r: ByteReader) -> str:
    address = read_address(r)
    contract = read_contract_name(r)
    name = read_lp_string(r, "asset name")
    if not name:
        raise DecodeError("asset name is empty")
    return f"{address}.{contract}::{name}"


def read_post_condition(r: ByteReader) -> PostCondition:
    kind = r.u8()
    if kind > POX:
        raise DecodeError(f"unknown post-condition type 0x{kind:02x}")
    principal = _read_principal(r)
    if kind == STX:
        return StxPostCondition(principal, _name_of(FUNGIBLE_CODES, r.u8(), "comparator"), r.u64())
    if kind == FUNGIBLE:
        asset = _read_asset(r)
        return FungiblePostCondition(principal, asset, _name_of(FUNGIBLE_CODES, r.u8(), "comparator"), r.u64())
    if kind == NON_FUNGIBLE:
        asset = _read_asset(r)
        value = read_value(r)
        return NonFungiblePostCondition(principal, asset, value, _name_of(NFT_CODES, r.u8(), "NFT condition"))
    if kind == STAKING:
        return StakingPostCondition(principal, _name_of(FUNGIBLE_CODES, r.u8(), "comparator"), r.u64())
    return PoxPostCondition(principal, _name_of(POX_CODES, r.u8(), "PoX condition"))
