"""The fair exchange's keys and commitments (addon.farm.exchange)."""

import hashlib

import pytest

from addon.farm import exchange
from addon.stacks import keys


@pytest.fixture(scope="module")
def pair():
    requester, provider = keys.make_private_key(), keys.make_private_key()
    return (exchange.shared_secret(requester, keys.public_key_from_private_key(provider)),
            exchange.shared_secret(provider, keys.public_key_from_private_key(requester)))


def test_both_parties_derive_the_same_secret_and_nobody_else_does(pair):
    mine, theirs = pair
    assert mine == theirs and len(mine) == 32
    stranger = keys.make_private_key()
    assert exchange.shared_secret(stranger, keys.public_key_from_private_key(stranger)) != mine


def test_uncompressed_public_keys_give_the_same_secret():
    a, b = keys.make_private_key(), keys.make_private_key(compressed=False)
    assert exchange.shared_secret(a, keys.public_key_from_private_key(b)) == \
        exchange.shared_secret(b, keys.compress_public_key(keys.public_key_from_private_key(a)))


def test_every_purpose_job_and_salt_has_its_own_key(pair):
    shared, _ = pair
    r = exchange.new_reveal_secret()
    derived = [exchange.result_manifest_key(shared, 1), exchange.result_manifest_key(shared, 2),
               exchange.preview_key(shared, 1), exchange.preview_key(shared, 2),
               exchange.frames_secret(shared, 1, r), exchange.frames_secret(shared, 2, r),
               exchange.frames_secret(shared, 1, exchange.new_reveal_secret()),
               exchange.scene_manifest_key(shared, bytes(32)), exchange.scene_manifest_key(shared, b"\x01" * 32)]
    assert len(set(derived)) == len(derived) and all(len(k) == 32 for k in derived)
    assert exchange.frames_secret(shared, 1, r) == exchange.frames_secret(shared, 1, r)


def test_frame_keys_need_r_and_r_matches_its_commitment(pair):
    shared, _ = pair
    r = exchange.new_reveal_secret()
    assert len(r) == 32 and r != exchange.new_reveal_secret()
    assert exchange.commitment(r) == hashlib.sha256(r).digest()
    with pytest.raises(ValueError):
        exchange.frames_secret(shared, 1, r[:31])
    with pytest.raises(ValueError):
        exchange.scene_manifest_key(shared, b"short")
    assert exchange.result_hash(b"sealed result") == hashlib.sha256(b"sealed result").digest()
