"""Estimate a scene's render time and cost before submitting it.

Reads the .blend in a background Blender with scripts off (never saving it), predicts each frame's
cost in reference-seconds (100-score machine seconds) from the scene's features, or with --probe from
timed low-resolution renders of a few of its frames, whose renders cost at most --probe-budget % of the
predicted render (when no probe fits, the estimate stays the feature model's and says so), and, given
providers' benchmark scores and prices (--provider) or with --from-chain the providers registered on
the chain (no wallet needed), plans the chunks with the same planner `submit` uses: complexity, reward
(the provider's price), estimated duration and render deadline for the chain, predicted wall time with
the chunks in parallel, and the STX cost.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ..farm import estimate as model
from ..farm.blend_stats import parse_frames, read_blend_stats
from ..farm.errors import FarmError
from ..farm.probe import DEFAULT_BUDGET, describe, plan_probe, run_probe
from . import common
from .plan_display import duration as _duration
from .plan_display import show_chunks


def _provider(text: str) -> model.ProviderQuote:
    """SCORE:PRICE[:GPUS[:ADDRESS]] -> ProviderQuote (PRICE in micro-STX per reference-second)."""
    parts = text.split(":", 3)
    try:
        score, price = int(parts[0]), int(parts[1])
        gpus = int(parts[2]) if len(parts) > 2 and parts[2] else 1
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{text!r}: expected SCORE:PRICE[:GPUS[:ADDRESS]], e.g. 250:40:2") from None
    if score <= 0 or price < 0 or gpus <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: score and GPUs must be positive, price not negative")
    return model.ProviderQuote(parts[3] if len(parts) > 3 else f"provider-{score}-{price}", score, price, gpus)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scene", metavar="SCENE.blend", help="the .blend to estimate (only read)")
    parser.add_argument("--frames", metavar="A-B", help="frame range (default: the scene's)")
    parser.add_argument("--probe", action="store_true",
                        help="calibrate with timed low-resolution renders of a few frames (seconds to minutes)")
    parser.add_argument("--probe-budget", type=float, default=DEFAULT_BUDGET * 100, metavar="PCT",
                        help="the probe's renders cost at most this %% of the predicted render "
                             f"(default {DEFAULT_BUDGET * 100:g}); fewer frames, pixels and samples, or none, to fit")
    parser.add_argument("--local-score", type=int, metavar="N",
                        help="this machine's benchmark score for --probe (default: the one kept in --home from an "
                             "earlier run on this machine and Blender, else run the benchmark, ~5 s, and keep it)")
    parser.add_argument("--rebenchmark", action="store_true",
                        help="with --probe: measure this machine's benchmark score again instead of the kept one")
    parser.add_argument("--provider", action="append", type=_provider, default=[], metavar="SCORE:PRICE[:GPUS[:ADDR]]",
                        help="a provider's benchmark score, price in micro-STX per reference-second and GPU count; "
                             "repeat for several")
    parser.add_argument("--safety-factor", type=float, default=model.DEFAULT_SAFETY_FACTOR, metavar="F",
                        help=f"estimated duration = predicted x F (default {model.DEFAULT_SAFETY_FACTOR}); "
                             f"the chain's render deadline is {model.RENDER_TIME_FACTOR} x that")
    parser.add_argument("--chunks", type=int, default=0, metavar="N",
                        help="chunks to split into (default: one per GPU)")
    parser.add_argument("--chunk", type=int, default=0, metavar="FRAMES",
                        help="frames per chunk instead of --chunks (as `submit --chunk`)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")
    chain = parser.add_argument_group("quoting the chain's providers (--from-chain)")
    chain.add_argument("--from-chain", action="store_true",
                       help="quote against the providers registered on chain (their scores, prices, free GPUs)")
    chain.add_argument("--providers", type=int, default=2, metavar="N",
                       help="with --from-chain: at most N providers, the cheapest acceptable (default 2, as submit)")
    chain.add_argument("--min-reputation", type=int, default=0, metavar="N", help="with --from-chain: minimum "
                       "provider reputation")
    common.add_connection_arguments(parser)


def run(args) -> int:
    from rich.console import Console

    err = Console(stderr=True)
    try:
        frames = parse_frames(args.frames) if args.frames else None
        with err.status("reading the scene"):
            stats = read_blend_stats(args.scene, frames)
        plan = probe = None
        if args.probe:
            plan = plan_probe(stats, args.probe_budget / 100)
            probe = None if plan.skipped else _probe(args, stats, plan, err)
        if args.chunks < 0 or args.chunk < 0 or (args.chunks and args.chunk):
            raise model.EstimateError("give either --chunks N or --chunk FRAMES, not negative")
        if args.from_chain:
            result = _from_chain(args, stats, probe)
        else:
            result = model.estimate_scene(stats, tuple(args.provider), safety_factor=args.safety_factor,
                                          probe=probe, chunks=args.chunks, chunk_size=args.chunk)
    except model.EstimateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FarmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if plan:
        result = dataclasses.replace(result, notes=(*result.notes, describe(plan, probe)))
    if args.json:
        print(json.dumps({"scene": args.scene, "stats": dataclasses.asdict(stats),
                          "probe": {"plan": dataclasses.asdict(plan), "result": probe and dataclasses.asdict(probe)}
                          if plan else None,
                          "estimate": dataclasses.asdict(result)}, indent=1))
    else:
        _show(result, stats, Console())
    return 0


def _from_chain(args, stats, probe) -> model.Estimate:
    """The submit planner over every provider on chain, without a wallet and without check-assignment."""
    from ..farm.connection import ConnectionSettingsError, Endpoints
    from ..farm.contract import RenderFarm
    from ..farm.manifest import FrameRange
    from ..farm.planning import Terms, list_providers, plan

    if args.provider:
        raise model.EstimateError("give either --provider quotes or --from-chain, not both")
    try:
        endpoints = Endpoints.resolve(args.network, args.node, "", args.contract)
    except ConnectionSettingsError as exc:
        raise model.EstimateError(str(exc)) from exc
    if not endpoints.node_url or not endpoints.contract_id:
        raise model.EstimateError(f"no node URL or contract id for {args.network}: pass --node and --contract")
    seconds, source, once = model.scene_seconds(stats, probe)
    terms = Terms(requester="", frames=FrameRange(stats.frame_start, stats.frame_end, stats.frame_step),
                  frame_seconds=tuple(seconds), max_providers=args.providers, chunk_size=args.chunk,
                  chunks=args.chunks, once_seconds=once, safety_factor=args.safety_factor,
                  min_reputation=args.min_reputation)
    with endpoints.client() as client:
        farm = RenderFarm(client, endpoints.contract_id)
        return dataclasses.replace(plan(farm, list_providers(farm), terms, check=False), source=source)


def _probe(args, stats, plan, err) -> model.ProbeResult:
    from ..farm.benchmark import BenchmarkError
    from ..farm.benchmark_cache import local_score

    score = args.local_score
    if score is None:
        with err.status("benchmarking this machine (once; the score is kept for the next estimates)"):
            try:
                score, kept = local_score(common.home(args), refresh=args.rebenchmark)
            except BenchmarkError as exc:
                raise model.EstimateError(str(exc)) from exc
        err.print(f"this machine's benchmark score: {score} ({'kept from an earlier run' if kept else 'measured now'})")
    if score <= 0:
        raise model.EstimateError("--local-score must be positive")
    with err.status(f"probe-rendering {len(plan.frames)} frame(s), at most {plan.budget:.0%} of the predicted render"):
        return run_probe(args.scene, stats, score, plan)


def _show(result: model.Estimate, stats: model.SceneStats, console) -> None:
    frames = len(result.frame_seconds)
    console.print(f"{stats.engine}, {stats.pixels} px, {stats.samples} samples, {frames} frames "
                  f"({stats.frame_start}-{stats.frame_end}); estimate from {result.source}")
    console.print(f"per frame {result.per_frame_reference_seconds:.2f} reference-s, total "
                  f"{result.total_reference_seconds:.1f} reference-s ({_duration(result.total_reference_seconds)} on "
                  f"the 100-score reference); complexity {result.complexity}")
    if result.chunks:
        show_chunks(result, console)
    for note in result.notes:
        console.print(f"note: {note}")
