"""Wire conventions shared by the relay and its clients: signed-request headers and the signed text.

Every request carries four headers; the signature is a Stacks message signature (recoverable
secp256k1, `addon.stacks.message`) over the canonical text below, so the relay learns the signer's
address from the signature itself and no account registration exists.
"""

from __future__ import annotations

import hashlib
import re

SIGNATURE_HEADER = "x-farm-signature"
TIMESTAMP_HEADER = "x-farm-timestamp"
NONCE_HEADER = "x-farm-nonce"
CONTENT_HASH_HEADER = "x-farm-content-sha256"
# Blob bytes are verified against their content address, so their requests do not hash the body first.
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGNING_DOMAIN = "render-farm-relay/v1"

BLOB_ID_RE = re.compile(r"^[0-9a-f]{64}$")
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str, path_and_query: str, content_sha256: str, timestamp: int, nonce: str
) -> str:
    """The exact text that is signed. `path_and_query` is the path as sent, e.g. "/v1/blobs/ab..?x=1"."""
    return "\n".join([SIGNING_DOMAIN, method.upper(), path_and_query, content_sha256, str(timestamp), nonce])
