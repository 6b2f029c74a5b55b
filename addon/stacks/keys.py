"""secp256k1 keys, hash160 and Stacks addresses; BIP-39/BIP-32 wallet derivation on the Stacks path.

Private keys are hex strings as in stacks.js: 64 digits (the public key is then uncompressed) or
66 digits ending in 01 (compressed public key). Addresses are c32check strings.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass

import coincurve

from .c32 import c32_address, c32_address_decode
from .errors import InvalidAddressError, InvalidKeyError
from .network import address_versions

STACKS_DERIVATION_PATH = "m/44'/5757'/0'/0/{index}"
_CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _from_hex(text: str, what: str) -> bytes:
    if isinstance(text, (bytes, bytearray)):
        return bytes(text)
    if not isinstance(text, str):
        raise InvalidKeyError(f"{what} must be a hex string, got {type(text).__name__}")
    text = text[2:] if text.startswith(("0x", "0X")) else text
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InvalidKeyError(f"{what} is not valid hex") from None


@dataclass(frozen=True)
class PrivateKey:
    secret: bytes  # 32 bytes
    compressed: bool

    def to_hex(self) -> str:
        return self.secret.hex() + ("01" if self.compressed else "")


def parse_private_key(private_key) -> PrivateKey:
    """Accept 64 hex digits (uncompressed) or 66 ending in 01 (compressed), or a PrivateKey."""
    if isinstance(private_key, PrivateKey):
        return private_key
    raw = _from_hex(private_key, "private key")
    if len(raw) == 33:
        if raw[32] != 1:
            raise InvalidKeyError("a 33-byte private key must end in 01 (the compressed-key flag)")
        secret, compressed = raw[:32], True
    elif len(raw) == 32:
        secret, compressed = raw, False
    else:
        raise InvalidKeyError(f"a private key is 32 bytes (64 hex digits) or 33 ending in 01, got {len(raw)}")
    if not 0 < int.from_bytes(secret, "big") < _CURVE_ORDER:
        raise InvalidKeyError("private key is out of range for secp256k1 (zero or ≥ the curve order)")
    return PrivateKey(secret, compressed)


def make_private_key(compressed: bool = True) -> str:
    """A fresh random private key, as hex (compressed by default, like wallets)."""
    return PrivateKey(coincurve.PrivateKey().secret, compressed).to_hex()


def parse_public_key(public_key) -> coincurve.PublicKey:
    raw = _from_hex(public_key, "public key")
    if len(raw) not in (33, 65):
        raise InvalidKeyError(f"a public key is 33 (compressed) or 65 (uncompressed) bytes, got {len(raw)}")
    try:
        return coincurve.PublicKey(raw)
    except (ValueError, TypeError):
        raise InvalidKeyError("public key is not a point on the secp256k1 curve") from None


def public_key_from_private_key(private_key) -> bytes:
    key = parse_private_key(private_key)
    return coincurve.PrivateKey(key.secret).public_key.format(compressed=key.compressed)


def compress_public_key(public_key) -> bytes:
    return parse_public_key(public_key).format(compressed=True)


def is_compressed_public_key(public_key: bytes) -> bool:
    return len(public_key) == 33


def hash160(data: bytes) -> bytes:
    """RIPEMD-160 of SHA-256, the hash behind every single-sig address."""
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def address_from_public_key(public_key, network: str = "mainnet") -> str:
    raw = parse_public_key(public_key).format(compressed=len(_from_hex(public_key, "public key")) == 33)
    return c32_address(address_versions(network)[0], hash160(raw))


def address_from_private_key(private_key_hex, network: str = "mainnet") -> str:
    return address_from_public_key(public_key_from_private_key(private_key_hex), network)


def derive_private_key(mnemonic: str, index: int = 0, passphrase: str = "") -> str:
    """The account key at m/44'/5757'/0'/0/index of a BIP-39 mnemonic (compressed hex, as wallets use)."""
    from mnemonic import Mnemonic

    words = " ".join(mnemonic.split())
    if not Mnemonic("english").check(words):
        raise InvalidKeyError("the mnemonic is not a valid BIP-39 phrase (unknown word or bad checksum)")
    seed = Mnemonic.to_seed(words, passphrase)
    return PrivateKey(bip32_private_key(seed, STACKS_DERIVATION_PATH.format(index=index)), True).to_hex()


def bip32_private_key(seed: bytes, path: str) -> bytes:
    """BIP-32 private child derivation of `path` ("m/44'/5757'/0'/0/0") from a seed: the 32-byte secret.

    Written here over coincurve rather than taken from the `bip32` package: that package pins
    coincurve < 21, and only coincurve 21+ has wheels for Python 3.13 (Blender 5.1+).
    """
    digest = hmac.digest(b"Bitcoin seed", seed, "sha512")
    secret, chain = int.from_bytes(digest[:32], "big"), digest[32:]
    if not 0 < secret < _CURVE_ORDER:
        raise InvalidKeyError("this seed gives no valid BIP-32 master key (probability 2^-127); use another")
    steps = path.split("/")
    if steps[0] != "m":
        raise InvalidKeyError(f"a BIP-32 path starts with m/, got {path!r}")
    for step in steps[1:]:
        hardened = step.endswith(("'", "h", "H"))
        number = step.rstrip("'hH")
        if not number.isdigit() or int(number) >= 2**31:
            raise InvalidKeyError(f"{step!r} in {path!r} is no BIP-32 index (0 to 2^31-1, ' for hardened)")
        child = int(number) + (2**31 if hardened else 0)
        parent = secret.to_bytes(32, "big")
        data = b"\0" + parent if hardened else coincurve.PrivateKey(parent).public_key.format(compressed=True)
        digest = hmac.digest(chain, data + child.to_bytes(4, "big"), "sha512")
        tweak = int.from_bytes(digest[:32], "big")
        secret, chain = (tweak + secret) % _CURVE_ORDER, digest[32:]
        if tweak >= _CURVE_ORDER or secret == 0:  # BIP-32: such an index has no key (probability 2^-127)
            raise InvalidKeyError(f"BIP-32 index {step!r} of {path!r} has no key; use the next index")
    return secret.to_bytes(32, "big")


# ---- addresses and principals -------------------------------------------------------------------

_ALL_VERSIONS = {22: ("mainnet", "single-sig"), 20: ("mainnet", "multi-sig"),
                 26: ("testnet", "single-sig"), 21: ("testnet", "multi-sig")}


def parse_address(address: str) -> tuple[int, bytes]:
    """(version, hash160) of a Stacks address; raises InvalidAddressError with the reason."""
    version, h = c32_address_decode(address)
    if version not in _ALL_VERSIONS:
        raise InvalidAddressError(f"'{address}' has version {version}, which is no Stacks address version")
    return version, h


def address_network(address: str) -> str:
    return _ALL_VERSIONS[parse_address(address)[0]][0]


def is_valid_address(address: str, network: str | None = None) -> bool:
    try:
        version, _ = parse_address(address)
    except InvalidAddressError:
        return False
    return network is None or version in address_versions(network)


def validate_address(address: str, network: str | None = None) -> str:
    """Return the address when valid (for the network, if given); else raise with the reason."""
    version, _ = parse_address(address)
    if network is not None and version not in address_versions(network):
        raise InvalidAddressError(
            f"'{address}' is a {_ALL_VERSIONS[version][0]} address, expected a {network} one"
        )
    return address


CONTRACT_NAME = re.compile(r"[a-zA-Z]([a-zA-Z0-9]|[-_])*")  # checked with fullmatch


def validate_contract_name(name: str) -> str:
    if not isinstance(name, str) or not CONTRACT_NAME.fullmatch(name) or len(name) > 128:
        raise InvalidAddressError(f"'{name}' is not a valid contract name (letter first, then letters, digits, - or _)")
    return name


def parse_principal(principal: str, strict: bool = True) -> tuple[str, str | None]:
    """Split 'ADDR' or 'ADDR.contract-name' into (address, contract name or None), validating both.

    strict=False accepts any c32 version < 32, as the wire format does (used when re-encoding decoded data)."""
    if not isinstance(principal, str):
        raise InvalidAddressError(f"a principal is a string, got {type(principal).__name__}")
    address, dot, name = principal.partition(".")
    if strict:
        parse_address(address)
    else:
        c32_address_decode(address)
    if dot:
        validate_contract_name(name)
        return address, name
    return address, None
