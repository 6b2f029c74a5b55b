"""Recoverable secp256k1 signatures over 32-byte hashes: RFC 6979 nonces, low-S, as stacks.js makes them.

libsecp256k1 (through coincurve) signs deterministically with low-S, so the bytes match
@stacks/transactions exactly. Two layouts exist in Stacks: VRS (transactions) and RSV (messages).
"""

import coincurve

from .errors import InvalidKeyError, SigningError
from .keys import parse_private_key, parse_public_key


def _check_hash(digest: bytes) -> None:
    if not isinstance(digest, (bytes, bytearray)) or len(digest) != 32:
        raise SigningError("only a 32-byte hash can be signed")


def sign_hash_rsv(digest: bytes, private_key) -> bytes:
    """65 bytes r ‖ s ‖ recovery id."""
    _check_hash(digest)
    key = parse_private_key(private_key)
    return coincurve.PrivateKey(key.secret).sign_recoverable(bytes(digest), hasher=None)


def sign_hash_vrs(digest: bytes, private_key) -> bytes:
    """65 bytes recovery id ‖ r ‖ s, the layout of a transaction's spending condition."""
    rsv = sign_hash_rsv(digest, private_key)
    return rsv[64:] + rsv[:64]


def vrs_to_rsv(signature: bytes) -> bytes:
    return signature[1:] + signature[:1]


def rsv_to_vrs(signature: bytes) -> bytes:
    return signature[64:] + signature[:64]


def recover_public_key_rsv(digest: bytes, signature: bytes, compressed: bool = True) -> bytes:
    _check_hash(digest)
    if len(signature) != 65:
        raise SigningError(f"a recoverable signature is 65 bytes, got {len(signature)}")
    if signature[64] > 3:
        raise SigningError(f"recovery id {signature[64]} is invalid (must be 0..3)")
    try:
        key = coincurve.PublicKey.from_signature_and_message(bytes(signature), bytes(digest), hasher=None)
    except (ValueError, TypeError, Exception) as e:  # libsecp256k1 reports bad signatures as generic errors
        raise SigningError(f"signature does not recover to a public key: {e}") from None
    return key.format(compressed=compressed)


def verify_hash_rsv(digest: bytes, signature: bytes, public_key) -> bool:
    """True when the signature over digest was made by public_key (low-S enforced)."""
    try:
        pub = parse_public_key(public_key)
        recovered = recover_public_key_rsv(digest, signature)
    except (SigningError, InvalidKeyError):
        return False
    return is_low_s(signature) and recovered == pub.format(compressed=True)


_HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def is_low_s(signature_rsv: bytes) -> bool:
    """Stacks accepts only low-S signatures: the high-S twin of a valid signature is malleated."""
    return int.from_bytes(signature_rsv[32:64], "big") <= _HALF_ORDER
