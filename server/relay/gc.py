"""Garbage collection and start-up reconciliation.

A blob is collected when no job document references it and it is older than the grace period (so
blobs uploaded for a manifest that is not written yet survive). Jobs untouched for the retention
period, abandoned upload sessions and expired nonces go too.
"""

from __future__ import annotations

import logging
import time

from .logs import log_event
from .storage import UploadKey

log = logging.getLogger("relay.gc")


def collect_garbage(state, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    cfg, meta, blobs = state.config, state.meta, state.blobs
    report = {"nonces": state.nonces.purge(now), "jobs": 0, "uploads": 0, "blobs": 0, "bytes": 0}
    report["tokens"] = meta.purge_tokens()
    for job_id in meta.stale_jobs(now - cfg.job_retention):
        meta.delete_job(job_id)
        report["jobs"] += 1
    for owner, blob_id, updated_at in meta.all_uploads():
        # Idle too long, or a blob-id session whose blob someone else has published meanwhile.
        if updated_at < now - cfg.upload_ttl or (
            updated_at < now - cfg.body_timeout and meta.blob_size(blob_id) is not None
        ):
            blobs.discard_upload(UploadKey(owner, blob_id))
            meta.delete_upload(owner, blob_id)
            report["uploads"] += 1
    cutoff = now - cfg.gc_grace
    skipped: set[str] = set()
    while True:
        candidates = [b for b in meta.collectable_blobs(cutoff, limit=1000 + len(skipped)) if b not in skipped]
        if not candidates:
            break
        for blob_id in candidates:
            with state.publish_lock:
                size = meta.blob_size(blob_id) or 0
                with state.lease_lock:  # (taken on the event loop too: no file I/O under it)
                    # Rechecked in the delete's transaction: a blob just reported present or re-uploaded
                    # stays, and one being downloaded waits for the next pass.
                    deleted = not state.downloads.get(blob_id) and meta.delete_blob_if_unreferenced(blob_id, cutoff)
                if deleted:
                    blobs.delete_blob(blob_id)
                    report["blobs"] += 1
                    report["bytes"] += size
                else:
                    skipped.add(blob_id)
    state.metrics.inc("gc_deleted_blobs_total", report["blobs"])
    state.metrics.inc("gc_deleted_bytes_total", report["bytes"])
    log_event(log, "gc finished", **report)
    return report


def reconcile(state) -> dict:
    """Bring metadata and files back in line after a crash between a rename and its metadata write."""
    meta, blobs = state.meta, state.blobs
    known = meta.all_blob_ids()
    on_disk = set(blobs.iter_blob_ids())
    now = time.time()
    adopted = on_disk - known
    for blob_id in adopted:
        # Only verified uploads are ever renamed into blobs/, so a file there is a complete blob.
        meta.add_blob(blob_id, blobs.blob_size(blob_id) or 0, "", now)
    dropped = known - on_disk
    for blob_id in dropped:
        meta.delete_blob_row(blob_id)
    sessions = {(o, b) for o, b, _ in meta.all_uploads()}
    orphans = 0
    for key in list(blobs.iter_upload_keys()):
        if (key.owner, key.blob_id) not in sessions:
            blobs.discard_upload(key)
            orphans += 1
    report = {"adopted_blobs": len(adopted), "dropped_rows": len(dropped), "orphan_uploads": orphans}
    log_event(log, "reconciled storage", **report)
    return report
