"""Hypothesis strategies for Clarity values and transactions."""

from hypothesis import strategies as st

from addon.stacks import clarity as c
from addon.stacks import keys
from addon.stacks.c32 import c32_address

ascii_text = st.text(alphabet=st.sampled_from([chr(i) for i in range(0x20, 0x7F)] + ["\t", "\n", "\r"]), max_size=40)
utf8_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
# Tuple keys that stacks.js (localeCompare) and the VM (byte order) sort the same way.
tuple_keys = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
contract_names = st.from_regex(r"[a-z][a-z0-9-]{0,39}", fullmatch=True)
hash160s = st.binary(min_size=20, max_size=20)
addresses = st.builds(c32_address, st.sampled_from([22, 20, 26, 21]), hash160s)

principals = st.one_of(
    st.builds(c.StandardPrincipal, addresses),
    st.builds(c.ContractPrincipal, addresses, contract_names),
)

leaves = st.one_of(
    st.builds(c.Int, st.integers(c.INT_MIN, c.INT_MAX)),
    st.builds(c.UInt, st.integers(0, c.UINT_MAX)),
    st.builds(c.Bool, st.booleans()),
    st.builds(c.Buffer, st.binary(max_size=64)),
    st.builds(c.StringAscii, ascii_text),
    st.builds(c.StringUtf8, utf8_text),
    principals,
    st.just(c.NONE),
)


def _containers(children):
    return st.one_of(
        st.builds(c.Some, children), st.builds(c.Ok, children), st.builds(c.Err, children),
        st.builds(c.List, st.lists(children, max_size=5)),
        st.builds(c.Tuple, st.dictionaries(tuple_keys, children, min_size=1, max_size=5)),
    )


clarity_values = st.recursive(leaves, _containers, max_leaves=20)

CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
private_keys = st.builds(
    lambda secret, compressed: secret.hex() + ("01" if compressed else ""),
    st.integers(1, CURVE_ORDER - 1).map(lambda n: n.to_bytes(32, "big")),
    st.booleans(),
)


def address_of(private_key: str, network: str) -> str:
    return keys.address_from_private_key(private_key, network)
