"""Client of the relay, used by the add-on (requester) and the provider agent: one object per account.

It puts together the relay's parts, each in its own module:
- relay_transport: signed requests with retries, and the http.client fast path;
- relay_blobs: the resumable blob protocol (missing, uploads that resume, verified downloads);
- relay_uploads: encrypt-and-dedup uploads of whole files, with the hash cache;
- relay_documents: a job's documents (scene and result manifests, previews, progress).
"""

from __future__ import annotations

from .hash_cache import HashCache
from .relay_blobs import PART_SIZE, BlobEndpoints, CorruptDownload
from .relay_documents import JobDocuments
from .relay_errors import RelayRefused, RelayUnavailable
from .relay_transport import SignedTransport
from .relay_uploads import FileUploader, UploadedFile, UploadReport

__all__ = ["RelayClient", "RelayRefused", "RelayUnavailable", "CorruptDownload", "UploadedFile", "UploadReport"]


class RelayClient:
    def __init__(self, base_url: str, private_key: str, *, timeout: float = 60.0, retries: int = 6,
                 backoff: float = 0.25, part_size: int = PART_SIZE, hash_cache: HashCache | None = None):
        self.transport = SignedTransport(base_url, private_key, timeout=timeout, retries=retries, backoff=backoff)
        self.blobs = BlobEndpoints(self.transport, part_size)
        self.uploader = FileUploader(self.blobs, hash_cache)
        self.jobs = JobDocuments(self.transport)
        self.base_url = self.transport.base_url
        # The pieces callers use most, by name.
        self.request = self.transport.request
        self.info = self.transport.info
        self.missing = self.blobs.missing
        self.upload_blob = self.blobs.upload_blob
        self.upload_by_token = self.blobs.upload_by_token
        self.upload_status = self.blobs.upload_status
        self.download_blob = self.blobs.download_blob
        self.download_file = self.blobs.download_file
        self.iter_blob = self.blobs.iter_blob
        self.upload_files = self.uploader.upload_files

    @property
    def bytes_sent(self) -> int:
        return self.blobs.bytes_sent

    @property
    def upload_interruptions(self) -> int:
        return self.blobs.upload_interruptions

    @property
    def hash_cache(self) -> HashCache:
        return self.uploader.hash_cache

    def close(self) -> None:
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
