"""Crockford base-32 with checksum (c32check), the encoding of Stacks addresses."""

import hashlib
from functools import lru_cache

from .errors import InvalidAddressError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
# c32check accepts the usual Crockford look-alikes, as the JS implementation does.
_NORMALIZE = str.maketrans({"O": "0", "L": "1", "I": "1"})


def _checksum(version: int, data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(bytes([version]) + data).digest()).digest()[:4]


def c32_encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    digits = []
    while n:
        n, r = divmod(n, 32)
        digits.append(ALPHABET[r])
    leading_zero_bytes = len(data) - len(data.lstrip(b"\0"))
    return "0" * leading_zero_bytes + "".join(reversed(digits))


def c32_decode(text: str) -> bytes:
    text = text.upper().translate(_NORMALIZE)
    n = 0
    for ch in text:
        if ch not in _INDEX:
            raise InvalidAddressError(f"'{ch}' is not a c32 character")
        n = n * 32 + _INDEX[ch]
    leading_zero_chars = len(text) - len(text.lstrip("0"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * leading_zero_chars + body


def c32check_encode(version: int, data: bytes) -> str:
    if not 0 <= version < 32:
        raise InvalidAddressError(f"c32check version must be 0..31, got {version}")
    return ALPHABET[version] + c32_encode(data + _checksum(version, data))


def c32check_decode(text: str) -> tuple[int, bytes]:
    if len(text) < 2:
        raise InvalidAddressError(f"'{text}' is too short for c32check")
    text = text.upper().translate(_NORMALIZE)
    if text[0] not in _INDEX:
        raise InvalidAddressError(f"'{text[0]}' is not a c32 version character")
    version = _INDEX[text[0]]
    raw = c32_decode(text[1:])
    if len(raw) < 4:
        raise InvalidAddressError(f"'{text}' is too short to hold a checksum")
    data, checksum = raw[:-4], raw[-4:]
    if _checksum(version, data) != checksum:
        raise InvalidAddressError(f"'{text}' has a bad checksum (typo in the address?)")
    return version, data


# Addresses repeat constantly (the same contract, the same providers): cache both directions.
@lru_cache(maxsize=4096)
def c32_address(version: int, hash160: bytes) -> str:
    if len(hash160) != 20:
        raise InvalidAddressError(f"an address hash is 20 bytes, got {len(hash160)}")
    return "S" + c32check_encode(version, hash160)


@lru_cache(maxsize=4096)
def c32_address_decode(address: str) -> tuple[int, bytes]:
    if not isinstance(address, str) or len(address) < 5 or address[0] not in "Ss":
        raise InvalidAddressError(f"'{address}' is not a Stacks address (they start with S)")
    if len(address) > 128:
        raise InvalidAddressError("address is too long")
    version, data = c32check_decode(address[1:])
    if len(data) != 20:
        raise InvalidAddressError(f"'{address}' does not hold a 20-byte hash")
    return version, data
