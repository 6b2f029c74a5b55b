"""File hashing with nothing but hashlib, so code that only hashes (the re-pack check, the hash cache) need not
import the cryptography library that addon.farm.crypto loads. bpy-free."""

from __future__ import annotations

import hashlib
import os


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> bytes:
    # One reused buffer: no 1 MiB allocation (and its page faults) per read.
    h = hashlib.sha256()
    buf = bytearray(chunk_size)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.digest()
