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
