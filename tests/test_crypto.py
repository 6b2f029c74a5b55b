"""Segment encryption, convergent keys and ECDH: round trips, determinism, tamper and truncation detection."""

import hashlib
import io
import os
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addon.farm import crypto
from addon.stacks.keys import make_private_key, public_key_from_private_key

KEY = bytes(range(32))


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=3000), segment_size=st.integers(1, 700), salt=st.binary(min_size=16, max_size=16)
)
def test_round_trip_any_size_and_segmenting(data, segment_size, salt):
    ct = crypto.encrypt_bytes(KEY, data, salt=salt, segment_size=segment_size)
    assert len(ct) == crypto.ciphertext_size(len(data), segment_size)
    assert crypto.decrypt_bytes(KEY, ct) == data
    # Any chunking of the incoming ciphertext decrypts the same.
    chunks = [ct[i : i + 7] for i in range(0, len(ct), 7)]
    assert b"".join(crypto.iter_decrypt(KEY, chunks)) == data


@settings(max_examples=40, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=2000), segment_size=st.integers(1, 300), cut=st.integers(0, 10_000)
)
def test_resume_from_any_ciphertext_offset(data, segment_size, cut):
    full = crypto.encrypt_bytes(KEY, data, segment_size=segment_size)
    offset = cut % len(full)
    tail = b"".join(
        crypto.iter_encrypt(KEY, io.BytesIO(data), segment_size=segment_size, start_offset=offset)
    )
    assert tail == full[offset:]


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=2000), segment_size=st.integers(1, 300), cut=st.integers(0, 10_000)
)
def test_reused_buffer_encryption_matches_from_any_offset(data, segment_size, cut):
    full = crypto.encrypt_bytes(KEY, data, segment_size=segment_size)
    offset = cut % len(full)
    # Copy each view before the next is produced: the buffers are reused.
    views = crypto.iter_encrypt_views(KEY, io.BytesIO(data), segment_size=segment_size, start_offset=offset)
    assert b"".join(bytes(v) for v in views) == full[offset:]


def test_convergent_same_requester_same_blob_other_requester_differs():
    plain = os.urandom(5000)
    digest = hashlib.sha256(plain).digest()
    alice, bob = (
        crypto.requester_file_secret(make_private_key()),
        crypto.requester_file_secret(make_private_key()),
    )
    a1 = crypto.encrypt_bytes(crypto.file_key(alice, digest), plain)
    a2 = crypto.encrypt_bytes(crypto.file_key(alice, digest), plain)
    b1 = crypto.encrypt_bytes(crypto.file_key(bob, digest), plain)
    assert a1 == a2
    assert a1 != b1
    assert plain not in a1


def test_messages_under_one_key_get_distinct_salts():
    m1, m2 = crypto.encrypt_message(KEY, b"same"), crypto.encrypt_message(KEY, b"same")
    assert m1 != m2
    assert crypto.decrypt_bytes(KEY, m1) == crypto.decrypt_bytes(KEY, m2) == b"same"


def _segments(ct, segment_size):
    body = ct[crypto.HEADER_SIZE :]
    step = segment_size + crypto.TAG_SIZE
    return ct[: crypto.HEADER_SIZE], [body[i : i + step] for i in range(0, len(body), step)]


def test_tamper_truncate_reorder_extend_and_wrong_key_are_detected():
    seg = 64
    data = os.urandom(seg * 4 + 10)
    ct = crypto.encrypt_bytes(KEY, data, segment_size=seg)
    header, segs = _segments(ct, seg)
    assert len(segs) == 5
    flipped = bytearray(ct)
    flipped[crypto.HEADER_SIZE + 3] ^= 1
    cases = {
        "bit flip": bytes(flipped),
        "header segment size changed": header[:11] + bytes([header[11] ^ 1]) + header[12:] + b"".join(segs),
        "truncated at a segment boundary": header + b"".join(segs[:3]),
        "truncated mid-segment": ct[:-5],
        "last segment dropped after full one": header + b"".join(segs[:4]),
        "segments swapped": header + segs[1] + segs[0] + b"".join(segs[2:]),
        "trailing data": ct + b"x" * 20,
        "empty": b"",
        "header only": header,
    }
    for name, bad in cases.items():
        with pytest.raises(crypto.DecryptionError):
            crypto.decrypt_bytes(KEY, bad)
            pytest.fail(name)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes(bytes(32), ct)


def test_full_final_segment_cannot_be_truncated_to_earlier_boundary():
    seg = 32
    data = os.urandom(seg * 3)  # exact multiple: the last full segment carries the final flag
    ct = crypto.encrypt_bytes(KEY, data, segment_size=seg)
    header, segs = _segments(ct, seg)
    assert len(segs) == 3
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_bytes(KEY, header + segs[0] + segs[1])


def test_ecdh_both_sides_agree_and_job_keys_separate_purposes():
    requester, provider = make_private_key(), make_private_key()
    s1 = crypto.ecdh_shared_secret(requester, public_key_from_private_key(provider))
    s2 = crypto.ecdh_shared_secret(provider, public_key_from_private_key(requester))
    assert s1 == s2 and len(s1) == 32
    k_scene = crypto.job_key(s1, 7, "scene-manifest")
    assert k_scene == crypto.job_key(s2, 7, "scene-manifest")
    assert k_scene != crypto.job_key(s1, 8, "scene-manifest")
    assert k_scene != crypto.job_key(s1, 7, "result-manifest")
    assert crypto.job_key(s1, 7, "frame", b"r1") != crypto.job_key(s1, 7, "frame", b"r2")
    manifest = b'{"files": []}'
    assert crypto.decrypt_bytes(k_scene, crypto.encrypt_message(k_scene, manifest)) == manifest
    with pytest.raises(ValueError):
        crypto.ecdh_shared_secret(requester, b"\x02" + bytes(32))


class _ZeroReader(io.RawIOBase):
    """A large plaintext that is never held in memory."""

    def __init__(self, size):
        self.size, self.pos = size, 0

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.size - self.pos)
        b[:n] = bytes(n)
        self.pos += n
        return n


def test_streaming_uses_constant_memory(tmp_path):
    size = 64 << 20
    out = tmp_path / "ct"
    tracemalloc.start()
    with open(out, "wb") as dst:
        written = crypto.encrypt_stream(KEY, io.BufferedReader(_ZeroReader(size)), dst)
    _, peak_enc = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    h = hashlib.sha256()

    class _HashSink:
        def write(self, b):
            h.update(b)

    with open(out, "rb") as src:
        plain = crypto.decrypt_stream(KEY, src, _HashSink())
    _, peak_dec = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert written == crypto.ciphertext_size(size) and plain == size
    assert h.digest() == hashlib.sha256(bytes(size)).digest()
    # A few segments at most, independent of the 64 MiB size.
    assert peak_enc < 8 * crypto.DEFAULT_SEGMENT_SIZE
    assert peak_dec < 8 * crypto.DEFAULT_SEGMENT_SIZE
