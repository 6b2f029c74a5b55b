"""Property tests: random values round-trip in Python and decode identically in @stacks/transactions."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addon.stacks import clarity as c
from addon.stacks import keys, message
from addon.stacks import transactions as tx
from tests.stacks_oracle import from_tagged, to_tagged
from tests.strategies import clarity_values, contract_names, private_keys

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(clarity_values)
@settings(max_examples=500, deadline=None)
def test_values_round_trip_in_python(value):
    data = c.serialize(value)
    assert c.deserialize(data) == value
    assert c.from_hex(c.to_hex(value)) == value


@given(st.lists(clarity_values, min_size=1, max_size=20))
@SETTINGS
def test_values_serialize_and_decode_identically_in_js(js, values):
    hexes = js.call("cv.serialize_many", values=[to_tagged(v) for v in values])
    for value, expected in zip(values, hexes, strict=True):
        assert c.serialize(value).hex() == expected
        assert from_tagged(js.call("cv.deserialize", hex=expected)) == value


@given(private_keys, st.sampled_from(["mainnet", "testnet"]), contract_names, st.lists(clarity_values, max_size=4),
       st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1), st.sampled_from(["deny", "allow", "originator"]))
@SETTINGS
def test_random_contract_calls_match_js(js, key, network, name, args, nonce, fee, mode):
    contract_address = keys.address_from_private_key(key, network)
    python_tx = tx.make_contract_call(contract_address, name, "do-it", args, private_key=key, nonce=nonce, fee=fee,
                                      network=network, post_condition_mode=mode)
    expected = js.call("tx.build", kind="contract_call", contractAddress=contract_address, contractName=name,
                       functionName="do-it", args=[to_tagged(a) for a in args], privateKey=key, nonce=str(nonce),
                       fee=str(fee), network=network, postConditionMode=mode)
    assert python_tx.serialize().hex() == expected["hex"]
    assert tx.deserialize(bytes.fromhex(expected["hex"])) == python_tx
    assert python_tx.verify() == contract_address


@given(private_keys, st.binary(max_size=300))
@SETTINGS
def test_random_messages_sign_like_js(js, key, data):
    text = data.hex()
    signature = message.sign_message(text, key)
    assert signature == js.call("message.sign", message=text, privateKey=key)
    assert message.verify_message(text, signature, keys.public_key_from_private_key(key))
