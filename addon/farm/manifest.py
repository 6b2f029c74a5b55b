"""The two documents a job's parties exchange through the relay, and their strict JSON form.

- The scene manifest (requester → provider): every file of the packed scene (package path, blob id,
  file key, plaintext sha256 and size), the main .blend, the frames, render settings and the Blender
  version. It travels sealed (see `seal_scene_manifest`) and its envelope's sha256 is the job's
  on-chain `scene-hash`.
- The result manifest (provider → requester): each frame's blob, sha256 and size, and the previews.
  It travels encrypted; sha256 of its ciphertext is the on-chain `result-hash`.

Decoding is strict: an unknown format or version, a missing or unknown field, a wrong type or an
unsafe package path raises ManifestError naming the field. docs/manifests.md documents the format.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import re
import secrets
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..stacks import keys
from . import crypto, exchange
from .errors import AuthorizationError, IntegrityError, ManifestError

SCENE_FORMAT = "render-farm/scene-manifest"
RESULT_FORMAT = "render-farm/result-manifest"
VERSION = 1
MAX_DOCUMENT_BYTES = 16 << 20  # a manifest of ~100k files; the relay bounds documents too
MAX_PATH_LENGTH = 1024

_HEX64 = re.compile(r"[0-9a-f]{64}")
_WINDOWS_DRIVE = re.compile(r"[A-Za-z]:")


# ---- documents --------------------------------------------------------------------------------------


class _Document(abc.ABC):
    """Strict JSON form shared by both manifests; each names its FORMAT and checks its own values."""

    FORMAT = ""

    def to_bytes(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes):
        document = _from_bytes(cls, data, cls.FORMAT)
        document.check()
        return document

    @abc.abstractmethod
    def check(self) -> None:
        """Raise ManifestError for a value its type allows but the format does not."""


@dataclass(frozen=True)
class SceneFile:
    path: str  # package path: relative, "/"-separated, never leaving the package
    blob: str  # blob id on the relay: sha256 of the ciphertext
    key: str  # hex of the file's AES key (convergent: derived from the requester's secret and sha256)
    sha256: str  # hex sha256 of the plaintext, checked by the provider before rendering
    size: int  # plaintext bytes


@dataclass(frozen=True)
class FrameRange:
    start: int
    end: int
    step: int = 1

    def frames(self) -> list[int]:
        return list(range(self.start, self.end + 1, self.step))


@dataclass(frozen=True)
class RenderSettings:
    """What the provider must honour; everything else comes from the .blend itself."""

    engine: str = "CYCLES"
    file_format: str = "PNG"  # Blender's image_settings.file_format
    resolution_x: int = 1920
    resolution_y: int = 1080
    resolution_percentage: int = 100
    samples: int | None = None  # None: the scene's own


@dataclass(frozen=True)
class SceneManifest(_Document):
    requester: str  # addresses of the two parties: the provider refuses a manifest not made for it
    provider: str
    blender_version: str  # "5.0.1": the provider renders with this Blender or declines
    main_blend: str  # package path of the .blend to open
    frames: FrameRange
    render: RenderSettings
    files: list[SceneFile]
    format: str = SCENE_FORMAT
    version: int = VERSION

    def file(self, path: str) -> SceneFile:
        for item in self.files:
            if item.path == path:
                return item
        raise KeyError(path)

    FORMAT = SCENE_FORMAT

    def check(self) -> None:
        _check_scene(self)


@dataclass(frozen=True)
class ResultFrame:
    frame: int
    blob: str
    sha256: str  # of the plaintext image
    size: int
    extension: str  # ".png", ".exr": how the requester names the file


@dataclass(frozen=True)
class Preview:
    frame: int
    name: str  # the relay's name for the encrypted preview


@dataclass(frozen=True)
class ResultManifest(_Document):
    job_id: int
    frames: list[ResultFrame]
    previews: list[Preview] = field(default_factory=list)
    format: str = RESULT_FORMAT
    version: int = VERSION

    FORMAT = RESULT_FORMAT

    def check(self) -> None:
        _check_result(self)


# ---- package paths ----------------------------------------------------------------------------------


def check_package_path(path: str) -> str:
    """A package path is relative, "/"-separated, and cannot leave the package: raise ManifestError if not."""
    if not isinstance(path, str) or not path or len(path) > MAX_PATH_LENGTH:
        raise ManifestError(f"package path {path!r} is empty or longer than {MAX_PATH_LENGTH} characters")
    parts = path.split("/")
    if (path.startswith("/") or "\\" in path or "\x00" in path or _WINDOWS_DRIVE.match(path)
            or any(part in ("", ".", "..") for part in parts)):
        raise ManifestError(f"package path {path!r} is absolute or leaves the package: refused")
    if any(ord(ch) < 32 for ch in path):
        raise ManifestError(f"package path {path!r} holds control characters: refused")
    return path


def resolve_in(root: Path, path: str) -> Path:
    """The file for package path `path` under `root`, guaranteed to stay inside `root`."""
    target = (root / PurePosixPath(check_package_path(path))).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ManifestError(f"package path {path!r} resolves outside the job directory: refused")
    return target


# ---- the sealed scene manifest ----------------------------------------------------------------------

ENVELOPE_MAGIC = b"RFSM"
ENVELOPE_VERSION = 1
_SALT_SIZE = 32
_KEY_SIZE = 33
_ENVELOPE_HEAD = len(ENVELOPE_MAGIC) + 1 + _KEY_SIZE + _SALT_SIZE


def seal_scene_manifest(manifest: SceneManifest, requester_private_key: str, provider_public_key: bytes,
                        salt: bytes | None = None) -> bytes:
    """The envelope the relay stores and whose sha256 goes on chain as the job's scene-hash.

    magic "RFSM" | version | requester's compressed public key (33) | salt (32) | ciphertext. The key is
    derived from the pair's ECDH secret and the salt, which the requester picks before sending
    create-jobs: nothing depends on the job id the chain will assign.
    """
    salt = salt if salt is not None else secrets.token_bytes(_SALT_SIZE)
    if len(salt) != _SALT_SIZE:
        raise ValueError("the salt is 32 bytes")
    requester_key = keys.compress_public_key(keys.public_key_from_private_key(requester_private_key))
    shared = exchange.shared_secret(requester_private_key, provider_public_key)
    sealed = crypto.encrypt_message(exchange.scene_manifest_key(shared, salt), manifest.to_bytes())
    return ENVELOPE_MAGIC + bytes([ENVELOPE_VERSION]) + requester_key + salt + sealed


def envelope_requester_key(envelope: bytes) -> bytes:
    """The requester's public key written in the envelope (check it against the chain before use)."""
    if len(envelope) < _ENVELOPE_HEAD or envelope[:4] != ENVELOPE_MAGIC:
        raise ManifestError("the scene manifest is not a sealed render-farm manifest")
    if envelope[4] != ENVELOPE_VERSION:
        raise ManifestError(f"sealed manifest version {envelope[4]} is not supported (update the add-on/agent)")
    return envelope[5 : 5 + _KEY_SIZE]


def open_scene_manifest(envelope: bytes, provider_private_key: str, requester_address: str,
                        network: str = "testnet") -> SceneManifest:
    """Open a sealed scene manifest as its provider.

    `requester_address` is the job's requester as the chain records it: the public key in the envelope
    must be that account's (its hash is the address), so nobody else — the relay included — can pass
    off a manifest of its own making. The provider thus takes the requester's key from the chain's record.
    """
    requester_key = envelope_requester_key(envelope)
    try:
        owner = keys.address_from_public_key(requester_key, network)
    except Exception as exc:
        raise ManifestError(f"the sealed manifest's public key is invalid: {exc}") from exc
    if keys.parse_address(owner)[1] != keys.parse_address(requester_address)[1]:
        raise AuthorizationError(f"the scene manifest was sealed by {owner}, not by the job's requester "
                                 f"{requester_address}: refused")
    salt = envelope[5 + _KEY_SIZE : _ENVELOPE_HEAD]
    return _open_sealed(envelope, exchange.shared_secret(provider_private_key, requester_key), salt)


def open_own_scene_manifest(envelope: bytes, requester_private_key: str, provider_public_key: bytes) -> SceneManifest:
    """The requester reads back a manifest it sealed for `provider_public_key` (e.g. to reassign the job)."""
    envelope_requester_key(envelope)
    salt = envelope[5 + _KEY_SIZE : _ENVELOPE_HEAD]
    return _open_sealed(envelope, exchange.shared_secret(requester_private_key, provider_public_key), salt)


def _open_sealed(envelope: bytes, shared: bytes, salt: bytes) -> SceneManifest:
    try:
        plain = crypto.decrypt_bytes(exchange.scene_manifest_key(shared, salt), envelope[_ENVELOPE_HEAD:])
    except crypto.DecryptionError as exc:
        raise IntegrityError("the scene manifest does not decrypt with this pair's key: it was sealed for "
                             "another provider or altered") from exc
    return SceneManifest.from_bytes(plain)


# ---- strict JSON ------------------------------------------------------------------------------------


def _from_bytes(cls, data: bytes, expected_format: str):
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ManifestError(f"the manifest is larger than {MAX_DOCUMENT_BYTES >> 20} MiB")
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"the manifest is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ManifestError("the manifest is not a JSON object")
    if obj.get("format") != expected_format:
        raise ManifestError(f"format is {obj.get('format')!r}, expected {expected_format!r}")
    if obj.get("version") != VERSION:
        raise ManifestError(f"{expected_format} version {obj.get('version')!r} is not supported "
                            f"(this client reads version {VERSION}): update the add-on or agent")
    return _decode(cls, obj, "manifest")


def _decode(kind, value, where: str):
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _decode(inner, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ManifestError(f"{where} must be a list")
        (item,) = typing.get_args(kind)
        return [_decode(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ManifestError(f"{where} must be an object")
        hints = typing.get_type_hints(kind)
        names = {f.name for f in dataclasses.fields(kind)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise ManifestError(f"{where} has unknown field(s) {unknown}")
        missing = sorted(f.name for f in dataclasses.fields(kind) if f.name not in value)
        if missing:
            raise ManifestError(f"{where} lacks field(s) {missing}")
        return kind(**{name: _decode(hints[name], value[name], f"{where}.{name}") for name in names})
    if kind is int:
        if type(value) is not int or not -(2**63) <= value < 2**63:
            raise ManifestError(f"{where} must be an integer")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ManifestError(f"{where} must be a string")
        return value
    raise TypeError(f"no decoder for {kind!r}")  # a programming error in this module


def _hex64(value: str, where: str) -> None:
    if not _HEX64.fullmatch(value):
        raise ManifestError(f"{where} must be 64 lower-case hex digits")


def _check_scene(m: SceneManifest) -> None:
    for what in ("requester", "provider"):
        if not keys.is_valid_address(getattr(m, what)):
            raise ManifestError(f"manifest.{what} is not a Stacks address")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", m.blender_version):
        raise ManifestError(f"manifest.blender_version {m.blender_version!r} is not like 5.0.1")
    if m.frames.step < 1 or m.frames.start < 0 or m.frames.end < m.frames.start:
        raise ManifestError("manifest.frames must have 0 <= start <= end and step >= 1")
    seen = set()
    for i, item in enumerate(m.files):
        check_package_path(item.path)
        if item.path in seen:
            raise ManifestError(f"manifest.files lists {item.path!r} twice")
        seen.add(item.path)
        _hex64(item.blob, f"manifest.files[{i}].blob")
        _hex64(item.key, f"manifest.files[{i}].key")
        _hex64(item.sha256, f"manifest.files[{i}].sha256")
        if item.size < 0:
            raise ManifestError(f"manifest.files[{i}].size is negative")
    if m.main_blend not in seen:
        raise ManifestError(f"manifest.main_blend {m.main_blend!r} is not among the files")
    r = m.render
    if not (0 < r.resolution_x <= 65536 and 0 < r.resolution_y <= 65536 and 0 < r.resolution_percentage <= 100):
        raise ManifestError("manifest.render resolution is out of range")
    if r.samples is not None and r.samples < 1:
        raise ManifestError("manifest.render.samples must be at least 1")


def _check_result(m: ResultManifest) -> None:
    if m.job_id < 0:
        raise ManifestError("manifest.job_id is negative")
    frames = [f.frame for f in m.frames]
    if len(set(frames)) != len(frames):
        raise ManifestError("the result manifest lists a frame twice")
    for i, item in enumerate(m.frames):
        _hex64(item.blob, f"manifest.frames[{i}].blob")
        _hex64(item.sha256, f"manifest.frames[{i}].sha256")
        if item.size < 0 or not re.fullmatch(r"\.[a-z0-9]{1,8}", item.extension):
            raise ManifestError(f"manifest.frames[{i}] has a bad size or extension")
    for i, preview in enumerate(m.previews):
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,128}", preview.name):
            raise ManifestError(f"manifest.previews[{i}].name is not a safe name")
