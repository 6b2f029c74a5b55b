"""Clarity values: plain frozen dataclasses, their consensus serialization (SIP-005) and Clarity-style repr.

Tuple keys serialize in byte order, as the Clarity VM does (BTreeMap). Decoding is strict: every
malformed input raises DecodeError (truncation, unknown prefix, oversize length, invalid characters,
trailing bytes), never a wrong value.
"""

import re
from dataclasses import dataclass, field
from functools import lru_cache

from .c32 import c32_address, c32_address_decode
from .errors import DecodeError, StacksError
from .keys import CONTRACT_NAME, parse_principal, validate_contract_name
from .wire import ByteReader

INT_MIN, INT_MAX = -(2**127), 2**127 - 1
UINT_MAX = 2**128 - 1
MAX_VALUE_SIZE = 1024 * 1024  # the VM refuses any value larger than 1 MiB
MAX_DEPTH = 32  # the VM's nesting limit for values

# Names are checked with fullmatch: `$` alone would let a trailing newline through.
CLARITY_NAME = re.compile(r"[a-zA-Z]([a-zA-Z0-9]|[-_!?+<>=/*])*|[-+=/*]|[<>]=?")


class T:
    """Type prefixes of the wire format."""

    INT, UINT, BUFFER, TRUE, FALSE = 0x00, 0x01, 0x02, 0x03, 0x04
    PRINCIPAL_STANDARD, PRINCIPAL_CONTRACT = 0x05, 0x06
    OK, ERR, NONE, SOME = 0x07, 0x08, 0x09, 0x0A
    LIST, TUPLE, STRING_ASCII, STRING_UTF8 = 0x0B, 0x0C, 0x0D, 0x0E


class ClarityValue:
    """Base class of every Clarity value."""

    def serialize(self) -> bytes:
        return serialize(self)

    def __str__(self) -> str:
        return to_repr(self)


def _ascii_ok(text: str) -> bool:
    # The VM accepts alphanumerics, punctuation and whitespace (space, \t, \n, \x0c, \r).
    return all(0x21 <= ord(c) <= 0x7E or c in " \t\n\x0c\r" for c in text)


@dataclass(frozen=True)
class Int(ClarityValue):
    value: int

    def __post_init__(self):
        if not isinstance(self.value, int) or isinstance(self.value, bool) or not INT_MIN <= self.value <= INT_MAX:
            raise StacksError(f"int must be an integer in [-2^127, 2^127-1], got {self.value!r}")


@dataclass(frozen=True)
class UInt(ClarityValue):
    value: int

    def __post_init__(self):
        if not isinstance(self.value, int) or isinstance(self.value, bool) or not 0 <= self.value <= UINT_MAX:
            raise StacksError(f"uint must be an integer in [0, 2^128-1], got {self.value!r}")


@dataclass(frozen=True)
class Bool(ClarityValue):
    value: bool


@dataclass(frozen=True)
class Buffer(ClarityValue):
    value: bytes

    def __post_init__(self):
        if not isinstance(self.value, (bytes, bytearray)):
            raise StacksError(f"buffer holds bytes, got {type(self.value).__name__}")
        object.__setattr__(self, "value", bytes(self.value))


@dataclass(frozen=True)
class StringAscii(ClarityValue):
    value: str

    def __post_init__(self):
        if not isinstance(self.value, str) or not _ascii_ok(self.value):
            raise StacksError("string-ascii holds only printable ASCII and whitespace")


@dataclass(frozen=True)
class StringUtf8(ClarityValue):
    value: str

    def __post_init__(self):
        if not isinstance(self.value, str):
            raise StacksError(f"string-utf8 holds str, got {type(self.value).__name__}")
        try:
            self.value.encode("utf-8")
        except UnicodeEncodeError:
            raise StacksError("string-utf8 cannot hold lone surrogates") from None


@dataclass(frozen=True)
class StandardPrincipal(ClarityValue):
    address: str

    # Any c32 version < 32 is a valid principal to the VM; wallets only make the four known ones.
    def __post_init__(self):
        c32_address_decode(self.address)

    @property
    def version(self) -> int:
        return c32_address_decode(self.address)[0]

    @property
    def hash160(self) -> bytes:
        return c32_address_decode(self.address)[1]


@dataclass(frozen=True)
class ContractPrincipal(ClarityValue):
    address: str
    name: str

    def __post_init__(self):
        c32_address_decode(self.address)
        validate_contract_name(self.name)

    @property
    def contract_id(self) -> str:
        return f"{self.address}.{self.name}"


@dataclass(frozen=True)
class Some(ClarityValue):
    value: ClarityValue


@dataclass(frozen=True)
class NoneType(ClarityValue):
    pass


NONE = NoneType()


@dataclass(frozen=True)
class Ok(ClarityValue):
    value: ClarityValue


@dataclass(frozen=True)
class Err(ClarityValue):
    value: ClarityValue


@dataclass(frozen=True)
class List(ClarityValue):
    items: tuple = ()

    def __post_init__(self):
        object.__setattr__(self, "items", tuple(self.items))


@dataclass(frozen=True)
class Tuple(ClarityValue):
    data: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.data:
            raise StacksError("a tuple needs at least one key (the Clarity VM has no empty tuples)")
        for key in self.data:
            if not isinstance(key, str) or not CLARITY_NAME.fullmatch(key) or len(key) > 128:
                raise StacksError(f"'{key}' is not a valid Clarity tuple key")
        object.__setattr__(self, "data", dict(sorted(self.data.items(), key=lambda kv: kv[0].encode())))

    def __getitem__(self, key):
        return self.data[key]

    def __hash__(self):
        return hash(tuple(self.data.items()))


TRUE, FALSE = Bool(True), Bool(False)


# ---- constructors ---------------------------------------------------------------------------------


def principal(text: str) -> ClarityValue:
    """'SP…' → StandardPrincipal, 'SP….name' → ContractPrincipal."""
    address, name = parse_principal(text)
    return ContractPrincipal(address, name) if name else StandardPrincipal(address)


def optional(value: ClarityValue | None) -> ClarityValue:
    return NONE if value is None else Some(value)


# ---- serialization --------------------------------------------------------------------------------


def _length_prefixed(n: int) -> bytes:
    return n.to_bytes(4, "big")


def serialize(value: ClarityValue) -> bytes:
    out = bytearray()
    _write(value, out)
    return bytes(out)


def _write(v: ClarityValue, out: bytearray) -> None:
    match v:
        case Int(n):
            out += bytes([T.INT]) + n.to_bytes(16, "big", signed=True)
        case UInt(n):
            out += bytes([T.UINT]) + n.to_bytes(16, "big")
        case Bool(b):
            out.append(T.TRUE if b else T.FALSE)
        case Buffer(b):
            out += bytes([T.BUFFER]) + _length_prefixed(len(b)) + b
        case StringAscii(s):
            data = s.encode("ascii")
            out += bytes([T.STRING_ASCII]) + _length_prefixed(len(data)) + data
        case StringUtf8(s):
            data = s.encode("utf-8")
            out += bytes([T.STRING_UTF8]) + _length_prefixed(len(data)) + data
        case StandardPrincipal():
            version, h = c32_address_decode(v.address)
            out += bytes([T.PRINCIPAL_STANDARD, version]) + h
        case ContractPrincipal():
            version, h = c32_address_decode(v.address)
            name = v.name.encode("ascii")
            out += bytes([T.PRINCIPAL_CONTRACT, version]) + h + bytes([len(name)]) + name
        case Some(inner):
            out.append(T.SOME)
            _write(inner, out)
        case NoneType():
            out.append(T.NONE)
        case Ok(inner):
            out.append(T.OK)
            _write(inner, out)
        case Err(inner):
            out.append(T.ERR)
            _write(inner, out)
        case List(items):
            out += bytes([T.LIST]) + _length_prefixed(len(items))
            for item in items:
                _write(item, out)
        case Tuple(data):
            out += bytes([T.TUPLE]) + _length_prefixed(len(data))
            for key, item in data.items():
                name = key.encode("ascii")
                out += bytes([len(name)]) + name
                _write(item, out)
        case _:
            raise StacksError(f"cannot serialize {v!r}: not a Clarity value")


def deserialize(data: bytes) -> ClarityValue:
    """Decode exactly one value; trailing bytes are an error."""
    reader = ByteReader(data, "Clarity value")
    value = read_value(reader)
    reader.expect_end()
    return value


def read_value(r: ByteReader, depth: int = 0) -> ClarityValue:
    if depth > MAX_DEPTH:
        raise DecodeError(f"Clarity value nests deeper than {MAX_DEPTH} levels")
    at = r.pos
    prefix = r.u8()
    if prefix == T.INT:
        return Int(int.from_bytes(r.read(16), "big", signed=True))
    if prefix == T.UINT:
        return UInt(int.from_bytes(r.read(16), "big"))
    if prefix == T.BUFFER:
        return Buffer(r.read(_read_length(r, "buffer")))
    if prefix == T.TRUE:
        return TRUE
    if prefix == T.FALSE:
        return FALSE
    if prefix == T.PRINCIPAL_STANDARD:
        return _standard_principal(r)
    if prefix == T.PRINCIPAL_CONTRACT:
        address = _standard_principal(r).address
        name = _read_name(r, CONTRACT_NAME, "contract name")
        return ContractPrincipal(address, name)
    if prefix == T.OK:
        return Ok(read_value(r, depth + 1))
    if prefix == T.ERR:
        return Err(read_value(r, depth + 1))
    if prefix == T.NONE:
        return NONE
    if prefix == T.SOME:
        return Some(read_value(r, depth + 1))
    if prefix == T.LIST:
        n = _read_count(r, "list")
        return List(tuple(read_value(r, depth + 1) for _ in range(n)))
    if prefix == T.TUPLE:
        n = _read_count(r, "tuple")
        if not n:
            raise DecodeError("empty tuple (the Clarity VM has no empty tuples)")
        items = {}
        for _ in range(n):
            key = _read_name(r, CLARITY_NAME, "tuple key")
            if key in items:
                raise DecodeError(f"tuple repeats the key '{key}'")
            items[key] = read_value(r, depth + 1)
        return Tuple(items)
    if prefix == T.STRING_ASCII:
        raw = r.read(_read_length(r, "string-ascii"))
        try:
            return StringAscii(raw.decode("ascii"))
        except (UnicodeDecodeError, StacksError):
            raise DecodeError("string-ascii holds a byte that is not printable ASCII") from None
    if prefix == T.STRING_UTF8:
        raw = r.read(_read_length(r, "string-utf8"))
        try:
            return StringUtf8(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise DecodeError("string-utf8 is not valid UTF-8") from None
    raise DecodeError(f"unknown Clarity type prefix 0x{prefix:02x} at offset {at}")


def _read_length(r: ByteReader, what: str) -> int:
    n = r.u32()
    if n > MAX_VALUE_SIZE:
        raise DecodeError(f"{what} length {n} exceeds the 1 MiB value limit")
    if n > r.remaining():
        raise DecodeError(f"{what} claims {n} bytes but only {r.remaining()} follow")
    return n


def _read_count(r: ByteReader, what: str) -> int:
    n = r.u32()
    if n > r.remaining():  # every element takes at least one byte
        raise DecodeError(f"{what} claims {n} elements but only {r.remaining()} bytes follow")
    return n


def _read_name(r: ByteReader, pattern: re.Pattern, what: str) -> str:
    return _valid_name(r.read(r.u8()), pattern, what)


@lru_cache(maxsize=4096)  # tuple keys and contract names repeat across values
def _valid_name(raw: bytes, pattern: re.Pattern, what: str) -> str:
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError(f"{what} is not ASCII") from None
    if not raw or not pattern.fullmatch(name):
        raise DecodeError(f"'{name}' is not a valid {what}")
    return name


def _standard_principal(r: ByteReader) -> StandardPrincipal:
    version = r.u8()
    h = r.read(20)
    if version >= 32:
        raise DecodeError(f"principal version {version} is out of range (must be < 32)")
    return StandardPrincipal(c32_address(version, h))


# ---- hex helpers ----------------------------------------------------------------------------------


def to_hex(value: ClarityValue) -> str:
    return "0x" + serialize(value).hex()


def from_hex(text: str) -> ClarityValue:
    if not isinstance(text, str):
        raise DecodeError(f"expected a hex string, got {type(text).__name__}")
    try:
        data = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise DecodeError("not valid hex") from None
    return deserialize(data)


# ---- readable forms -------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_repr(v: ClarityValue) -> str:
    """Clarity source-like text, as the node's `repr`: u1, -2, 0xbeef, "hi", u"hi", 'SP…, (some u1)."""
    match v:
        case Int(n):
            return str(n)
        case UInt(n):
            return f"u{n}"
        case Bool(b):
            return "true" if b else "false"
        case Buffer(b):
            return "0x" + b.hex()
        case StringAscii(s):
            return _quote(s)
        case StringUtf8(s):
            return "u" + _quote(s)
        case StandardPrincipal():
            return "'" + v.address
        case ContractPrincipal():
            return "'" + v.contract_id
        case Some(inner):
            return f"(some {to_repr(inner)})"
        case NoneType():
            return "none"
        case Ok(inner):
            return f"(ok {to_repr(inner)})"
        case Err(inner):
            return f"(err {to_repr(inner)})"
        case List(items):
            return "(list" + "".join(" " + to_repr(i) for i in items) + ")"
        case Tuple(data):
            return "(tuple" + "".join(f" ({k} {to_repr(x)})" for k, x in data.items()) + ")"
    raise StacksError(f"{v!r} is not a Clarity value")


def to_python(v: ClarityValue):
    """Plain Python: ints, bools, bytes, str, principals as str, none → None, some x → x,
    (ok x) → {"ok": x}, (err x) → {"err": x}, lists → list, tuples → dict."""
    match v:
        case Int(n) | UInt(n):
            return n
        case Bool(b):
            return b
        case Buffer(b):
            return b
        case StringAscii(s) | StringUtf8(s):
            return s
        case StandardPrincipal():
            return v.address
        case ContractPrincipal():
            return v.contract_id
        case Some(inner):
            return to_python(inner)
        case NoneType():
            return None
        case Ok(inner):
            return {"ok": to_python(inner)}
        case Err(inner):
            return {"err": to_python(inner)}
        case List(items):
            return [to_python(i) for i in items]
        case Tuple(data):
            return {k: to_python(x) for k, x in data.items()}
    raise StacksError(f"{v!r} is not a Clarity value")
