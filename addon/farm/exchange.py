"""Keys and commitments of the fair exchange between a job's requester and its provider.

ECDH on the two wallets' keys gives both parties the same secret, which the relay never learns.
Each purpose gets its own key from it (docs/contract.md, "Why the fair exchange works"):

- scene manifest: the provider reads it as soon as the job exists. Its key comes from a salt the
  requester picks before create-jobs (the job id is not known until the transaction is mined);
- previews and the result manifest: the requester reads them as soon as they are uploaded, to judge
  the work before paying;
- frames: their keys also need r, the provider's secret, which becomes public only when `claim`
  moves the reward to the provider. So the requester gets the frames exactly when the provider is paid.
"""

import hashlib
import secrets

from ..stacks import keys
from . import crypto


def shared_secret(my_private_key: str, their_address_public_key: bytes) -> bytes:
    """The ECDH secret of this requester/provider pair (the same from either side)."""
    return crypto.ecdh_shared_secret(my_private_key, keys.compress_public_key(their_address_public_key))


def scene_manifest_key(shared: bytes, salt: bytes) -> bytes:
    """Key of one sealed scene manifest (addon.farm.manifest.seal_scene_manifest)."""
    if len(salt) != 32:
        raise ValueError("the scene manifest salt is 32 bytes")
    return crypto.hkdf(shared, salt=b"render-farm/v1", info=b"scene-manifest|" + salt)


def result_manifest_key(shared: bytes, job_id: int) -> bytes:
    return crypto.job_key(shared, job_id, "result-manifest")


def preview_key(shared: bytes, job_id: int) -> bytes:
    return crypto.job_key(shared, job_id, "preview")


def frames_secret(shared: bytes, job_id: int, reveal_secret: bytes) -> bytes:
    """The convergent secret behind every frame's key; derivable only once r is known."""
    if len(reveal_secret) != 32:
        raise ValueError("the reveal secret r is 32 bytes")
    return crypto.job_key(shared, job_id, "frames", extra=reveal_secret)


def new_reveal_secret() -> bytes:
    return secrets.token_bytes(32)


def commitment(reveal_secret: bytes) -> bytes:
    """sha256(r), what submit-result commits to and claim checks."""
    return hashlib.sha256(reveal_secret).digest()


def result_hash(result_manifest_ciphertext: bytes) -> bytes:
    """What submit-result records: the exact result manifest (frame blob ids and hashes) uploaded."""
    return hashlib.sha256(result_manifest_ciphertext).digest()
