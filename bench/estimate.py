"""The estimate against the truth: every corpus scene rendered for real, the predictions compared.

For each scene of tests/estimate_corpus.py (two halves of 14, each exercising every feature): its stats
(a child Blender, scripts off), this machine's benchmark, every frame rendered at full settings (the
truth, each frame split into sampling and the rest), and the probe within its budget. Predictions, all
in this machine's seconds:
  naive        k x pixels x samples x frames, k fitted on this same corpus (geometric mean of the ratios,
               the best k for percentage errors): a baseline that has seen the answers;
  features     the scene-feature model with the shipped constants (fitted on a whole-corpus run: in-sample);
  features cv  two-fold cross-validation: constants fitted (bench/_estimate_fit.py) on the other half of
               this run, so the scene was not seen;
  probe        the probe-calibrated estimate (addon.farm.probe) with the other half's constants for the
               model's parts (the feature model where the budget skipped the probe); `probe in` with the
               shipped constants.
Prints median and worst absolute % error of each, the probe's cost against the full render (per scene,
median, corpus total, and whole processes), and what the panel's live call costs.
Usage: python -m bench estimate [--only a,b] [--json OUT] [--from-json OUT] [--fit]
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

from addon.farm import blender_process, estimate, probe
from addon.farm.benchmark import run_benchmark
from bench import _estimate_fit
from tests.estimate_corpus import HALVES, KINDS, build_corpus, measure_truth, naive_fit, percent_error

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
    started = time.perf_counter()
    truth, sampling = measure_truth(blend)
    truth_wall = time.perf_counter() - started
    plan = probe.plan_probe(stats)
    row = {"name": name, "stats": stats_dict, "truth": truth, "truth_sampling": sampling, "truth_wall": truth_wall,
           "live": live, "local_score": local_score,
           "plan": {"frames": plan.frames, "percentage": plan.percentage, "samples": plan.samples,
                    "predicted": plan.predicted_seconds, "full": plan.full_seconds, "budget": plan.budget,
                    "reason": plan.reason}}
    if not plan.skipped:
        result = probe.run_probe(blend, stats, local_score, plan)
        row["probe"] = {"frames": [f.__dict__ for f in result.frames], "wall_seconds": result.wall_seconds}
    return row


def _total(seconds: list[float], once: float, local_score: int) -> float:
    """Local seconds of one chunk's renders: its frames and its one-time in-Blender cost (EEVEE's compile),
    not Blender's start and scene load (CHUNK_STARTUP_SECONDS), which the truth does not time either."""
    return (sum(seconds) + once) * 100 / local_score


def _features(stats: estimate.SceneStats, costs: estimate.CostModel, score: int) -> float:
    return _total(estimate.feature_frame_seconds(stats, costs), estimate.once_seconds(stats, costs), score)


def _probed(row: dict, stats: estimate.SceneStats, costs: estimate.CostModel) -> float:
    """The probe-calibrated estimate with these constants: the feature model's where the probe was skipped."""
    score = row["local_score"]
    if "probe" not in row:
        return _features(stats, costs, score)
    frames = tuple(estimate.ProbeFrame(**f) for f in row["probe"]["frames"])
    result = estimate.ProbeResult(frames, score, estimate.probe_once_seconds(stats, frames, costs))
    return _total(estimate.probe_frame_seconds(stats, result, costs), result.once_reference_seconds(), score)


def _predict(rows: list[dict]) -> list[dict]:
    halves = [[r for r in rows if r["name"] in half] for half in HALVES]
    other = {}  # name -> constants fitted on the other half
    for i, half in enumerate(halves):
        if half and halves[1 - i]:
            costs = _estimate_fit.fit(halves[1 - i])
            other.update({r["name"]: costs for r in half})
    out = []
    for row in rows:
        stats = estimate.SceneStats.from_dict(row["stats"])
        start = time.perf_counter()
        estimate.estimate_scene(stats)  # the panel's call
        arithmetic = time.perf_counter() - start
        cv = other.get(row["name"])
        score = row["local_score"]
        out.append({
            "features": _features(stats, estimate.DEFAULT_COSTS, score),
            "features_cv": _features(stats, cv, score) if cv else None,
            "probe_in": _probed(row, stats, estimate.DEFAULT_COSTS),
            "probe": _probed(row, stats, cv) if cv else None,
            "naive_x": stats.pixels * stats.samples * len(stats.frames), "arithmetic": arithmetic,
            "probe_render": sum(f["seconds"] for f in row["probe"]["frames"]) if "probe" in row else 0.0,
        })
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench estimate", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated scene names (default: the whole corpus)")
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--from-json", type=Path, help="re-analyse raw measurements written by --json")
    parser.add_argument("--fit", action="store_true",
                        help="also fit the feature model's constants on the whole corpus and print them "
                             "(the shipped CostModel defaults come from this)")
    args = parser.parse_args(argv)
    console = Console(width=170)
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
    if args.fit:
        console.print("feature model constants fitted on the whole corpus (CostModel fields):")
        console.print(_estimate_fit.source(_estimate_fit.fit(raw["rows"])), highlight=False)
    return 0


def _summary(console: Console, label: str, errors: list[float]) -> None:
    if errors:
        console.print(f"{label:>12}: median {statistics.median(errors):5.1f} %   worst {max(errors):6.1f} %   "
                      f"({len(errors)} scenes)")


def report(raw: dict, console: Console) -> None:
    rows = raw["rows"]
    scores = [row["local_score"] for row in rows]
    predictions = _predict(rows)
    truths = [sum(row["truth"]) for row in rows]
    k = naive_fit([p["naive_x"] for p in predictions], truths)
    table = Table(title=f"estimate vs truth (seconds on this machine; its benchmark score {min(scores)}-{max(scores)} "
                        "during the run, 100 = idle)")
    columns = ("scene", "half", "truth s", "naive s", "err %", "features s", "err %", "cv s", "err %", "probe s",
               "err %", "probe plan", "probe cost %", "score")
    for column in columns:
        table.add_column(column, justify="left" if column in ("scene", "probe plan") else "right")
    errors = {key: [] for key in ("naive", "features", "features_cv", "probe", "probe_in")}
    shares = []
    for row, p, truth in zip(rows, predictions, truths, strict=True):
        p["naive"] = k * p["naive_x"]
        for key in errors:
            if p[key] is not None:
                errors[key].append(percent_error(p[key], truth))
        cells = []
        for key in ("naive", "features", "features_cv", "probe"):
            cells += ["-", "-"] if p[key] is None else [f"{p[key]:.2f}", f"{percent_error(p[key], truth):.0f}"]
        plan = row.get("plan", {})
        if "probe" in row:
            shares.append(p["probe_render"] / truth * 100)
            described = f"{len(row['probe']['frames'])}f {plan.get('percentage', '?')}% {plan.get('samples', '?')}smp"
            cost = f"{shares[-1]:.1f}"
        else:
            shares.append(0.0)
            described, cost = "skipped", "0"
        half = next((str(i + 1) for i, h in enumerate(HALVES) if row["name"] in h), "?")
        table.add_row(row["name"], half, f"{truth:.2f}", *cells, described, cost, str(row["local_score"]))
    console.print(table)
    _summary(console, "naive", errors["naive"])
    _summary(console, "features", errors["features"])
    _summary(console, "features cv", errors["features_cv"])
    _summary(console, "probe", errors["probe"])
    _summary(console, "probe in", errors["probe_in"])
    naive_median = statistics.median(errors["naive"])
    for key in ("probe", "probe_in"):
        if errors[key]:
            console.print(f"{key.replace('_', ' ')} median / naive median = "
                          f"{statistics.median(errors[key]) / naive_median:.2f} (goals: <= 0.5, median <= 20 %)")
    probed = [i for i, row in enumerate(rows) if "probe" in row]
    probe_total = sum(p["probe_render"] for p in predictions)
    budget = rows[0].get("plan", {}).get("budget", probe.DEFAULT_BUDGET)
    console.print(f"probe: {len(probed)} of {len(rows)} scenes probed, {len(rows) - len(probed)} skipped (predicted "
                  f"render too short for a probe within {budget:.0%} of it)")
    console.print(f"probe cost (its renders / the full renders; goal <= 5 %): corpus total {probe_total:.2f} s of "
                  f"{sum(truths):.1f} s = {probe_total / sum(truths) * 100:.1f} %; per scene median "
                  f"{statistics.median(shares):.1f} % (probed scenes only "
                  f"{statistics.median([shares[i] for i in probed]) if probed else 0:.1f} %), "
                  f"worst {max(shares):.1f} %")
    if probed and all("truth_wall" in row for row in rows):
        probe_wall = sum(row["probe"]["wall_seconds"] for row in rows if "probe" in row)
        truth_wall = sum(row["truth_wall"] for row in rows)
        console.print(f"whole processes (Blender start and scene load included): probes {probe_wall:.1f} s against "
                      f"{truth_wall:.1f} s for the truth's one process a scene = {probe_wall / truth_wall * 100:.1f} %")
    live = [row["live"] for row in rows]
    console.print(f"panel stats: first read median {statistics.median(x['first'] for x in live) * 1000:.1f} ms, "
                  f"worst {max(x['first'] for x in live) * 1000:.1f} ms; then "
                  f"median {statistics.median(x['3'] for x in live) * 1000:.1f} ms with 3 "
                  f"frames sampled, {statistics.median(x['1'] for x in live) * 1000:.1f} ms with 1, worst "
                  f"{max(x['3'] for x in live) * 1000:.1f} ms; estimate arithmetic median "
                  f"{statistics.median(p['arithmetic'] for p in predictions) * 1e6:.0f} us")
    if "seconds" in raw:
        console.print(f"bench wall time {raw['seconds']:.0f} s; benchmark scores per scene {scores}")
