"""Malformed input raises a clear StacksError, never a wrong value; a fuzz run shows it."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addon.stacks import clarity as c
from addon.stacks import keys, message
from addon.stacks import transactions as tx
from addon.stacks.errors import DecodeError, InvalidAddressError, InvalidKeyError, StacksError
from tests.stacks_oracle import OracleError, from_tagged
from tests.strategies import clarity_values
from tests.test_stacks_vectors import ADDR, EDGE_VALUES, KEY, PC_CASES

SAMPLE_TX = tx.make_contract_call(ADDR, "render-farm", "create-job", [c.UInt(1), c.Tuple({"a": c.List([c.NONE])})],
                                  private_key=KEY, nonce=1, fee=1000,
                                  post_conditions=PC_CASES["stx-gt-lte"] + PC_CASES["nft-sent"] + PC_CASES["ft"])


# ---- Clarity values -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", EDGE_VALUES[::3], ids=lambda v: c.to_repr(v)[:30])
def test_every_truncation_of_a_value_is_refused(value):
    data = c.serialize(value)
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            c.deserialize(data[:cut])


@pytest.mark.parametrize("data, why", [
    (b"\x0f", "unknown Clarity type prefix 0x0f"),
    (b"\xff" + bytes(16), "unknown Clarity type prefix 0xff"),
    (b"\x02\xff\xff\xff\xff", "exceeds the 1 MiB value limit"),
    (b"\x02\x00\x00\x00\x05ab", "claims 5 bytes but only 2 follow"),
    (b"\x0b\x7f\xff\xff\xff\x03", "claims 2147483647 elements"),
    (b"\x0d\x00\x00\x00\x01\x80", "not printable ASCII"),
    (b"\x0d\x00\x00\x00\x01\x01", "not printable ASCII"),
    (b"\x0e\x00\x00\x00\x02\xc3\x28", "not valid UTF-8"),
    (b"\x0e\x00\x00\x00\x03\xed\xa0\x80", "not valid UTF-8"),  # an encoded surrogate
    (b"\x05\x20" + bytes(20), "principal version 32 is out of range"),
    (b"\x06\x16" + bytes(20) + b"\x02-a", "not a valid contract name"),
    (b"\x06\x16" + bytes(20) + b"\x00", "not a valid contract name"),
    (b"\x0c\x00\x00\x00\x02\x01a\x03\x01a\x04", "repeats the key 'a'"),
    (b"\x0c\x00\x00\x00\x00", "empty tuple"),
    (b"\x0c\x00\x00\x00\x01\x02a b\x03", "not a valid tuple key"),
    (b"\x0c\x00\x00\x00\x01\x02a\n\x03", "not a valid tuple key"),  # `$` would let the newline through
    (b"\x06\x16" + bytes(20) + b"\x02a\n", "not a valid contract name"),
    (b"\x03\x03", "1 unexpected trailing bytes"),
    (b"\x0a" * 40 + b"\x09", "nests deeper than 32"),
    (b"", "truncated"),
])
def test_malformed_values_say_why(data, why):
    with pytest.raises(DecodeError, match=why.replace("(", r"\(").replace(")", r"\)")):
        c.deserialize(data)


@pytest.mark.parametrize("make", [
    lambda: c.Int(2**127), lambda: c.Int(-(2**127) - 1), lambda: c.UInt(-1), lambda: c.UInt(2**128),
    lambda: c.Int(True), lambda: c.StringAscii("é"), lambda: c.StringAscii("\x00"), lambda: c.StringUtf8("\ud800"),
    lambda: c.Tuple({}), lambda: c.Tuple({"bad key": c.TRUE}), lambda: c.principal("SPnotanaddress"),
    lambda: c.principal(f"{ADDR}.9starts-with-digit"), lambda: c.Buffer("text"),
])
def test_invalid_values_cannot_be_built(make):
    with pytest.raises(StacksError):
        make()


def test_from_hex_refuses_non_hex():
    with pytest.raises(DecodeError, match="not valid hex"):
        c.from_hex("0xzz")


# ---- addresses and keys ---------------------------------------------------------------------------


@pytest.mark.parametrize("address, why", [
    (ADDR[:-1] + ("A" if ADDR[-1] != "A" else "B"), "bad checksum"),
    ("ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGU", "not a c32 character"),
    ("XT1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM", "not a Stacks address"),
    ("ST1", "not a Stacks address"),
    ("", "not a Stacks address"),
    ("S" + "0" * 41, "bad checksum"),
])
def test_invalid_addresses_say_why(address, why):
    with pytest.raises(InvalidAddressError, match=why):
        keys.parse_address(address)
    assert not keys.is_valid_address(address)


def test_address_of_the_wrong_network_is_refused():
    with pytest.raises(InvalidAddressError, match="testnet address, expected a mainnet"):
        keys.validate_address(ADDR, "mainnet")
    assert keys.validate_address(ADDR, "testnet") == ADDR


def test_unknown_address_version_is_refused():
    from addon.stacks.c32 import c32_address

    with pytest.raises(InvalidAddressError, match="no Stacks address version"):
        keys.parse_address(c32_address(5, bytes(20)))


@pytest.mark.parametrize("key, why", [
    ("00" * 32, "out of range"),
    ("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141", "out of range"),
    ("ab" * 31, "32 bytes"),
    (KEY[:64] + "02", "must end in 01"),
    ("xyz", "not valid hex"),
    (12345, "must be a hex string"),
])
def test_invalid_private_keys_say_why(key, why):
    with pytest.raises(InvalidKeyError, match=why):
        keys.address_from_private_key(key, "testnet")


@pytest.mark.parametrize("public_key, why", [
    ("02" + "00" * 32, "not a point on the secp256k1 curve"),
    ("04" + "11" * 64, "not a point on the secp256k1 curve"),
    ("05" + "11" * 32, "not a point on the secp256k1 curve"),
    ("02" + "11" * 20, "33 \\(compressed\\) or 65"),
])
def test_public_keys_off_the_curve_are_refused(public_key, why):
    with pytest.raises(InvalidKeyError, match=why):
        keys.address_from_public_key(public_key, "mainnet")


def test_bad_mnemonic_is_refused():
    with pytest.raises(InvalidKeyError, match="not a valid BIP-39 phrase"):
        keys.derive_private_key("abandon " * 11 + "zoo")


def test_message_signatures_that_do_not_verify():
    public_key = keys.public_key_from_private_key(KEY)
    signature = message.sign_message("hello", KEY)
    other = keys.make_private_key()
    assert not message.verify_message("hello", message.sign_message("hello", other), public_key)
    assert not message.verify_message("hello", "zz", public_key)
    assert not message.verify_message("hello", signature[:-2], public_key)
    assert not message.verify_message("hello", signature[:-2] + "07", public_key)
    high_s = bytes.fromhex(signature)
    s = int.from_bytes(high_s[32:64], "big")
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    flipped = high_s[:32] + (n - s).to_bytes(32, "big") + bytes([high_s[64] ^ 1])
    assert not message.verify_message("hello", flipped.hex(), public_key)  # malleated (high-S) twin


# ---- transactions ---------------------------------------------------------------------------------


def test_every_truncation_of_a_transaction_is_refused():
    data = SAMPLE_TX.serialize()
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            tx.deserialize(data[:cut])


@pytest.mark.parametrize("offset, byte, why", [
    (0, 0x42, "unknown transaction version"),
    (5, 0x07, "unknown authorization type"),
    (6, 0x09, "unknown spending condition hash mode"),
    (43, 0x07, "unknown public key encoding"),
])
def test_transaction_with_a_bad_field_says_why(offset, byte, why):
    data = bytearray(SAMPLE_TX.serialize())
    data[offset] = byte
    with pytest.raises(DecodeError, match=why):
        tx.deserialize(bytes(data))


def test_tampered_transaction_fails_verification():
    data = bytearray(SAMPLE_TX.serialize())
    data[42] ^= 1  # the low byte of the fee
    tampered = tx.deserialize(bytes(data))
    with pytest.raises(StacksError, match="not made by the transaction's signer"):
        tampered.verify()


def test_signing_with_the_wrong_key_is_refused():
    with pytest.raises(StacksError, match="does not belong to the transaction's signer"):
        SAMPLE_TX.sign(keys.make_private_key())


@pytest.mark.parametrize("kwargs, why", [
    ({"nonce": -1}, "nonce must be an integer"),
    ({"fee": 2**64}, "fee must be an integer"),
    ({"post_condition_mode": "maybe"}, "unknown mode"),
    ({"network": "moonnet"}, "unknown network"),
])
def test_builder_refuses_bad_options(kwargs, why):
    options = {"private_key": KEY, "nonce": 0, "fee": 1, **kwargs}
    with pytest.raises(StacksError, match=why):
        tx.make_contract_call(ADDR, "render-farm", "f", [], **options)


# ---- fuzz -----------------------------------------------------------------------------------------


def _decode_or_refuse(decode, data: bytes, reserialize, canonical: bool = True):
    """Either a StacksError, or a value that re-serializes to the input (so nothing was misread).

    Tuples may arrive with keys out of order: the VM accepts and sorts them, so do we; such input
    re-serializes to the same length in canonical order (canonical=False)."""
    try:
        value = decode(data)
    except StacksError:
        return None
    again = reserialize(value)
    assert again == data if canonical else (len(again) == len(data) and decode(again) == value)
    return value


@given(st.binary(max_size=200))
@settings(max_examples=3000, deadline=None)
def test_fuzz_random_bytes_as_clarity_value(data):
    _decode_or_refuse(c.deserialize, data, c.serialize)


def _mutate(data: bytes, draw) -> bytes:
    data = bytearray(data)
    for _ in range(draw.draw(st.integers(1, 4))):
        data[draw.draw(st.integers(0, len(data) - 1))] = draw.draw(st.integers(0, 255))
    return bytes(data)


@given(clarity_values, st.data())
@settings(max_examples=1000, deadline=None)
def test_fuzz_mutated_clarity_values(value, draw):
    _decode_or_refuse(c.deserialize, _mutate(c.serialize(value), draw), c.serialize, canonical=False)


@given(clarity_values, st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzz_mutated_values_decode_as_in_js(js, value, draw):
    """Where both decoders accept mutated bytes, they read the same value (Python is stricter: it also
    refuses what the VM refuses, such as non-printable string-ascii bytes)."""
    data = _mutate(c.serialize(value), draw)
    ours = _decode_or_refuse(c.deserialize, data, c.serialize, canonical=False)
    try:
        theirs = from_tagged(js.call("cv.deserialize", hex=data.hex()))
    except (OracleError, StacksError):
        return
    if ours is not None:
        assert ours == theirs


@given(st.data())
@settings(max_examples=2000, deadline=None)
def test_fuzz_mutated_transactions(draw):
    _decode_or_refuse(tx.deserialize, _mutate(SAMPLE_TX.serialize(), draw), lambda t: t.serialize(), canonical=False)


@given(st.text(max_size=60))
@settings(max_examples=1000, deadline=None)
def test_fuzz_address_text(text):
    try:
        version, h = keys.parse_address(text)
    except InvalidAddressError:
        return
    assert len(h) == 20 and version in (20, 21, 22, 26)
