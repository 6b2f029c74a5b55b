"""A bounds-checked cursor over bytes, so every decoder fails with DecodeError instead of IndexError."""

from .errors import DecodeError


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
