"""Messages signed with the Stacks message prefix (as stacks.js signMessageHashRsv / verifyMessageSignatureRsv).

The relay authenticates every request with these signatures.
"""

import hashlib

from .errors import SigningError
from .signing import recover_public_key_rsv, sign_hash_rsv, verify_hash_rsv

MESSAGE_PREFIX = b"\x17Stacks Signed Message:\n"


def _varint(n: int) -> bytes:
    """Bitcoin's compact size, used for the message length."""
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def _message_bytes(message) -> bytes:
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise SigningError(f"a message is str or bytes, got {type(message).__name__}")


def encode_message(message) -> bytes:
    data = _message_bytes(message)
    return MESSAGE_PREFIX + _varint(len(data)) + data


def hash_message(message) -> bytes:
    return hashlib.sha256(encode_message(message)).digest()


def _signature_bytes(signature) -> bytes:
    if isinstance(signature, str):
        try:
            signature = bytes.fromhex(signature.removeprefix("0x"))
        except ValueError:
            raise SigningError("signature is not valid hex") from None
    if len(signature) != 65:
        raise SigningError(f"a message signature is 65 bytes (130 hex digits), got {len(signature)}")
    return bytes(signature)


def sign_message(message, private_key) -> str:
    """RSV signature as 130 hex digits."""
    return sign_hash_rsv(hash_message(message), private_key).hex()


def recover_public_key(message, signature, compressed: bool = True) -> bytes:
    return recover_public_key_rsv(hash_message(message), _signature_bytes(signature), compressed)


def verify_message(message, signature, public_key) -> bool:
    try:
        sig = _signature_bytes(signature)
    except SigningError:
        return False
    return verify_hash_rsv(hash_message(message), sig, public_key)
