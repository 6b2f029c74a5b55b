"""This machine's benchmark score, kept between estimates so that a probe does not pay a benchmark each time.

The score depends on the CPU, how many of its threads render and the Blender that renders. A kept score is
used again while all of them are the same (the CPU model and count from the OS, the launcher's path and
modification time, the device) and it is younger than MAX_AGE_SECONDS (drivers, power settings and
thermals move a score slowly); `estimate --rebenchmark` measures again. bpy-free.
"""

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from . import blender_process
from .benchmark import BenchmarkResult, run_benchmark

FILE_NAME = "benchmark-score.json"
MAX_AGE_SECONDS = 30 * 24 * 3600


def cpu_model() -> str:
    """The CPU's model name as the OS reports it (Linux: /proc/cpuinfo), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key(device: str = "CPU") -> dict:
    """What the kept score is valid for."""
    launcher = blender_process.current().executable
    try:
        launcher_mtime = os.stat(launcher).st_mtime_ns
    except OSError:
        launcher_mtime = 0
    return {"cpu": cpu_model(), "cpus": os.cpu_count() or 0, "launcher": launcher,
            "launcher_mtime_ns": launcher_mtime, "device": device}


def kept_score(home: Path, device: str = "CPU", now: float | None = None) -> int | None:
    """The score kept in `home`, if it was measured on this machine, with this Blender, recently enough."""
    try:
        record = json.loads((Path(home) / FILE_NAME).read_text(encoding="utf-8"))
        score, measured_at, key = int(record["score"]), float(record["measured_at"]), record["machine"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or unreadable: measure again (the file is only a cache)
    now = time.time() if now is None else now
    if key != machine_key(device) or not 0 <= now - measured_at <= MAX_AGE_SECONDS or score <= 0:
        return None
    return score


def local_score(home: Path, device: str = "CPU", *, refresh: bool = False,
                measure: Callable[[str], BenchmarkResult] = run_benchmark) -> tuple[int, bool]:
    """(this machine's score, whether it was kept from before); measures and keeps it when needed."""
    if not refresh:
        kept = kept_score(home, device)
        if kept is not None:
            return kept, True
    result = measure(device)
    path = Path(home) / FILE_NAME
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps({"score": result.score, "measured_at": time.time(), "blender": result.blender,
                                   "machine": machine_key(device)}), encoding="utf-8")
    os.replace(partial, path)  # never half a file
    return result.score, False
