"""Streaming encryption: AES-256-GCM in fixed-size segments, HKDF key derivation, ECDH on secp256k1.

Ciphertext format (the relay only ever stores this):

    header   28 bytes  magic "RFSE" | version u8 | 3 zero bytes | segment size u32 BE | salt 16 bytes
    segment  N times   AES-256-GCM(segment key, nonce_i, plaintext_i, aad=header) = ciphertext_i || tag16

The segment key is HKDF(key, salt). Nonce_i is the segment index (u64 BE) followed by a u32 that is 1
only on the last segment, so dropping, reordering or truncating segments fails authentication
("STREAM" construction). Every segment but the last holds exactly `segment size` plaintext bytes; an
empty plaintext is one empty final segment. Memory use is one segment, whatever the file size.

Files use convergent keys: key = HKDF(requester secret, sha256(plaintext)) with an all-zero salt, so the
same file of the same requester always becomes the same ciphertext (same blob id, nothing re-uploaded)
while other requesters cannot confirm its content. Manifests and previews use a random salt under a key
derived from the ECDH secret of requester and provider and the job id.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..stacks.keys import parse_private_key
from .hashing import sha256_file  # noqa: F401 - re-exported: callers hash files through crypto too

MAGIC = b"RFSE"
VERSION = 1
HEADER_SIZE = 28
TAG_SIZE = 16
SALT_SIZE = 16
DEFAULT_SEGMENT_SIZE = 1 << 20
MAX_SEGMENT_SIZE = 1 << 26
CONVERGENT_SALT = bytes(SALT_SIZE)


class DecryptionError(ValueError):
    """Ciphertext is malformed, truncated, reordered, tampered with, or the key is wrong."""


def hkdf(ikm: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


# ---- keys -------------------------------------------------------------------------------------------


def requester_file_secret(private_key_hex: str) -> bytes:
    """The requester's convergent-encryption secret, derived so the raw wallet key is never used as a key."""
    return hkdf(_private_key_bytes(private_key_hex), salt=b"render-farm/v1", info=b"convergent-file-secret")


def file_key(requester_secret: bytes, plaintext_sha256: bytes) -> bytes:
    """Convergent key of one file: same requester + same content => same key => same ciphertext."""
    if len(plaintext_sha256) != 32:
        raise ValueError("plaintext_sha256 must be the 32-byte digest")
    return hkdf(requester_secret, salt=b"render-farm/v1", info=b"file-key|" + plaintext_sha256)


def ecdh_shared_secret(private_key_hex: str, peer_public_key: bytes) -> bytes:
    """x-coordinate of priv * peer on secp256k1 (same value from either side)."""
    priv = ec.derive_private_key(int.from_bytes(_private_key_bytes(private_key_hex), "big"), ec.SECP256K1())
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), bytes(peer_public_key))
    except ValueError as exc:
        raise ValueError(f"peer public key is not a valid secp256k1 point: {exc}") from None
    return priv.exchange(ec.ECDH(), peer)


def job_key(shared_secret: bytes, job_id: int, purpose: str, extra: bytes = b"") -> bytes:
    """Key for one purpose of one job ("scene-manifest", "result-manifest", "preview", "frame", ...).

    `extra` mixes in more secret material, e.g. the provider's revealed `r` for frames.
    """
    if job_id < 0:
        raise ValueError("job_id must be non-negative")
    info = b"job|" + job_id.to_bytes(16, "big") + b"|" + purpose.encode() + b"|" + extra
    return hkdf(shared_secret, salt=b"render-farm/v1", info=info)


def _private_key_bytes(private_key_hex: str) -> bytes:
    return parse_private_key(private_key_hex).secret


# ---- segment format ---------------------------------------------------------------------------------


def ciphertext_size(plaintext_size: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    segments = max(1, -(-plaintext_size // segment_size))
    return HEADER_SIZE + plaintext_size + segments * TAG_SIZE


def _header(segment_size: int, salt: bytes) -> bytes:
    if not 0 < segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment size must be in 1..{MAX_SEGMENT_SIZE}")
    if len(salt) != SALT_SIZE:
        raise ValueError(f"salt must be {SALT_SIZE} bytes")
    return MAGIC + bytes([VERSION]) + bytes(3) + struct.pack(">I", segment_size) + salt


def _parse_header(header: bytes) -> tuple[int, bytes]:
    if len(header) < HEADER_SIZE:
        raise DecryptionError("ciphertext is shorter than its header")
    if header[:4] != MAGIC or header[4] != VERSION:
        raise DecryptionError("not a render-farm ciphertext (bad magic or version)")
    (segment_size,) = struct.unpack(">I", header[8:12])
    if not 0 < segment_size <= MAX_SEGMENT_SIZE:
        raise DecryptionError("ciphertext header has an invalid segment size")
    return segment_size, header[12:HEADER_SIZE]


def _nonce(index: int, final: bool) -> bytes:
    return struct.pack(">QI", index, 1 if final else 0)


def _segment_cipher(key: bytes, salt: bytes) -> AESGCM:
    if len(key) != 32:
        raise ValueError("key must be 32 bytes (AES-256)")
    return AESGCM(hkdf(key, salt=salt, info=b"segments"))


def _read_exact(src: BinaryIO, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        b = src.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts) if len(parts) != 1 else parts[0]


# ---- encryption -------------------------------------------------------------------------------------


def iter_encrypt(
    key: bytes,
    src: BinaryIO,
    *,
    salt: bytes | None = None,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    start_offset: int = 0,
) -> Iterator[bytes]:
    """Yield the ciphertext of `src` (read from its current position) from ciphertext byte `start_offset`.

    Resuming mid-file costs one segment: the plaintext is seeked to the segment holding the offset.
    `salt=None` means the convergent (all-zero) salt; pass `os.urandom(16)` for one-off messages.
    """
    salt = CONVERGENT_SALT if salt is None else salt
    header = _header(segment_size, salt)
    aead = _segment_cipher(key, salt)
    index, skip = 0, 0
    if start_offset < HEADER_SIZE:
        yield header[start_offset:]
    else:
        index, skip = divmod(start_offset - HEADER_SIZE, segment_size + TAG_SIZE)
        src.seek(src.tell() + index * segment_size)
    current = _read_exact(src, segment_size)
    while True:
        following = _read_exact(src, segment_size) if len(current) == segment_size else b""
        final = not following
        out = aead.encrypt(_nonce(index, final), current, header)
        if skip:
            out, skip = out[skip:], 0
        if out:
            yield out
        if final:
            return
        current, index = following, index + 1


def iter_encrypt_views(
    key: bytes,
    src: BinaryIO,
    *,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    start_offset: int = 0,
) -> Iterator[memoryview]:
    """The same bytes as `iter_encrypt` (convergent salt), for streaming to a socket at memory speed.

    Reads with `readinto` and encrypts with `encrypt_into`, into buffers reused for every segment: no
    allocation, zero-filling or page faults per MiB. Each view is only valid until the next one is
    requested, so send it (or copy it) before asking for more; never collect them in a list.
    """
    header = _header(segment_size, CONVERGENT_SALT)
    aead = _segment_cipher(key, CONVERGENT_SALT)
    index, skip = 0, 0
    if start_offset < HEADER_SIZE:
        yield memoryview(header)[start_offset:]
    else:
        index, skip = divmod(start_offset - HEADER_SIZE, segment_size + TAG_SIZE)
        src.seek(src.tell() + index * segment_size)
    # Two plaintext buffers: the one after the current segment must be read to know whether it is last.
    current, following = memoryview(bytearray(segment_size)), memoryview(bytearray(segment_size))
    out = memoryview(bytearray(segment_size + TAG_SIZE))
    n = _readinto_exact(src, current)
    while True:
        n_next = _readinto_exact(src, following) if n == segment_size else 0
        final = n_next == 0
        aead.encrypt_into(_nonce(index, final), current[:n], header, out[: n + TAG_SIZE])
        if skip < n + TAG_SIZE:
            yield out[skip : n + TAG_SIZE]
        skip = 0
        if final:
            return
        current, following, n, index = following, current, n_next, index + 1


def _readinto_exact(src: BinaryIO, view: memoryview) -> int:
    got = 0
    while got < len(view):
        n = src.readinto(view[got:])
        if not n:
            break
        got += n
    return got


def encrypt_stream(key: bytes, src: BinaryIO, dst: BinaryIO, **kwargs) -> int:
    written = 0
    for chunk in iter_encrypt(key, src, **kwargs):
        dst.write(chunk)
        written += len(chunk)
    return written


def encrypt_bytes(key: bytes, plaintext: bytes, *, salt: bytes | None = None, **kwargs) -> bytes:
    import io

    return b"".join(iter_encrypt(key, io.BytesIO(plaintext), salt=salt, **kwargs))


def encrypt_message(key: bytes, plaintext: bytes) -> bytes:
    """One-off message (manifest, preview) under a reusable key: a random salt keeps nonces unique."""
    return encrypt_bytes(key, plaintext, salt=os.urandom(SALT_SIZE))


# ---- decryption -------------------------------------------------------------------------------------


def iter_decrypt(key: bytes, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decrypt ciphertext arriving in chunks of any size (e.g. an HTTP body); yields plaintext segments.

    Raises DecryptionError on any tampering, truncation or extra trailing data.
    """
    buf = bytearray()
    it = iter(chunks)
    for chunk in it:
        buf += chunk
        if len(buf) >= HEADER_SIZE:
            break
    header = bytes(buf[:HEADER_SIZE])
    segment_size, salt = _parse_header(header)
    aead = _segment_cipher(key, salt)
    del buf[:HEADER_SIZE]
    full = segment_size + TAG_SIZE
    index = 0

    def open_segment(data: bytes, final: bool) -> bytes:
        try:
            return aead.decrypt(_nonce(index, final), data, header)
        except InvalidTag:
            if not final:
                raise DecryptionError(f"segment {index} failed authentication (tampered or wrong key)") from None
            raise DecryptionError(
                f"segment {index} failed authentication as the final segment: "
                "the ciphertext is truncated, tampered with, or the key is wrong"
            ) from None

    pending = it
    while True:
        # Only a segment with more bytes after it is known to be non-final.
        while len(buf) > full:
            yield open_segment(bytes(buf[:full]), False)
            del buf[:full]
            index += 1
        chunk = next(pending, None)
        if chunk is None:
            break
        buf += chunk
    if len(buf) < TAG_SIZE:
        raise DecryptionError("ciphertext is truncated (final segment missing)")
    yield open_segment(bytes(buf), True)


def _file_chunks(src: BinaryIO, size: int = DEFAULT_SEGMENT_SIZE + TAG_SIZE) -> Iterator[bytes]:
    while chunk := src.read(size):
        yield chunk


def decrypt_stream(key: bytes, src: BinaryIO, dst: BinaryIO) -> int:
    written = 0
    for plain in iter_decrypt(key, _file_chunks(src)):
        dst.write(plain)
        written += len(plain)
    return written


def decrypt_bytes(key: bytes, ciphertext: bytes) -> bytes:
    return b"".join(iter_decrypt(key, [ciphertext]))
