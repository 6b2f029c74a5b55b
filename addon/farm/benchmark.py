"""The provider benchmark score: work per second relative to the reference machine, 100 = reference.

`run_benchmark` renders the built-in scene of addon/blender/benchmark_scene.py in a fresh background
Blender (a few repeats after one warm-up, the median kept so one noisy repeat does not move the score)
and compares the median with REFERENCE_SECONDS, the same render's median on the reference machine.

The reference machine is the project's CI/developer machine class: 2 cores (x86-64, shared VM),
Cycles on CPU with both threads, bpy 5.0.1. Its score is 100 by definition. A machine twice as fast
scores 200; so a chunk of complexity C reference-seconds takes C * 100 / score seconds on a provider
(`predicted_seconds`). The contract stores the score as a uint (`benchmark-score`). bpy-free.
"""

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from . import blender_process

REFERENCE_SECONDS = 0.50  # median render of the benchmark scene on the idle reference machine (docs/estimate.md)
REFERENCE_SCORE = 100
DEFAULT_REPEATS = 5
_SCENE = Path(__file__).resolve().parent.parent / "blender" / "benchmark_scene.py"


class BenchmarkError(RuntimeError):
    """The benchmark could not run (no such device, Blender failed); the message says what to do."""


@dataclass(frozen=True)
class BenchmarkResult:
    score: int           # 100 = the reference machine; what `register`/`update-resources` publish
    seconds: float       # median seconds of one benchmark render on this machine
    device: str
    threads: int         # 0 = all of this machine's threads
    times: tuple[float, ...]
    spread: float        # (max - min) / median of the repeats: how noisy this run was
    blender: str


def score_for(seconds: float) -> int:
    """The integer score of a machine whose benchmark render takes `seconds` (at least 1)."""
    if seconds <= 0:
        raise ValueError("benchmark seconds must be positive")
    return max(1, round(REFERENCE_SCORE * REFERENCE_SECONDS / seconds))


def predicted_seconds(reference_seconds: float, score: int) -> float:
    """Seconds a machine with `score` needs for work of `reference_seconds` on the reference machine."""
    if score <= 0:
        raise ValueError("a benchmark score must be positive")
    return reference_seconds * REFERENCE_SCORE / score


def run_benchmark(device: str = "CPU", *, threads: int = 0, repeats: int = DEFAULT_REPEATS,
                  timeout: float = 300) -> BenchmarkResult:
    """Render the benchmark scene in a separate Blender process and score this machine."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    code = blender_process.script_code(_SCENE, "child_main(ARGS)")
    try:
        result = blender_process.run(code, [device, str(threads), str(repeats)], timeout=timeout, threads=threads)
        report = json.loads(blender_process.tagged_line(result, "BENCHMARK"))
    except blender_process.BlenderProcessError as exc:
        raise BenchmarkError(f"the {device} benchmark failed: {exc}. Check that Blender can render with "
                             f"{device} here (or choose another device with --device)") from exc
    times = tuple(report["times"])
    median = statistics.median(times)
    return BenchmarkResult(score=score_for(median), seconds=median, device=device, threads=threads, times=times,
                           spread=(max(times) - min(times)) / median, blender=report["blender"])
