"""The estimate: invariants of the model and the chain plan (no timing), stats and probe on real scenes."""

import argparse
import dataclasses
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addon.commands import estimate as command
from addon.farm import estimate as e
from addon.farm.blend_stats import parse_frames, read_blend_stats
from addon.farm.probe import DEFAULT_BUDGET, plan_probe, run_probe
from addon.stacks.c32 import c32_address
from tests.estimate_corpus import build_corpus

PROVIDER = c32_address(26, bytes(20))  # a testnet single-sig address
RECORDED_RUN = "2026-12-01-2154.json"   # the bench run the shipped CostModel constants were fitted on


def stats(**changes) -> e.SceneStats:
    base = e.SceneStats(engine="CYCLES", resolution_x=320, resolution_y=180, resolution_percentage=100, samples=64,
                        frame_start=1, frame_end=24,
                        content=(e.FrameContent(1, 50_000, 10, 3), e.FrameContent(24, 200_000, 40, 5)))
    return replace(base, **changes)


def probe(reported: bool = True, **changes) -> e.ProbeResult:
    first = e.ProbeFrame(1, pixels=800, samples=8, seconds=0.30, sampling_seconds=0.18 if reported else None)
    later = e.ProbeFrame(24, pixels=800, samples=8, seconds=0.45, sampling_seconds=0.25 if reported else None)
    return replace(e.ProbeResult((first, later), local_score=100, wall_seconds=3.0), **changes)


def total(s: e.SceneStats, with_probe: bool | str) -> float:
    result = probe(reported=with_probe != "unreported") if with_probe else None
    return e.estimate_scene(s, probe=result).total_reference_seconds


@pytest.mark.parametrize("with_probe", [False, True, "unreported"])
@pytest.mark.parametrize("field_name, values", [
    ("samples", [1, 16, 64, 256, 4096]), ("resolution_x", [16, 320, 1920]), ("resolution_y", [9, 180, 1080]),
    ("resolution_percentage", [10, 50, 100, 200]), ("frame_end", [1, 2, 24, 250]),
])
def test_estimate_grows_with_samples_resolution_and_frames(with_probe, field_name, values):
    totals = [total(stats(**{field_name: v}), with_probe) for v in values]
    assert all(a < b for a, b in zip(totals, totals[1:], strict=False)), totals


@pytest.mark.parametrize("engine", ["CYCLES", "BLENDER_EEVEE", "BLENDER_WORKBENCH"])
def test_every_engine_grows_with_samples(engine):
    totals = [total(stats(engine=engine, samples=n), False) for n in (1, 8, 64)]
    assert totals[0] < totals[1] < totals[2]


def test_heavier_features_cost_more():
    plain = total(stats(), False)
    for heavier in (stats(motion_blur=True), stats(texture_bytes=1 << 30), stats(max_bounces=24),
                    stats(denoiser="OPENIMAGEDENOISE"),
                    stats(content=(e.FrameContent(1, 50_000, 10, 300), e.FrameContent(24, 200_000, 40, 300)))):
        assert total(heavier, False) > plain
    assert total(stats(adaptive_sampling=True, adaptive_threshold=0.05), False) < plain
    # A volume's cost per sample measured about the same as a surface's (docs/estimate.md): never less.
    with_volume = stats(content=(e.FrameContent(1, 50_000, 10, 3, volumes=1), e.FrameContent(24, 200_000, 40, 5)))
    assert total(with_volume, False) >= plain


def test_content_changing_across_the_range_is_interpolated():
    seconds = e.feature_frame_seconds(stats())
    assert len(seconds) == 24 and all(a < b for a, b in zip(seconds, seconds[1:], strict=False))
    for reported in (True, False):
        by_probe = e.probe_frame_seconds(stats(), probe(reported))
        assert all(a < b for a, b in zip(by_probe, by_probe[1:], strict=False))  # the later probe took longer
        # Between the probed frames the first's cost plus the later's extra time, at most all of it scaled up.
        sampled_up = (320 * 180 * 64) / (800 * 8)
        assert by_probe[0] + 0.15 <= by_probe[-1] <= by_probe[0] + 0.15 * sampled_up


def test_probe_scales_only_the_sampling_it_timed():
    # Reported: rest 0.12 s as is, sampling 0.18 s scaled by full / probe sample work.
    scale = 320 * 180 * 64 / (800 * 8)
    assert e.probe_frame_seconds(stats(), probe())[0] == pytest.approx(0.12 + 0.18 * scale)
    eevee = stats(engine="BLENDER_EEVEE")
    compile_ = e.probe_once_seconds(eevee, probe().frames)
    assert compile_ == 0.0  # the first frame's rest (0.12) is not above the later one's (0.20)
    slow_first = (replace(probe().frames[0], seconds=1.30), probe().frames[1])
    assert e.probe_once_seconds(eevee, slow_first) == pytest.approx(1.12 - 0.20)
    assert e.probe_once_seconds(eevee, slow_first[:1]) > 0  # one frame: the model's share of its rest


@pytest.mark.parametrize("scene", [
    stats(), stats(frame_end=250, samples=512, resolution_x=1920, resolution_y=1080), stats(frame_end=3),
    stats(engine="BLENDER_EEVEE", frame_end=250), stats(engine="BLENDER_EEVEE", frame_end=3, samples=8),
    stats(resolution_x=32, resolution_y=24, samples=8, frame_end=2),
])
@pytest.mark.parametrize("budget", [0.005, 0.02, DEFAULT_BUDGET, 0.2])
def test_probe_plan_stays_within_its_budget_or_is_skipped(scene, budget):
    plan = plan_probe(scene, budget)
    assert plan.full_seconds == pytest.approx(sum(e.feature_frame_seconds(scene)) + e.once_seconds(scene))
    if plan.skipped:
        assert plan.reason and not plan.frames
        return
    assert 0 < plan.predicted_seconds <= budget * plan.full_seconds
    assert set(plan.frames) <= set(scene.frames) and plan.samples <= scene.samples
    assert plan.percentage <= scene.resolution_percentage
    assert plan_probe(scene, min(1.0, budget * 4)).predicted_seconds >= plan.predicted_seconds  # more budget, more


def test_probe_plan_scales_with_the_render():
    assert plan_probe(stats(resolution_x=32, resolution_y=24, samples=8, frame_end=2)).skipped  # too short
    long = plan_probe(stats(frame_end=250, samples=512, resolution_x=1920, resolution_y=1080))
    assert len(long.frames) == 3 and long.percentage < 100 and long.samples < 512
    with pytest.raises(e.EstimateError, match="probe budget"):
        plan_probe(stats(), 0)
    with pytest.raises(e.EstimateError, match="without --probe"):
        plan_probe(stats(engine="BLENDER_WORKBENCH"))


@pytest.mark.parametrize("bad, message", [
    (stats(frame_start=10, frame_end=9), "holds no frame"),
    (stats(content=(e.FrameContent(1, 0, 0, 2),)), "the scene is empty"),
    (stats(samples=0), "samples are zero"),
    (stats(resolution_percentage=0), "resolution is zero"),
    (stats(has_camera=False), "no camera"),
])
def test_unrenderable_scenes_are_refused_with_what_to_change(bad, message):
    with pytest.raises(e.EstimateError, match=message):
        e.estimate_scene(bad)
    with pytest.raises(e.EstimateError, match=message):
        e.estimate_scene(bad, probe=probe())


providers = st.lists(st.builds(e.ProviderQuote, st.sampled_from([PROVIDER, "ST2", "ST3"]),
                               st.integers(1, 5000), st.integers(0, 10_000), st.integers(1, 8)), min_size=1, max_size=4)


@settings(max_examples=150, deadline=None)
@given(providers=providers, samples=st.integers(1, 4096), frames=st.integers(1, 400),
       factor=st.floats(1.0, 4.0), chunks=st.integers(0, 120))
def test_chunks_meet_the_chain_and_deadlines_exceed_the_prediction_by_the_factor(providers, samples, frames, factor,
                                                                                 chunks):
    s = stats(samples=samples, frame_end=frames, resolution_x=64, resolution_y=36)
    try:
        result = e.estimate_scene(s, tuple(providers), safety_factor=factor, chunks=chunks)
    except e.EstimateError as exc:  # only when a chunk cannot fit the chain's 7 days
        assert "7-day" in str(exc)
        return
    covered = [f for c in result.chunks for f in range(c.frame_start, c.frame_end + 1)]
    assert covered == list(s.frames) and len(result.chunks) <= e.MAX_BATCH
    by_address = {p.address: p for p in providers}
    for c in result.chunks:
        assert c.estimated_duration >= c.predicted_seconds * factor
        assert c.render_deadline_seconds == e.RENDER_TIME_FACTOR * c.estimated_duration
        assert e.MIN_DURATION <= c.estimated_duration <= e.MAX_DURATION
        assert c.complexity >= c.reference_seconds and c.complexity >= 1
        assert c.reward >= c.complexity * min(p.price_per_unit for p in providers if p.address == c.provider)
        assert c.provider in by_address
    assert result.complexity == sum(c.complexity for c in result.chunks) >= result.total_reference_seconds
    assert result.cost_micro_stx == sum(c.reward for c in result.chunks)
    assert result.wall_seconds >= max(c.predicted_seconds for c in result.chunks)


def test_plan_gives_the_faster_provider_more_frames_and_chunks_for_the_chain():
    fast, slow = e.ProviderQuote(PROVIDER, 400, 30), e.ProviderQuote("ST2", 100, 10)
    result = e.estimate_scene(stats(frame_end=240), (fast, slow), chunks=10)
    frames = {p: sum(c.frame_end - c.frame_start + 1 for c in result.chunks if c.provider == p)
              for p in (PROVIDER, "ST2")}
    assert frames[PROVIDER] > frames["ST2"]
    chunk = next(c for c in result.chunks if c.provider == PROVIDER).to_chunk(bytes(32))
    assert chunk.to_clarity()  # encodes as create-jobs takes it
    assert chunk.reward == chunk.complexity * 30


def test_a_chunk_longer_than_the_chain_allows_is_refused():
    huge = stats(samples=4096, resolution_x=3840, resolution_y=2160, frame_end=2000)
    with pytest.raises(e.EstimateError, match="7-day limit"):
        e.estimate_scene(huge, (e.ProviderQuote("ST2", 1, 1),))
    with pytest.raises(e.EstimateError, match="safety factor"):
        e.estimate_scene(stats(), (e.ProviderQuote("ST2", 100, 1),), safety_factor=0.5)


def test_frames_argument():
    assert parse_frames("1-250") == (1, 250) and parse_frames("7") == (7, 7) and parse_frames("-5--2") == (-5, -2)
    with pytest.raises(e.EstimateError, match="expected A-B"):
        parse_frames("1..3")


# Real scenes: built by code, read in a child Blender with scripts off.

@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    return build_corpus(tmp_path_factory.mktemp("corpus"), ["tiny", "long_animation", "hair", "instances", "empty"])


def _cli(*argv) -> tuple[int, argparse.Namespace]:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    args = parser.parse_args([str(a) for a in argv])
    return command.run(args), args


def test_stats_from_the_evaluated_depsgraph(scenes):
    long = read_blend_stats(scenes["long_animation"])
    assert [c.frame for c in long.content] == [1, 20, 40]
    assert long.content[0].triangles < long.content[1].triangles < long.content[2].triangles  # copies grow
    assert read_blend_stats(scenes["hair"]).content[0].hair_strands == 20_000
    instances = read_blend_stats(scenes["instances"]).content[0]
    assert instances.instances > 1500 and instances.unique_triangles < instances.triangles
    assert read_blend_stats(scenes["tiny"], (5, 9)).frames == range(5, 10)


def test_command_refuses_an_empty_scene_and_zero_frames(scenes, capsys):
    assert _cli(scenes["empty"])[0] == 2
    assert "the scene is empty" in capsys.readouterr().err
    assert _cli(scenes["tiny"], "--frames", "3-2")[0] == 2
    assert "holds no frame" in capsys.readouterr().err
    assert _cli(scenes["tiny"].with_name("missing.blend"))[0] == 2
    assert "no such file" in capsys.readouterr().err


def test_command_probe_json_plans_chunks_for_the_chain(scenes, capsys, tmp_path):
    from addon.farm.benchmark_cache import kept_score

    # No --local-score: the machine is benchmarked once and its score kept in --home for the next estimates.
    code, _ = _cli(scenes["long_animation"], "--probe", "--json", "--home", tmp_path,
                   "--provider", f"250:40:2:{PROVIDER}", "--provider", "100:10", "--safety-factor", "2")
    assert code == 0
    out = capsys.readouterr()
    assert "benchmark score" in out.err and "measured now" in out.err and kept_score(tmp_path) >= 1
    report = json.loads(out.out)
    result = report["estimate"]
    assert result["source"] == "probe" and len(result["frame_seconds"]) == 40 and result["safety_factor"] == 2
    assert all(s > 0 for s in result["frame_seconds"])
    frames = report["probe"]["plan"]["frames"]
    assert len(frames) == 3 and (frames[0], frames[-1]) == (1, 40)
    assert any(n.startswith("probe: ") and "budget 4%" in n for n in result["notes"])
    assert {c["provider"] for c in result["chunks"]} <= {PROVIDER, "provider-100-10"}
    for c in result["chunks"]:
        assert c["estimated_duration"] >= 2 * c["predicted_seconds"]


def test_command_skips_a_probe_it_cannot_afford(scenes, capsys):
    code, _ = _cli(scenes["tiny"], "--probe", "--json")  # no benchmark either: nothing to calibrate
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["estimate"]["source"] == "features" and report["probe"]["result"] is None
    assert any(n.startswith("probe skipped") for n in report["estimate"]["notes"])
    assert _cli(scenes["tiny"], "--probe", "--probe-budget", "0")[0] == 2
    assert "probe budget" in capsys.readouterr().err


def test_probe_renders_the_scenes_own_frames(scenes):
    s = read_blend_stats(scenes["long_animation"])
    plan = plan_probe(s)
    assert plan.percentage < 100 and plan.samples < s.samples
    assert len(plan.frames) == 3 and (plan.frames[0], plan.frames[-1]) == (1, 40)
    # The child stops once its renders used the budget: give it all the time here, then almost none.
    result = run_probe(scenes["long_animation"], s, local_score=100, plan=replace(plan, budget=1.0))
    assert tuple(f.frame for f in result.frames) == plan.frames
    assert len(run_probe(scenes["long_animation"], s, 100, replace(plan, budget=1e-9)).frames) == 1
    # One render per frame, split by Cycles' progress reports into sampling and the rest.
    assert all(0 < f.sampling_seconds < f.seconds for f in result.frames)
    assert dataclasses.asdict(e.estimate_scene(s, probe=result))["source"] == "probe"


def test_command_quotes_the_chains_providers(scenes, capsys, world, farm):
    """--from-chain: the submit planner over the providers registered on the local chain, no wallet."""
    for price in (2, 3):
        world.provider(gpu_count=2, price=price, benchmark=300)
    code, _ = _cli(scenes["long_animation"], "--from-chain", "--providers", "2", "--json",
                   "--network", "local", "--node", farm.client.network.api_url, "--contract", farm.contract_id)
    assert code == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)["estimate"]
    assert result["source"] == "features"
    covered = [f for c in result["chunks"] for f in range(c["frame_start"], c["frame_end"] + 1)]
    assert covered == list(range(1, 41))  # one chunk per free GPU of the chosen providers, in order
    chosen = {c["provider"] for c in result["chunks"]}
    assert len(chosen) <= 2
    for c in result["chunks"]:  # every chunk at its chain provider's price, within its free GPUs
        provider = farm.get_provider(c["provider"])
        assert provider.registered and provider.available
        assert c["reward"] == max(1, c["complexity"] * provider.price_per_unit)
    assert result["cost_micro_stx"] == sum(c["reward"] for c in result["chunks"])
    bad = _cli(scenes["tiny"], "--from-chain", "--provider", "100:1", "--network", "local")[0]
    assert bad == 2 and "not both" in capsys.readouterr().err


def test_shipped_constants_are_the_fit_of_the_recorded_corpus_run():
    # The defaults are not set by hand: they are what `bench estimate --fit` gives for the run recorded in
    # bench/estimate_runs/ (docs/estimate.md), to the 3 significant digits printed.
    from bench import _estimate_fit

    run = json.loads((Path(__file__).parent.parent / "bench" / "estimate_runs" / RECORDED_RUN).read_text())
    fitted = _estimate_fit.fit(run["rows"])
    for name in [*_estimate_fit.FITTED, "eevee_chunk_compile"]:
        shipped, value = getattr(e.DEFAULT_COSTS, name), getattr(fitted, name)
        assert shipped == pytest.approx(value, rel=0.01, abs=1e-6 * _estimate_fit.FITTED.get(name, (1,))[0]), name
