"""Crash safety: the relay is SIGKILLed at random points during parallel uploads, restarted, and every
upload resumes to a byte-identical blob; no partial blob is ever stored under a blob id.

CI runs RELAY_CRASH_TRIALS (default 4) trials; a soak run uses e.g. RELAY_CRASH_TRIALS=100.
"""

import hashlib
import os
import random
import threading
import time
from pathlib import Path

from addon.farm.relay_client import RelayClient
from addon.stacks.keys import make_private_key
from server.relay.local import RelayHarness

TRIALS = int(os.environ.get("RELAY_CRASH_TRIALS", "4"))
PART = 4 << 20


def _stored_blobs_are_whole(data_dir: Path) -> int:
    """Every file under blobs/ must hash to its own name; returns how many there are."""
    n = 0
    for path in (data_dir / "blobs").glob("*/*"):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        assert h.hexdigest() == path.name, f"partial or corrupt blob visible: {path}"
        n += 1
    return n


def _slow_source(data: bytes, delay: float):
    """Blob bytes in 256 KiB pieces at a limited pace, so a kill lands mid-upload."""

    def source(offset):
        for start in range(offset, len(data), 256 << 10):
            time.sleep(delay)
            yield data[start : start + (256 << 10)]

    return source


def test_sigkill_at_random_points_then_every_upload_resumes(tmp_path):
    seed = int(os.environ.get("RELAY_CRASH_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    with RelayHarness(tmp_path / "crash") as h:
        client = RelayClient(h.url, make_private_key(), retries=14, backoff=0.1, part_size=PART)
        total_size = 0
        for trial in range(TRIALS):
            blobs = [rng.randbytes(rng.randint(1 << 20, 12 << 20)) for _ in range(rng.randint(1, 3))]
            total_size += sum(map(len, blobs))
            errors: list[BaseException] = []

            def upload(data, by_token, errors=errors):
                try:
                    blob_id = hashlib.sha256(data).hexdigest()
                    if by_token:  # the relay names the blob: it must still be exactly these bytes
                        token = hashlib.sha256(b"token|" + data).hexdigest()
                        named, _, _ = client.upload_by_token(token, len(data), _slow_source(data, 0.02))
                        assert named == blob_id
                    else:
                        client.upload_blob(blob_id, len(data), _slow_source(data, 0.02))
                except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                    errors.append(exc)

            threads = [threading.Thread(target=upload, args=(b, i % 2 == 1)) for i, b in enumerate(blobs)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.05, 0.6))
            h.relay.kill()
            _stored_blobs_are_whole(h.relay.data_dir)
            h.relay.start()
            for t in threads:
                t.join(120)
            assert not errors, f"trial {trial} (seed {seed}): {errors!r}"
            for data in blobs:
                blob_id = hashlib.sha256(data).hexdigest()
                assert b"".join(client.iter_blob(blob_id)) == data, f"trial {trial} (seed {seed})"
        assert _stored_blobs_are_whole(h.relay.data_dir) >= 1
        print(
            f"crash trials: {TRIALS}, uploads interrupted and resumed: {client.upload_interruptions}, "
            f"bytes sent {client.bytes_sent} for {total_size} (seed {seed})"
        )
        assert client.upload_interruptions >= 1, "no kill landed mid-upload; the trial proved nothing"
        # Resumed, not restarted: at most a part (plus what was in flight) is re-sent per blob per crash.
        assert client.bytes_sent <= total_size + TRIALS * 3 * (PART + (4 << 20)), f"seed {seed}"
        client.close()
