"""An encrypted key file: a Stacks private key (and optionally its BIP-39 mnemonic) under a passphrase.

The secret is sealed with AES-256-GCM under a key stretched from the passphrase by scrypt. The file is
JSON with everything needed to open it again except the passphrase:

    {"version": 1, "kind": "render-farm-keystore", "network": "testnet", "address": "ST…",
     "kdf": {"name": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": "<hex>"},
     "cipher": {"name": "aes-256-gcm", "nonce": "<hex>"},
     "check": "<hex>", "ciphertext": "<hex>"}

The header (everything but `ciphertext`) is the AEAD's associated data, so changing the address, the
network or the KDF parameters makes the file refuse to open. `check` is an HMAC of a fixed label under
the stretched key: it tells "wrong passphrase" apart from "the file was changed" (it reveals nothing a
guesser could not already learn by trying to decrypt). The public address is readable without the
passphrase, so a daemon can show who it is before asking for it.

bpy-free: shared by the provider agent and the Blender add-on's wallet.
"""

import getpass
import hashlib
import hmac
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..stacks import keys
from ..stacks.errors import InvalidKeyError

VERSION = 1
KIND = "render-farm-keystore"
DEFAULT_SCRYPT_N = 2**17  # 128 MiB and about half a second: costly to guess, quick to open once
SCRYPT_R = 8
SCRYPT_P = 1
# A file asking for more than this would let a hostile key file exhaust memory before any check.
MAX_SCRYPT_N = 2**20
PASSPHRASE_ENV = "RENDER_FARM_PASSPHRASE"
_CHECK_LABEL = b"render-farm-keystore passphrase check"


class KeystoreError(Exception):
    """A key file that cannot be created, read or opened; the message says what to do next."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not open this key file."""


@dataclass(frozen=True)
class UnlockedKey:
    private_key: str  # hex, compressed form (66 hex chars) for keys this module creates
    mnemonic: str | None

    def __repr__(self) -> str:  # never print secrets in logs or tracebacks
        return f"UnlockedKey(private_key=<hidden>, mnemonic={'<hidden>' if self.mnemonic else None})"


@dataclass(frozen=True)
class Keystore:
    path: Path
    address: str
    network: str
    document: dict

    def unlock(self, passphrase: str) -> UnlockedKey:
        """The key inside; WrongPassphrase if the passphrase is wrong, KeystoreError if the file was altered."""
        doc = self.document
        stretched = _stretch(passphrase, doc["kdf"])
        check = hmac.new(stretched, _CHECK_LABEL, hashlib.sha256).digest()
        if not hmac.compare_digest(check, bytes.fromhex(doc["check"])):
            raise WrongPassphrase(f"wrong passphrase for the key file {self.path} (address {self.address})")
        try:
            plain = AESGCM(stretched).decrypt(bytes.fromhex(doc["cipher"]["nonce"]),
                                              bytes.fromhex(doc["ciphertext"]), _associated_data(doc))
        except InvalidTag:
            raise KeystoreError(f"the key file {self.path} was altered: the passphrase is right but the "
                                "sealed key or its header does not verify; restore it from a backup") from None
        secret = json.loads(plain)
        unlocked = UnlockedKey(secret["private_key"], secret.get("mnemonic"))
        if keys.address_from_private_key(unlocked.private_key, self.network) != self.address:
            raise KeystoreError(f"the key file {self.path} holds a key whose address is not {self.address}")
        return unlocked


def create_keystore(path, passphrase: str, *, private_key: str | None = None, mnemonic: str | None = None,
                    network: str = "testnet", account_index: int = 0, overwrite: bool = False,
                    scrypt_n: int = DEFAULT_SCRYPT_N) -> Keystore:
    """Seal a key into a new key file (mode 0600, written atomically) and return it.

    With neither `private_key` nor `mnemonic`, a fresh random key is made. With a mnemonic only, the key
    is the account `account_index` derived from it; with both, they must agree.
    """
    path = Path(path)
    if not passphrase:
        raise KeystoreError("an empty passphrase would leave the key unprotected; choose a passphrase")
    if path.exists() and not overwrite:
        raise KeystoreError(f"{path} already exists; choose another path or remove it first (it may hold "
                            "the only copy of a key)")
    if network not in ("mainnet", "testnet"):
        raise KeystoreError(f"unknown network '{network}': use mainnet or testnet")
    if not (2 <= scrypt_n <= MAX_SCRYPT_N) or scrypt_n & (scrypt_n - 1):
        raise KeystoreError(f"scrypt n must be a power of two between 2 and {MAX_SCRYPT_N}")
    try:
        if mnemonic is not None:
            mnemonic = " ".join(mnemonic.split())
            derived = keys.derive_private_key(mnemonic, account_index)
            if private_key is not None and keys.parse_private_key(private_key).secret != \
                    keys.parse_private_key(derived).secret:
                raise KeystoreError(f"the private key is not account {account_index} of the mnemonic")
            private_key = private_key or derived
        elif private_key is None:
            private_key = keys.make_private_key()
        keys.parse_private_key(private_key)
    except InvalidKeyError as exc:
        raise KeystoreError(f"cannot store this key: {exc}") from None
    address = keys.address_from_private_key(private_key, network)
    kdf = {"name": "scrypt", "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P, "salt": os.urandom(16).hex()}
    doc = {"version": VERSION, "kind": KIND, "network": network, "address": address, "kdf": kdf,
           "cipher": {"name": "aes-256-gcm", "nonce": os.urandom(12).hex()}}
    stretched = _stretch(passphrase, kdf)
    doc["check"] = hmac.new(stretched, _CHECK_LABEL, hashlib.sha256).hexdigest()
    secret = json.dumps({"private_key": private_key, "mnemonic": mnemonic}).encode()
    doc["ciphertext"] = AESGCM(stretched).encrypt(bytes.fromhex(doc["cipher"]["nonce"]), secret,
                                                  _associated_data(doc)).hex()
    _write_private(path, (json.dumps(doc, indent=2) + "\n").encode())
    return Keystore(path, address, network, doc)


def load_keystore(path) -> Keystore:
    """Read a key file (without opening it); KeystoreError says what is wrong with it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeystoreError(f"no key file at {path}; create one with `python -m server provider keygen "
                            f"--key-file {path}`") from None
    except OSError as exc:
        raise KeystoreError(f"cannot read the key file {path}: {exc.strerror}") from None
    try:
        doc = json.loads(raw)
        _validate(doc)
    except (ValueError, TypeError, KeyError) as exc:
        raise KeystoreError(f"{path} is not a valid key file ({exc}); restore it from a backup") from None
    return Keystore(path, doc["address"], doc["network"], doc)


def read_passphrase(env_var: str | None = PASSPHRASE_ENV, fd: int | None = None, prompt: bool = True, *,
                    confirm: bool = False, prompt_text: str = "Key file passphrase: ") -> str:
    """The passphrase from a file descriptor (first line), else the environment variable, else a prompt.

    A file descriptor (e.g. `--passphrase-fd 3` with `3<secret-file` or a pipe) keeps the passphrase out
    of the process environment; the environment variable suits service managers' credential files.
    """
    if fd is not None:
        with os.fdopen(os.dup(fd), "rb") as stream:
            line = stream.readline()
        passphrase = line.decode().rstrip("\r\n")
        if not passphrase:
            raise KeystoreError(f"file descriptor {fd} gave an empty passphrase")
        return passphrase
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    if not prompt or not sys.stdin or not sys.stdin.isatty():
        raise KeystoreError(f"no passphrase given: set {env_var}, pass it on a file descriptor "
                            "(--passphrase-fd N), or run in a terminal to be asked")
    passphrase = getpass.getpass(prompt_text)
    if confirm and getpass.getpass("Repeat the passphrase: ") != passphrase:
        raise KeystoreError("the two passphrases differ; nothing was written")
    if not passphrase:
        raise KeystoreError("an empty passphrase was entered")
    return passphrase


# ---- internals ----------------------------------------------------------------------------------

def _stretch(passphrase: str, kdf: dict) -> bytes:
    return Scrypt(salt=bytes.fromhex(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"],
                  p=kdf["p"]).derive(passphrase.encode())


def _associated_data(doc: dict) -> bytes:
    header = {k: v for k, v in doc.items() if k not in ("ciphertext", "check")}
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def _validate(doc) -> None:
    if not isinstance(doc, dict) or doc.get("kind") != KIND:
        raise ValueError("not a render-farm keystore")
    if doc.get("version") != VERSION:
        raise ValueError(f"version {doc.get('version')!r} is not supported (this program reads {VERSION})")
    kdf, cipher = doc["kdf"], doc["cipher"]
    if kdf.get("name") != "scrypt" or cipher.get("name") != "aes-256-gcm":
        raise ValueError("unknown KDF or cipher")
    n, r, p = kdf["n"], kdf["r"], kdf["p"]
    if not all(isinstance(v, int) and v > 0 for v in (n, r, p)) or n & (n - 1) or n > MAX_SCRYPT_N \
            or r * p > 64:
        raise ValueError("scrypt parameters out of range")
    if len(bytes.fromhex(kdf["salt"])) < 16 or len(bytes.fromhex(cipher["nonce"])) != 12:
        raise ValueError("salt or nonce has the wrong length")
    bytes.fromhex(doc["check"]), bytes.fromhex(doc["ciphertext"])
    if doc["network"] not in ("mainnet", "testnet") or not keys.is_valid_address(doc["address"], doc["network"]):
        raise ValueError("the address is not a valid address of its network")


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, readable by the owner only from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
