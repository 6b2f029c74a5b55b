"""BIP-32 private derivation (addon.stacks.keys.bip32_private_key) against the test vectors of the BIP itself.

The wallet's Stacks keys are derived on m/44'/5757'/0'/0/i; test_stacks_vectors.py checks those against
@stacks/transactions, this file checks the derivation against the specification's vectors 1 and 3.
"""

import pytest

from addon.stacks import keys
from addon.stacks.errors import InvalidKeyError

VECTOR_1 = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
VECTOR_1_KEYS = {
    "m": "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35",
    "m/0'": "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea",
    "m/0'/1": "3c6cb8d0f6a264c91ea8b5030fadaa8e538b020f0a387421a12de9319dc93368",
    "m/0'/1/2'": "cbce0d719ecf7431d88e6a89fa1483e02e35092af60c042b1df2ff59fa424dca",
    "m/0'/1/2'/2": "0f479245fb19a38a1954c5c7c0ebab2f9bdfd96a17563ef28a6a4b1a2a764ef4",
    "m/0'/1/2'/2/1000000000": "471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8",
}
# Vector 3's master key starts with a zero byte, which must be kept (a bug some implementations had).
VECTOR_3 = bytes.fromhex("4b381541583be4423346c643850da4b320e46a87ae3d2a4e6da11eba819cd4ac"
                         "ba45d239319ac14f863b8d5ab5a0d0c64d2e8a1e7d1457df2e5a3c51c73235be")


@pytest.mark.parametrize("path", VECTOR_1_KEYS)
def test_vector_1(path):
    assert keys.bip32_private_key(VECTOR_1, path).hex() == VECTOR_1_KEYS[path]


def test_vector_3_keeps_leading_zeros():
    assert keys.bip32_private_key(VECTOR_3, "m").hex() == \
        "00ddb80b067e0d4993197fe10f2657a844a384589847602d56f0c629c81aae32"
    assert keys.bip32_private_key(VECTOR_3, "m/0'").hex() == \
        "491f7a2eebc7b57028e0d3faa0acda02e75c33b03c48fb288c41e2ea44e1daef"


def test_h_and_apostrophe_mean_the_same():
    assert keys.bip32_private_key(VECTOR_1, "m/0h/1/2H") == keys.bip32_private_key(VECTOR_1, "m/0'/1/2'")


@pytest.mark.parametrize("path", ["44'/0", "m/x", "m/2147483648", "m/-1", "m//1"])
def test_bad_paths_are_refused(path):
    with pytest.raises(InvalidKeyError, match="BIP-32|m/"):
        keys.bip32_private_key(VECTOR_1, path)
