"""The estimate against the truth: every corpus scene rendered for real, three predictions compared.

For each scene of tests/estimate_corpus.py: its stats (a child Blender, scripts off), every frame rendered
at full settings (the truth), and the probe. Predictions, all in this machine's seconds:
  naive     k x pixels x samples x frames, k fitted on this same corpus (geometric mean of the ratios,
            the best k for percentage errors) — a baseline that has seen the answers;
  features  the scene-feature model (addon.farm.estimate), reference-seconds x 100 / local score;
  probe     the probe-calibrated estimate (addon.farm.probe).
Prints median and worst absolute % error of each, the probe's cost as a fraction of the full render,
and what the panel's live call costs. Usage: python -m bench estimate [--only a,b] [--json OUT]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from addon.farm import blender_process, estimate
from addon.farm.benchmark import run_benchmark
from addon.farm.probe import run_probe
from tests.estimate_corpus import KINDS, build_corpus, measure_truth, naive_fit, percent_error

_STATS = Path(estimate.__file__).resolve().parent.parent / "blender" / "scene_stats.py"
_LIVE = r"""
import time
scene = open_blend(ARGS[0])
start = time.perf_counter()
stats = read_scene(scene)  # the first call pays for evaluating the depsgraph; the panel redraws many times
runs = {"first": time.perf_counter() - start}
for samples in (1, 3):
    start = time.perf_counter()
    for _ in range(5):
        read_scene(scene, samples_across_range=samples)
    runs[samples] = (time.perf_counter() - start) / 5
print("STATS " + json.dumps(stats))
print("LIVE " + json.dumps(runs))
"""


def _measure(name: str, blend: Path) -> dict:
    result = blender_process.run(blender_process.script_code(_STATS, _LIVE), [str(blend)], timeout=600)
    stats_dict = json.loads(blender_process.tagged_line(result, "STATS"))
    live = json.loads(blender_process.tagged_line(result, "LIVE"))
    stats = estimate.SceneStats.from_dict(stats_dict)
    # The machine is shared: score it right before this scene so load changes between scenes do not
    # turn into estimate errors (on an artist's machine one benchmark per session is enough).
    local_score = run_benchmark("CPU", repeats=3).score
    truth = measure_truth(blend)
    probe = run_probe(blend, stats, local_score)
    return {"name": name, "stats": stats_dict, "truth": truth, "live": live, "local_score": local_score,
            "probe": {"frames": [f.__dict__ for f in probe.frames], "warmup_seconds": probe.warmup_seconds,
                      "wall_seconds": probe.wall_seconds}}


def _predict(row: dict, local_score: int) -> dict:
    stats = estimate.SceneStats.from_dict(row["stats"])
    probe = estimate.ProbeResult(tuple(estimate.ProbeFrame(**f) for f in row["probe"]["frames"]), local_score,
                                 row["probe"]["warmup_seconds"], row["probe"]["wall_seconds"])
    to_local = 100 / local_score
    start = time.perf_counter()
    features = estimate.estimate_scene(stats)  # the panel's call
    arithmetic = time.perf_counter() - start
    probed = estimate.estimate_scene(stats, probe=probe)
    # The truth is one chunk's renders: its frames and its one-time in-Blender cost (EEVEE's compile),
    # not Blender's start and scene load (CHUNK_STARTUP_SECONDS), which it did not time.
    once = features.chunk_overhead_seconds - estimate.CHUNK_STARTUP_SECONDS
    probe_once = probed.chunk_overhead_seconds - estimate.CHUNK_STARTUP_SECONDS
    return {"features": (features.total_reference_seconds + once) * to_local,
            "probe": (probed.total_reference_seconds + probe_once) * to_local,
            "naive_x": stats.pixels * stats.samples * len(stats.frames),
            "probe_render": probe.render_seconds, "arithmetic": arithmetic}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench estimate", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated scene names (default: the whole corpus)")
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--from-json", type=Path, help="re-analyse raw measurements written by --json")
    args = parser.parse_args(argv)
    console = Console(width=150)
    if args.from_json:
        raw = json.loads(args.from_json.read_text())
    else:
        names = args.only.split(",") if args.only else list(KINDS)
        raw = {"rows": [], "started": time.time()}
        with tempfile.TemporaryDirectory(prefix="estimate-bench-") as tmp, Progress(console=console) as progress:
            blends = build_corpus(Path(tmp), names)
            task = progress.add_task("rendering the corpus", total=len(blends))
            for name, blend in blends.items():
                progress.update(task, description=f"{name}: stats, truth, probe")
                raw["rows"].append(_measure(name, blend))
                progress.advance(task)
        raw["seconds"] = time.time() - raw["started"]
        if args.json:
            args.json.write_text(json.dumps(raw, indent=1))
    report(raw, console)
    return 0


def report(raw: dict, console: Console) -> None:
    rows = raw["rows"]
    scores = [row["local_score"] for row in rows]
    predictions = [_predict(row, row["local_score"]) for row in rows]
    truths = [sum(row["truth"]) for row in rows]
    k = naive_fit([p["naive_x"] for p in predictions], truths)
    table = Table(title=f"estimate vs truth (seconds on this machine; its benchmark score {min(scores)}-{max(scores)} "
                        "during the run, 100 = idle)")
    for column in ("scene", "kind", "truth s", "naive s", "err %", "features s", "err %", "probe s", "err %",
                   "probe cost %", "score", "stats ms"):
        table.add_column(column, justify="left" if column in ("scene", "kind") else "right")
    errors = {"naive": [], "features": [], "probe": []}
    for row, p, truth in zip(rows, predictions, truths, strict=True):
        naive = k * p["naive_x"]
        cells = []
        for label, value in (("naive", naive), ("features", p["features"]), ("probe", p["probe"])):
            errors[label].append(percent_error(value, truth))
            cells += [f"{value:.2f}", f"{errors[label][-1]:.0f}"]
        table.add_row(row["name"], KINDS.get(row["name"], ""), f"{truth:.2f}", *cells,
                      f"{p['probe_render'] / truth * 100:.1f}", str(row["local_score"]),
                      f"{row['live']['first'] * 1000:.1f}")
    console.print(table)
    for label in errors:
        console.print(f"{label:>9}: median {statistics.median(errors[label]):5.1f} %   "
                      f"worst {max(errors[label]):6.1f} %")
    naive_median, probe_median = statistics.median(errors["naive"]), statistics.median(errors["probe"])
    console.print(f"probe median / naive median = {probe_median / naive_median:.2f} (goal <= 0.5); "
                  f"probe median goal <= 20 %")
    probe_total = sum(p["probe_render"] for p in predictions)
    shares = [p["probe_render"] / t * 100 for p, t in zip(predictions, truths, strict=True)]
    probe_wall = sum(row["probe"]["wall_seconds"] for row in rows)
    console.print(f"probe cost: renders {probe_total:.2f} s = {probe_total / sum(truths) * 100:.1f} % of the full "
                  f"renders ({sum(truths):.1f} s); per scene median "
                  f"{statistics.median(shares):.1f} %, worst {max(shares):.1f} %; "
                  f"whole probe processes (Blender start + scene load) {probe_wall:.1f} s")
    live = [row["live"] for row in rows]
    console.print(f"panel stats: first read median {statistics.median(x['first'] for x in live) * 1000:.1f} ms, "
                  f"worst {max(x['first'] for x in live) * 1000:.1f} ms; then "
                  f"median {statistics.median(x['3'] for x in live) * 1000:.1f} ms with 3 "
                  f"frames sampled, {statistics.median(x['1'] for x in live) * 1000:.1f} ms with 1, worst "
                  f"{max(x['3'] for x in live) * 1000:.1f} ms; estimate arithmetic median "
                  f"{statistics.median(p['arithmetic'] for p in predictions) * 1e6:.0f} us")
    if "seconds" in raw:
        console.print(f"bench wall time {raw['seconds']:.0f} s; benchmark scores per scene {scores}")
