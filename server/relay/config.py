"""Relay settings, from command-line flags with environment-variable defaults (RELAY_*)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

GiB = 1 << 30
MiB = 1 << 20


def _env(name: str, default, cast=str):
    raw = os.environ.get("RELAY_" + name)
    return default if raw is None or raw == "" else cast(raw)


@dataclass
class RelayConfig:
    data_dir: Path = field(default_factory=lambda: Path(_env("DATA", "relay-data")))
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: _env("PORT", 8780, int))
    # Stacks node/API URL used to read job parties from the contract.
    node_url: str | None = field(default_factory=lambda: _env("NODE", None))
    contract: str | None = field(default_factory=lambda: _env("CONTRACT", None))  # "ST….render-farm"
    # A local job table instead of the chain (tests, offline demos).
    jobs_table: Path | None = field(default_factory=lambda: _env("JOBS_TABLE", None, Path))
    network: str = field(default_factory=lambda: _env("NETWORK", "testnet"))
    max_blob_bytes: int = field(default_factory=lambda: _env("MAX_BLOB_BYTES", 64 * GiB, int))
    max_document_bytes: int = field(default_factory=lambda: _env("MAX_DOCUMENT_BYTES", 16 * MiB, int))
    quota_bytes: int = field(default_factory=lambda: _env("QUOTA_BYTES", 200 * GiB, int))
    clock_skew: int = field(default_factory=lambda: _env("CLOCK_SKEW", 300, int))
    rate_per_second: float = field(default_factory=lambda: _env("RATE", 200.0, float))
    rate_burst: int = field(default_factory=lambda: _env("BURST", 400, int))
    authority_ttl: float = field(default_factory=lambda: _env("AUTHORITY_TTL", 5.0, float))
    gc_grace: float = field(default_factory=lambda: _env("GC_GRACE", 24 * 3600.0, float))
    gc_interval: float = field(default_factory=lambda: _env("GC_INTERVAL", 600.0, float))
    upload_ttl: float = field(default_factory=lambda: _env("UPLOAD_TTL", 7 * 24 * 3600.0, float))
    job_retention: float = field(default_factory=lambda: _env("JOB_RETENTION", 30 * 24 * 3600.0, float))
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "info"))
    # ---- limits against exhaustion (docs/relay.md, "Operating a relay")
    # Signed request bodies other than blob bytes (documents, id lists); 0: derived from max_document_bytes.
    max_request_bytes: int = field(default_factory=lambda: _env("MAX_REQUEST_BYTES", 0, int))
    max_header_bytes: int = field(default_factory=lambda: _env("MAX_HEADER_BYTES", 16 * 1024, int))
    max_headers: int = field(default_factory=lambda: _env("MAX_HEADERS", 64, int))
    header_timeout: float = field(default_factory=lambda: _env("HEADER_TIMEOUT", 10.0, float))
    body_timeout: float = field(default_factory=lambda: _env("BODY_TIMEOUT", 120.0, float))  # silence mid-body
    keep_alive: float = field(default_factory=lambda: _env("KEEP_ALIVE", 5.0, float))
    max_connections: int = field(default_factory=lambda: _env("MAX_CONNECTIONS", 2048, int))
    max_inflight: int = field(default_factory=lambda: _env("MAX_INFLIGHT", 1024, int))
    max_inflight_per_ip: int = field(default_factory=lambda: _env("MAX_INFLIGHT_PER_IP", 128, int))
    # Before authentication, per client IP: every /v1 request, and failed authentications.
    ip_rate: float = field(default_factory=lambda: _env("IP_RATE", 1000.0, float))
    ip_burst: int = field(default_factory=lambda: _env("IP_BURST", 2000, int))
    ip_fail_rate: float = field(default_factory=lambda: _env("IP_FAIL_RATE", 10.0, float))
    ip_fail_burst: int = field(default_factory=lambda: _env("IP_FAIL_BURST", 100, int))
    forwarded_allow_ips: str | None = field(default_factory=lambda: _env("FORWARDED_ALLOW_IPS", None))
    max_uploads_per_address: int = field(default_factory=lambda: _env("MAX_UPLOADS_PER_ADDRESS", 256, int))
    max_uploads: int = field(default_factory=lambda: _env("MAX_UPLOADS", 20_000, int))
    total_bytes: int = field(default_factory=lambda: _env("TOTAL_BYTES", 0, int))  # 0: no ceiling but the disk
    disk_reserve_bytes: int = field(default_factory=lambda: _env("DISK_RESERVE_BYTES", 1 * GiB, int))
    max_previews_per_job: int = field(default_factory=lambda: _env("MAX_PREVIEWS_PER_JOB", 1000, int))
    max_job_bytes: int = field(default_factory=lambda: _env("MAX_JOB_BYTES", 1 * GiB, int))

    @property
    def request_body_limit(self) -> int:
        """Largest signed JSON body: a base64 document plus its list of referenced blob ids."""
        return self.max_request_bytes or (self.max_document_bytes * 4) // 3 + 8 * MiB
