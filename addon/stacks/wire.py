"""Wire-format primitives shared by Clarity values, post-conditions and transactions.

ByteReader is a bounds-checked cursor, so every decoder fails with DecodeError instead of IndexError.
"""

from .c32 import c32_address, c32_address_decode
from .errors import DecodeError, StacksError
from .keys import validate_contract_name


class ByteReader:
    def __init__(self, data: bytes, what: str = "data"):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise DecodeError(f"{what}: expected bytes, got {type(data).__name__}")
        self.data = bytes(data)
        self.pos = 0
        self.what = what

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError(
                f"{self.what} is truncated: needed {n} bytes at offset {self.pos}, "
                f"only {self.remaining()} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.read(1)[0]

    def u32(self) -> int:
        return int.from_bytes(self.read(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.read(8), "big")

    def expect_end(self) -> None:
        if self.remaining():
            raise DecodeError(f"{self.what} has {self.remaining()} unexpected trailing bytes at offset {self.pos}")


# ---- length-prefixed strings and addresses (SIP-005) ----------------------------------------------


def lp_string(text: str, width: int = 1) -> bytes:
    """A string behind its byte length: 1 byte for names (at most 128), 4 bytes for code bodies (UTF-8)."""
    data = text.encode("utf-8" if width == 4 else "ascii")
    if width == 1 and len(data) > 128:
        raise StacksError(f"'{text[:20]}…' is longer than 128 bytes")
    return len(data).to_bytes(width, "big") + data


def read_lp_string(r: ByteReader, what: str) -> str:
    raw = r.read(r.u8())
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError(f"{what} is not ASCII") from None


def read_contract_name(r: ByteReader) -> str:
    name = read_lp_string(r, "contract name")
    try:
        return validate_contract_name(name)
    except StacksError as e:
        raise DecodeError(str(e)) from None


def address_bytes(address: str) -> bytes:
    """Version byte and hash160 of an address, as they travel in payloads and post-conditions."""
    version, h = c32_address_decode(address)
    return bytes([version]) + h


def read_address(r: ByteReader) -> str:
    version = r.u8()
    h = r.read(20)
    if version >= 32:
        raise DecodeError(f"address version {version} is out of range (must be < 32)")
    return c32_address(version, h)
