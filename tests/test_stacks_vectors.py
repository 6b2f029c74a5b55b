"""The Python Stacks client against @stacks/transactions, byte for byte, on fixed vectors."""

import pytest

from addon.stacks import clarity as c
from addon.stacks import keys, message
from addon.stacks import postconditions as pc
from addon.stacks import transactions as tx
from tests.stacks_oracle import from_tagged, to_tagged

DEPLOYER_MNEMONIC = ("twice kind fence tip hidden tilt action fragile skin nothing glory cousin green tomorrow "
                     "spring wrist shed math olympic multiply hip blue scout claw")
WALLET1_MNEMONIC = ("sell invite acquire kitten bamboo drastic jelly vivid peace spawn twice guilt pave pen trash "
                    "pretty park cube fragile unaware remain midnight betray rebuild")
KEY = "753b7cc01a1a2e86221266a154af739463fce51219d97e4f856cd7200c3bd2a601"  # devnet deployer, compressed
KEY_UNCOMPRESSED = "e494f188c2d35887531ba474c433b1e41fadd8eb824aca983447fd4bb8b277a8"
ADDR = keys.address_from_private_key(KEY, "testnet")
CONTRACT = f"{ADDR}.render-farm"

EDGE_VALUES = [
    c.Int(c.INT_MIN), c.Int(c.INT_MAX), c.Int(0), c.Int(-1), c.Int(1),
    c.UInt(0), c.UInt(c.UINT_MAX), c.UInt(2**64), c.TRUE, c.FALSE,
    c.Buffer(b""), c.Buffer(b"\x00"), c.Buffer(bytes(range(256)) * 4),
    c.StringAscii(""), c.StringAscii("hello, world! ~`{}|\\\"'\t\n\r"),
    c.StringUtf8(""), c.StringUtf8("héllo wörld"), c.StringUtf8("beyond the BMP: 𝄞 😀 🚀 \U0010ffff"),
    c.principal("SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7"), c.principal(ADDR),
    c.principal("SM2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKQVX8X0G"), c.principal(CONTRACT),
    c.principal(f"{ADDR}.a"), c.principal(f"{ADDR}.{'x' * 40}"),
    c.NONE, c.Some(c.NONE), c.Some(c.Some(c.UInt(7))), c.Ok(c.TRUE), c.Err(c.UInt(104)), c.Ok(c.Err(c.NONE)),
    c.List([]), c.List([c.List([]), c.List([c.Int(1)])]), c.List([c.UInt(i) for i in range(300)]),
    c.Tuple({"a": c.UInt(1)}),
    c.Tuple({"zeta": c.NONE, "alpha": c.List([c.Tuple({"b-2": c.TRUE, "b-1": c.FALSE})]), "mid-key": c.Buffer(b"x")}),
    c.Tuple({"nested": c.Tuple({"deeper": c.Tuple({"deepest": c.Some(c.Ok(c.StringUtf8("🚀")))})})}),
]


@pytest.mark.parametrize("value", EDGE_VALUES, ids=lambda v: c.to_repr(v)[:40])
def test_clarity_value_matches_js(js, value):
    expected = js.call("cv.serialize", value=to_tagged(value))
    assert c.serialize(value).hex() == expected
    assert c.deserialize(bytes.fromhex(expected)) == value
    assert from_tagged(js.call("cv.deserialize", hex=expected)) == value


def test_tuple_keys_sort_like_the_vm():
    # Byte order, as the Clarity VM's BTreeMap: '-' < digits < letters.
    t = c.Tuple({"b": c.TRUE, "a-b": c.TRUE, "a1": c.TRUE, "ab": c.TRUE})
    assert list(t.data) == ["a-b", "a1", "ab", "b"]


def test_repr_reads_like_clarity():
    v = c.Tuple({"owner": c.principal(CONTRACT), "amount": c.UInt(5), "memo": c.Some(c.StringAscii("hi")),
                 "tags": c.List([c.Int(-1), c.Buffer(b"\xbe\xef")]), "r": c.Err(c.StringUtf8("x"))})
    assert c.to_repr(v) == (f'(tuple (amount u5) (memo (some "hi")) (owner \'{CONTRACT}) (r (err u"x")) '
                            "(tags (list -1 0xbeef)))")


def test_to_python_gives_plain_values():
    v = c.Tuple({"n": c.UInt(5), "who": c.principal(ADDR), "m": c.NONE, "r": c.Ok(c.List([c.TRUE]))})
    assert c.to_python(v) == {"m": None, "n": 5, "r": {"ok": [True]}, "who": ADDR}


# ---- keys and addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", [KEY, KEY[:64], KEY_UNCOMPRESSED, KEY_UNCOMPRESSED + "01"])
@pytest.mark.parametrize("network", ["mainnet", "testnet"])
def test_addresses_match_js(js, key, network):
    info = js.call("key.info", privateKey=key, network=network)
    assert keys.public_key_from_private_key(key).hex() == info["publicKey"]
    assert keys.address_from_private_key(key, network) == info["address"]


@pytest.mark.parametrize("version", [0, 1, 20, 21, 22, 26, 31])
@pytest.mark.parametrize("h", ["00" * 20, "ff" * 20, "0000" + "ab" * 18, "a46ff88886c2ef9762d970b4d2c63678835bd39d"])
def test_c32_matches_js(js, version, h):
    from addon.stacks.c32 import c32_address, c32_address_decode

    address = js.call("c32.address", version=version, hash160=h)
    assert c32_address(version, bytes.fromhex(h)) == address
    assert c32_address_decode(address) == (version, bytes.fromhex(h))


@pytest.mark.parametrize("mnemonic", [DEPLOYER_MNEMONIC, WALLET1_MNEMONIC])
@pytest.mark.parametrize("index", [0, 1, 3])
def test_wallet_derivation_matches_js(js, mnemonic, index):
    assert keys.derive_private_key(mnemonic, index) == js.call("wallet.derive", mnemonic=mnemonic, index=index)


def test_devnet_accounts_are_the_known_ones():
    assert keys.address_from_private_key(keys.derive_private_key(DEPLOYER_MNEMONIC), "testnet") == \
        "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM"
    assert keys.address_from_private_key(keys.derive_private_key(WALLET1_MNEMONIC), "testnet") == \
        "ST1SJ3DTE5DN7X54YDH5D64R3BCB6A2AG2ZQ8YPD5"


# ---- signed messages ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "hello", "POST /v1/blobs\n" + "a" * 300, "ünïcødé 🚀"])
@pytest.mark.parametrize("key", [KEY, KEY_UNCOMPRESSED])
def test_message_signatures_match_js(js, text, key):
    signature = message.sign_message(text, key)
    assert signature == js.call("message.sign", message=text, privateKey=key)
    public_key = keys.public_key_from_private_key(key)
    assert js.call("message.verify", message=text, signature=signature, publicKey=public_key.hex())
    assert message.verify_message(text, signature, public_key)
    assert message.recover_public_key(text, signature) == keys.compress_public_key(public_key)
    assert not message.verify_message(text + "!", signature, public_key)


# ---- transactions ---------------------------------------------------------------------------------

NFT_ID = c.Tuple({"id": c.UInt(9)})
PC_CASES = {
    "none": [],
    "stx-origin-eq": [pc.stx_post_condition("origin", "eq", 5_000_000)],
    "stx-standard-gte": [pc.stx_post_condition(ADDR, "gte", 1)],
    "stx-contract-lt": [pc.stx_post_condition(CONTRACT, "lt", 2**64 - 1)],
    "stx-gt-lte": [pc.stx_post_condition("origin", "gt", 0), pc.stx_post_condition(CONTRACT, "lte", 10)],
    "ft": [pc.ft_post_condition(ADDR, f"{CONTRACT}::credit", "gt", 123)],
    "nft-sent": [pc.nft_post_condition("origin", f"{CONTRACT}::frame", NFT_ID, "sent")],
    "nft-not-sent": [pc.nft_post_condition(CONTRACT, f"{CONTRACT}::frame", c.UInt(1), "not-sent")],
    "nft-maybe-sent": [pc.nft_post_condition(ADDR, f"{CONTRACT}::frame", c.StringAscii("f"), "maybe-sent")],
}


def _pc_json(p) -> dict:
    match p:
        case pc.StxPostCondition():
            return {"type": "stx-postcondition", "address": p.principal, "condition": p.code, "amount": str(p.amount)}
        case pc.FungiblePostCondition():
            return {"type": "ft-postcondition", "address": p.principal, "condition": p.code,
                    "asset": p.asset, "amount": str(p.amount)}
        case pc.NonFungiblePostCondition():
            return {"type": "nft-postcondition", "address": p.principal, "condition": p.code,
                    "asset": p.asset, "assetId": to_tagged(p.asset_value)}
    raise TypeError(p)


def _check_against_js(js, python_tx: tx.Transaction, request: dict):
    expected = js.call("tx.build", **request)
    assert python_tx.serialize().hex() == expected["hex"]
    assert python_tx.txid() == expected["txid"]
    decoded = tx.deserialize(bytes.fromhex(expected["hex"]))
    assert decoded == python_tx
    assert decoded.serialize().hex() == expected["hex"]
    if request.get("privateKey"):
        assert decoded.verify() == keys.address_from_private_key(request["privateKey"], request["network"])


@pytest.mark.parametrize("pcs", list(PC_CASES), ids=str)
@pytest.mark.parametrize("mode", ["deny", "allow", "originator"])
def test_contract_call_matches_js(js, pcs, mode):
    args = [c.UInt(42), c.Buffer(bytes(32)), c.Tuple({"frames": c.List([c.UInt(1), c.UInt(2)])}), c.principal(ADDR)]
    python_tx = tx.make_contract_call(ADDR, "render-farm", "create-job", args, private_key=KEY, nonce=7, fee=2500,
                                      network="testnet", post_conditions=PC_CASES[pcs], post_condition_mode=mode)
    _check_against_js(js, python_tx, {
        "kind": "contract_call", "contractAddress": ADDR, "contractName": "render-farm",
        "functionName": "create-job", "args": [to_tagged(a) for a in args], "privateKey": KEY, "nonce": 7,
        "fee": 2500, "network": "testnet", "postConditions": [_pc_json(p) for p in PC_CASES[pcs]],
        "postConditionMode": mode})


@pytest.mark.parametrize("key", [KEY, KEY_UNCOMPRESSED])
@pytest.mark.parametrize("network", ["testnet", "mainnet"])
@pytest.mark.parametrize("recipient", ["SP2J6ZY48GV1EZ5V2V5RB9MP66SW86PYKKNRV9EJ7", CONTRACT])
@pytest.mark.parametrize("memo", ["", "invoice 42", "x" * 34])
def test_stx_transfer_matches_js(js, key, network, recipient, memo):
    # stacks.js builds transfers without post-conditions (a transfer moves exactly its amount).
    python_tx = tx.make_stx_transfer(recipient, 1_000_000, memo=memo, private_key=key, nonce=0, fee=180,
                                     network=network)
    _check_against_js(js, python_tx, {
        "kind": "stx_transfer", "recipient": recipient, "amount": 1_000_000, "memo": memo, "privateKey": key,
        "nonce": 0, "fee": 180, "network": network})


@pytest.mark.parametrize("clarity_version", [1, 2, 3, 4])
def test_contract_deploy_matches_js(js, clarity_version):
    code = (";; render farm\n(define-data-var n uint u0)\n"
            "(define-public (bump) (ok (var-set n (+ (var-get n) u1))))\n;; ✓")
    python_tx = tx.make_contract_deploy("render-farm", code, clarity_version=clarity_version, private_key=KEY,
                                        nonce=3, fee=100_000, network="testnet")
    _check_against_js(js, python_tx, {
        "kind": "deploy", "contractName": "render-farm", "code": code, "clarityVersion": clarity_version,
        "privateKey": KEY, "nonce": 3, "fee": 100_000, "network": "testnet"})


def test_signing_a_js_unsigned_transaction_matches_js_signing(js):
    public_key = keys.public_key_from_private_key(KEY).hex()
    unsigned = js.call("tx.build", kind="contract_call", contractAddress=ADDR, contractName="render-farm",
                       functionName="claim", args=[to_tagged(c.UInt(1)), to_tagged(c.Buffer(b"r" * 32))],
                       publicKey=public_key, nonce=12, fee=900, network="testnet")
    signed_by_js = js.call("tx.sign", hex=unsigned["hex"], privateKey=KEY)
    signed_by_python = tx.deserialize(bytes.fromhex(unsigned["hex"])).sign(KEY)
    assert signed_by_python.serialize().hex() == signed_by_js["hex"]
    assert signed_by_python.txid() == signed_by_js["txid"]


def test_sponsored_transaction_matches_js(js):
    sponsor_key = keys.derive_private_key(WALLET1_MNEMONIC)
    origin_signed = js.call("tx.build", kind="contract_call", contractAddress=ADDR, contractName="render-farm",
                            functionName="withdraw", args=[], privateKey=KEY, nonce=1, fee=0, network="testnet",
                            sponsored=True)
    python_origin = tx.make_contract_call(ADDR, "render-farm", "withdraw", [], private_key=KEY, nonce=1, fee=0,
                                          network="testnet", sponsored=True)
    assert python_origin.serialize().hex() == origin_signed["hex"]
    sponsored_by_js = js.call("tx.sponsor", hex=origin_signed["hex"], privateKey=sponsor_key, fee=3000, nonce=4)
    python_sponsored = (tx.deserialize(bytes.fromhex(origin_signed["hex"]))
                        .with_sponsor(keys.public_key_from_private_key(sponsor_key), fee=3000, nonce=4)
                        .sign_sponsor(sponsor_key))
    assert python_sponsored.serialize().hex() == sponsored_by_js["hex"]
    assert python_sponsored.verify() == ADDR
