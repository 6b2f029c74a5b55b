"""SIP-005 transactions: payloads, authorization, wire format, txid, sighash chain, signing, verification.

Values are frozen dataclasses; signing returns a new Transaction. Supported for signing: standard and
sponsored single-sig P2PKH (what wallets use). Multi-sig conditions decode and re-encode unchanged.
"""

import hashlib
from dataclasses import dataclass, replace

from .c32 import c32_address
from .clarity import ClarityValue, ContractPrincipal, StandardPrincipal, read_value, serialize
from .errors import DecodeError, SigningError, StacksError
from .keys import hash160, parse_private_key, public_key_from_private_key, validate_contract_name
from .network import Network, get_network
from .postconditions import read_post_condition, serialize_post_condition
from .signing import is_low_s, recover_public_key_rsv, sign_hash_vrs, vrs_to_rsv
from .wire import ByteReader, address_bytes, lp_string, read_address, read_contract_name, read_lp_string

# Authorization types.
AUTH_STANDARD, AUTH_SPONSORED = 0x04, 0x05
# Hash modes: single-sig P2PKH / P2WPKH; multi-sig P2SH / P2WSH (sequential and non-sequential).
P2PKH, P2SH, P2WPKH, P2WSH, P2SH_NON_SEQUENTIAL, P2WSH_NON_SEQUENTIAL = 0x00, 0x01, 0x02, 0x03, 0x05, 0x07
SINGLE_SIG_MODES = (P2PKH, P2WPKH)
MULTI_SIG_MODES = (P2SH, P2WSH, P2SH_NON_SEQUENTIAL, P2WSH_NON_SEQUENTIAL)
KEY_COMPRESSED, KEY_UNCOMPRESSED = 0x00, 0x01
ANCHOR_MODES = {"on-chain-only": 1, "off-chain-only": 2, "any": 3}
POST_CONDITION_MODES = {"allow": 1, "deny": 2, "originator": 3}
# Payload types.
TOKEN_TRANSFER, SMART_CONTRACT, CONTRACT_CALL, VERSIONED_SMART_CONTRACT = 0x00, 0x01, 0x02, 0x06
MEMO_LENGTH = 34
EMPTY_SIGNATURE = bytes(65)
CLARITY_VERSION = 4


def sha512_256(data: bytes) -> bytes:
    return hashlib.new("sha512_256", data).digest()


# ---- payloads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenTransferPayload:
    recipient: ClarityValue  # StandardPrincipal or ContractPrincipal
    amount: int
    memo: bytes = bytes(MEMO_LENGTH)  # always 34 bytes on the wire, zero-padded

    @property
    def memo_text(self) -> str:
        return self.memo.rstrip(b"\0").decode("utf-8", "replace")


@dataclass(frozen=True)
class ContractCallPayload:
    contract_address: str
    contract_name: str
    function_name: str
    args: tuple = ()

    @property
    def contract_id(self) -> str:
        return f"{self.contract_address}.{self.contract_name}"


@dataclass(frozen=True)
class SmartContractPayload:
    contract_name: str
    code: str
    clarity_version: int | None = CLARITY_VERSION  # None: the unversioned (Clarity 1) payload


Payload = TokenTransferPayload | ContractCallPayload | SmartContractPayload


# ---- authorization --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SingleSigCondition:
    hash_mode: int
    signer: bytes  # hash160 of the public key
    nonce: int
    fee: int
    key_encoding: int
    signature: bytes = EMPTY_SIGNATURE  # 65 bytes, VRS

    def cleared(self) -> "SingleSigCondition":
        return replace(self, nonce=0, fee=0, signature=EMPTY_SIGNATURE)


@dataclass(frozen=True)
class MultiSigCondition:
    hash_mode: int
    signer: bytes
    nonce: int
    fee: int
    fields: tuple  # ((field type, bytes), ...)
    signatures_required: int

    def cleared(self) -> "MultiSigCondition":
        return replace(self, nonce=0, fee=0, fields=())


SpendingCondition = SingleSigCondition | MultiSigCondition


@dataclass(frozen=True)
class Authorization:
    auth_type: int
    origin: SpendingCondition
    sponsor: SpendingCondition | None = None


def _empty_sponsor(signer: bytes = bytes(20)) -> SingleSigCondition:
    """The sponsor slot before a sponsor fills it; in the sighash its signer is all zeros."""
    return SingleSigCondition(P2PKH, signer, 0, 0, KEY_COMPRESSED)


# stacks.js fills the unsigned sponsor slot with the hash of an all-zero public key; we do the same.
_PLACEHOLDER_SPONSOR_SIGNER = bytes.fromhex("29cfc6376255a78451eeb4b129ed8eacffa2feef")


# ---- the transaction ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transaction:
    version: int
    chain_id: int
    auth: Authorization
    anchor_mode: int
    post_condition_mode: int
    post_conditions: tuple
    payload: Payload

    def serialize(self) -> bytes:
        return serialize_transaction(self)

    def txid(self) -> str:
        return sha512_256(self.serialize()).hex()

    @property
    def nonce(self) -> int:
        return self.auth.origin.nonce

    @property
    def fee(self) -> int:
        return (self.auth.sponsor or self.auth.origin).fee if self.auth.auth_type == AUTH_SPONSORED \
            else self.auth.origin.fee

    def sender_address(self) -> str:
        """The origin's address, from its hash mode and the transaction version."""
        mainnet = self.version == 0x00
        single = self.auth.origin.hash_mode in SINGLE_SIG_MODES
        version = (22 if single else 20) if mainnet else (26 if single else 21)
        return c32_address(version, self.auth.origin.signer)

    def initial_sighash(self) -> bytes:
        """txid of the transaction with its authorization cleared: what the first signer signs over."""
        auth = self.auth
        cleared = Authorization(
            auth.auth_type, auth.origin.cleared(), _empty_sponsor() if auth.auth_type == AUTH_SPONSORED else None
        )
        return sha512_256(serialize_transaction(replace(self, auth=cleared)))

    def sign(self, private_key_hex) -> "Transaction":
        """Sign as the origin; returns the signed transaction."""
        origin = self.auth.origin
        signature = _sign_condition(origin, self.initial_sighash(), AUTH_STANDARD, private_key_hex)
        return replace(self, auth=replace(self.auth, origin=replace(origin, signature=signature)))

    def with_sponsor(self, public_key: bytes, fee: int, nonce: int) -> "Transaction":
        """Fill the sponsor slot of a sponsored transaction (before sign_sponsor)."""
        if self.auth.auth_type != AUTH_SPONSORED:
            raise SigningError("only a sponsored transaction takes a sponsor")
        encoding = KEY_COMPRESSED if len(public_key) == 33 else KEY_UNCOMPRESSED
        sponsor = SingleSigCondition(P2PKH, hash160(bytes(public_key)), nonce, fee, encoding)
        return replace(self, auth=replace(self.auth, sponsor=sponsor))

    def sign_sponsor(self, private_key_hex) -> "Transaction":
        """Sign as the sponsor of a sponsored transaction the origin has already signed."""
        if self.auth.auth_type != AUTH_SPONSORED or self.auth.sponsor is None:
            raise SigningError("only a sponsored transaction has a sponsor to sign")
        origin_sighash = _verify_condition(self.auth.origin, self.initial_sighash(), AUTH_STANDARD)[1]
        sponsor = self.auth.sponsor
        signature = _sign_condition(sponsor, origin_sighash, AUTH_SPONSORED, private_key_hex)
        return replace(self, auth=replace(self.auth, sponsor=replace(sponsor, signature=signature)))

    def verify(self) -> str:
        """Check the origin's (and sponsor's) signature; return the origin's address or raise SigningError."""
        _, next_hash = _verify_condition(self.auth.origin, self.initial_sighash(), AUTH_STANDARD)
        if self.auth.auth_type == AUTH_SPONSORED:
            _verify_condition(self.auth.sponsor, next_hash, AUTH_SPONSORED)
        return self.sender_address()


def _presign_hash(sighash: bytes, auth_type: int, fee: int, nonce: int) -> bytes:
    return sha512_256(sighash + bytes([auth_type]) + fee.to_bytes(8, "big") + nonce.to_bytes(8, "big"))


def _postsign_hash(presign: bytes, key_encoding: int, signature: bytes) -> bytes:
    return sha512_256(presign + bytes([key_encoding]) + signature)


def _sign_condition(cond: SpendingCondition, sighash: bytes, auth_type: int, private_key_hex) -> bytes:
    if not isinstance(cond, SingleSigCondition) or cond.hash_mode != P2PKH:
        raise SigningError("only single-sig P2PKH spending conditions can be signed")
    key = parse_private_key(private_key_hex)
    public_key = public_key_from_private_key(key)
    if hash160(public_key) != cond.signer:
        raise SigningError("this private key does not belong to the transaction's signer")
    if (KEY_COMPRESSED if key.compressed else KEY_UNCOMPRESSED) != cond.key_encoding:
        raise SigningError("the key's compression does not match the spending condition's key encoding")
    return sign_hash_vrs(_presign_hash(sighash, auth_type, cond.fee, cond.nonce), key)


def _verify_condition(cond: SpendingCondition, sighash: bytes, auth_type: int) -> tuple[bytes, bytes]:
    """(recovered public key, next sighash), or SigningError."""
    if not isinstance(cond, SingleSigCondition) or cond.hash_mode != P2PKH:
        raise SigningError("only single-sig P2PKH signatures can be verified")
    if cond.signature == EMPTY_SIGNATURE:
        raise SigningError("the transaction is not signed")
    presign = _presign_hash(sighash, auth_type, cond.fee, cond.nonce)
    if not is_low_s(vrs_to_rsv(cond.signature)):
        raise SigningError("signature is not in low-S form")
    public_key = recover_public_key_rsv(presign, vrs_to_rsv(cond.signature), cond.key_encoding == KEY_COMPRESSED)
    if hash160(public_key) != cond.signer:
        raise SigningError("signature was not made by the transaction's signer")
    return public_key, _postsign_hash(presign, cond.key_encoding, cond.signature)


def verify_transaction(tx: Transaction) -> str:
    return tx.verify()


# ---- serialization --------------------------------------------------------------------------------




def _condition_bytes(cond: SpendingCondition) -> bytes:
    head = bytes([cond.hash_mode]) + cond.signer + cond.nonce.to_bytes(8, "big") + cond.fee.to_bytes(8, "big")
    if isinstance(cond, SingleSigCondition):
        return head + bytes([cond.key_encoding]) + cond.signature
    fields = b"".join(bytes([t]) + data for t, data in cond.fields)
    return head + len(cond.fields).to_bytes(4, "big") + fields + cond.signatures_required.to_bytes(2, "big")


def serialize_payload(p: Payload) -> bytes:
    match p:
        case TokenTransferPayload():
            return bytes([TOKEN_TRANSFER]) + serialize(p.recipient) + p.amount.to_bytes(8, "big") + p.memo
        case ContractCallPayload():
            args = b"".join(serialize(a) for a in p.args)
            return (bytes([CONTRACT_CALL]) + address_bytes(p.contract_address) + lp_string(p.contract_name)
                    + lp_string(p.function_name) + len(p.args).to_bytes(4, "big") + args)
        case SmartContractPayload():
            body = lp_string(p.contract_name) + lp_string(p.code, 4)
            if p.clarity_version is None:
                return bytes([SMART_CONTRACT]) + body
            return bytes([VERSIONED_SMART_CONTRACT, p.clarity_version]) + body
    raise StacksError(f"{p!r} is not a supported payload")


def serialize_transaction(tx: Transaction) -> bytes:
    out = bytearray([tx.version]) + tx.chain_id.to_bytes(4, "big") + bytes([tx.auth.auth_type])
    out += _condition_bytes(tx.auth.origin)
    if tx.auth.auth_type == AUTH_SPONSORED:
        out += _condition_bytes(tx.auth.sponsor)
    out += bytes([tx.anchor_mode, tx.post_condition_mode]) + len(tx.post_conditions).to_bytes(4, "big")
    for pc in tx.post_conditions:
        out += serialize_post_condition(pc)
    out += serialize_payload(tx.payload)
    return bytes(out)


# ---- deserialization ------------------------------------------------------------------------------


def _read_condition(r: ByteReader) -> SpendingCondition:
    hash_mode = r.u8()
    if hash_mode not in SINGLE_SIG_MODES + MULTI_SIG_MODES:
        raise DecodeError(f"unknown spending condition hash mode 0x{hash_mode:02x}")
    signer, nonce, fee = r.read(20), r.u64(), r.u64()
    if hash_mode in SINGLE_SIG_MODES:
        key_encoding = r.u8()
        if key_encoding not in (KEY_COMPRESSED, KEY_UNCOMPRESSED):
            raise DecodeError(f"unknown public key encoding 0x{key_encoding:02x}")
        if hash_mode == P2WPKH and key_encoding != KEY_COMPRESSED:
            raise DecodeError("P2WPKH spending conditions require a compressed key")
        return SingleSigCondition(hash_mode, signer, nonce, fee, key_encoding, r.read(65))
    count = r.u32()
    if count > r.remaining() // 34:
        raise DecodeError(f"multi-sig condition claims {count} fields, more than the bytes that follow")
    fields = []
    for _ in range(count):
        field_type = r.u8()
        if field_type in (0, 1):
            fields.append((field_type, r.read(33)))  # public keys travel compressed
        elif field_type in (2, 3):
            fields.append((field_type, r.read(65)))
        else:
            raise DecodeError(f"unknown multi-sig field type 0x{field_type:02x}")
    return MultiSigCondition(hash_mode, signer, nonce, fee, tuple(fields), int.from_bytes(r.read(2), "big"))


def _read_payload(r: ByteReader) -> Payload:
    kind = r.u8()
    if kind == TOKEN_TRANSFER:
        recipient = read_value(r)
        if not isinstance(recipient, (StandardPrincipal, ContractPrincipal)):
            raise DecodeError("token transfer recipient is not a principal")
        return TokenTransferPayload(recipient, r.u64(), r.read(MEMO_LENGTH))
    if kind == CONTRACT_CALL:
        address = read_address(r)
        name = read_contract_name(r)
        function = read_lp_string(r, "function name")
        count = r.u32()
        if count > r.remaining():
            raise DecodeError(f"contract call claims {count} arguments, more than the bytes that follow")
        return ContractCallPayload(address, name, function, tuple(read_value(r) for _ in range(count)))
    if kind in (SMART_CONTRACT, VERSIONED_SMART_CONTRACT):
        version = r.u8() if kind == VERSIONED_SMART_CONTRACT else None
        name = read_contract_name(r)
        size = r.u32()
        if size > r.remaining():
            raise DecodeError(f"contract code claims {size} bytes but only {r.remaining()} follow")
        try:
            code = r.read(size).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("contract code is not valid UTF-8") from None
        return SmartContractPayload(name, code, version)
    raise DecodeError(f"unsupported payload type 0x{kind:02x} (only transfers, contract calls and deploys)")




def deserialize(data: bytes) -> Transaction:
    """Decode a raw transaction; raises DecodeError on any malformed or trailing byte."""
    if isinstance(data, str):
        try:
            data = bytes.fromhex(data.removeprefix("0x"))
        except ValueError:
            raise DecodeError("transaction hex is not valid hex") from None
    r = ByteReader(data, "transaction")
    version = r.u8()
    if version not in (0x00, 0x80):
        raise DecodeError(f"unknown transaction version 0x{version:02x} (0x00 mainnet, 0x80 testnet)")
    chain_id = r.u32()
    auth_type = r.u8()
    if auth_type not in (AUTH_STANDARD, AUTH_SPONSORED):
        raise DecodeError(f"unknown authorization type 0x{auth_type:02x}")
    origin = _read_condition(r)
    sponsor = _read_condition(r) if auth_type == AUTH_SPONSORED else None
    anchor_mode = r.u8()
    if anchor_mode not in ANCHOR_MODES.values():
        raise DecodeError(f"unknown anchor mode 0x{anchor_mode:02x}")
    pc_mode = r.u8()
    if pc_mode not in POST_CONDITION_MODES.values():
        raise DecodeError(f"unknown post-condition mode 0x{pc_mode:02x}")
    count = r.u32()
    if count > r.remaining():
        raise DecodeError(f"transaction claims {count} post-conditions, more than the bytes that follow")
    post_conditions = tuple(read_post_condition(r) for _ in range(count))
    payload = _read_payload(r)
    r.expect_end()
    return Transaction(version, chain_id, Authorization(auth_type, origin, sponsor), anchor_mode, pc_mode,
                       post_conditions, payload)


# ---- builders -------------------------------------------------------------------------------------


def _unsigned(payload: Payload, public_key: bytes, nonce: int, fee: int, network, post_conditions,
              post_condition_mode: str, anchor_mode: str, sponsored: bool) -> Transaction:
    net: Network = get_network(network)
    for what, n in (("nonce", nonce), ("fee", fee)):
        if not isinstance(n, int) or not 0 <= n < 2**64:
            raise StacksError(f"{what} must be an integer in [0, 2^64), got {n!r}")
    try:
        mode = POST_CONDITION_MODES[post_condition_mode]
        anchor = ANCHOR_MODES[anchor_mode]
    except KeyError as e:
        raise StacksError(f"unknown mode {e}: post-condition modes are {list(POST_CONDITION_MODES)}, "
                          f"anchor modes {list(ANCHOR_MODES)}") from None
    encoding = KEY_COMPRESSED if len(public_key) == 33 else KEY_UNCOMPRESSED
    origin = SingleSigCondition(P2PKH, hash160(public_key), nonce, 0 if sponsored else fee, encoding)
    if sponsored:
        auth = Authorization(AUTH_SPONSORED, origin, _empty_sponsor(_PLACEHOLDER_SPONSOR_SIGNER))
    else:
        auth = Authorization(AUTH_STANDARD, origin)
    return Transaction(net.transaction_version, net.chain_id, auth, anchor, mode, tuple(post_conditions), payload)


def _finish(payload: Payload, private_key, public_key, nonce, fee, network, post_conditions,
            post_condition_mode, anchor_mode, sponsored) -> Transaction:
    if private_key is None and public_key is None:
        raise SigningError("give private_key to sign, or public_key for an unsigned transaction")
    pub = public_key_from_private_key(private_key) if private_key is not None else bytes(public_key)
    tx = _unsigned(payload, pub, nonce, fee, network, post_conditions, post_condition_mode, anchor_mode, sponsored)
    return tx.sign(private_key) if private_key is not None else tx


def make_contract_call(contract_address: str, contract_name: str, function_name: str, args, *,
                       private_key=None, public_key=None, nonce: int, fee: int, network="testnet",
                       post_conditions=(), post_condition_mode: str = "deny", anchor_mode: str = "any",
                       sponsored: bool = False) -> Transaction:
    """A contract call, signed when private_key is given. Post-condition mode is deny by default."""
    validate_contract_name(contract_name)
    payload = ContractCallPayload(contract_address, contract_name, function_name, tuple(args))
    serialize_payload(payload)  # validates names and address now, not at broadcast
    return _finish(payload, private_key, public_key, nonce, fee, network, post_conditions,
                   post_condition_mode, anchor_mode, sponsored)


def make_stx_transfer(recipient: str, amount: int, *, memo: str | bytes = b"", private_key=None, public_key=None,
                      nonce: int, fee: int, network="testnet", post_conditions=(),
                      post_condition_mode: str = "deny", anchor_mode: str = "any",
                      sponsored: bool = False) -> Transaction:
    from .clarity import principal

    raw_memo = memo.encode("utf-8") if isinstance(memo, str) else bytes(memo)
    if len(raw_memo) > MEMO_LENGTH:
        raise StacksError(f"memo is {len(raw_memo)} bytes; at most {MEMO_LENGTH} fit in a transfer")
    if not isinstance(amount, int) or not 0 <= amount < 2**64:
        raise StacksError(f"amount must be an integer in [0, 2^64) micro-STX, got {amount!r}")
    payload = TokenTransferPayload(principal(recipient), amount, raw_memo.ljust(MEMO_LENGTH, b"\0"))
    return _finish(payload, private_key, public_key, nonce, fee, network, post_conditions,
                   post_condition_mode, anchor_mode, sponsored)


def make_contract_deploy(contract_name: str, code: str, *, clarity_version: int | None = CLARITY_VERSION,
                         private_key=None, public_key=None, nonce: int, fee: int, network="testnet",
                         post_conditions=(), post_condition_mode: str = "deny", anchor_mode: str = "any",
                         sponsored: bool = False) -> Transaction:
    validate_contract_name(contract_name)
    payload = SmartContractPayload(contract_name, code, clarity_version)
    return _finish(payload, private_key, public_key, nonce, fee, network, post_conditions,
                   post_condition_mode, anchor_mode, sponsored)
