"""The estimate: a scene's render time and cost in reference-seconds, and the chunks the chain needs.

Units. Work is counted in reference-seconds: the seconds the reference machine of addon.farm.benchmark
(score 100) needs. A provider with benchmark score s renders it in reference_seconds * 100 / s. On chain
a chunk's `complexity` is its reference-seconds rounded up; the reward must be at least complexity x the
provider's `price-per-unit` (micro-STX); `estimated-duration` is the seconds the provider is predicted to
need times the safety factor, and the contract's render deadline is start + 2 x estimated-duration.

Two ways to the per-frame cost: `feature_frame_seconds` (the scene-feature model below, cheap enough to
run live in the panel) and `probe_frame_seconds` (timed low-resolution renders of a few frames, see
addon/farm/probe.py). `cut` and `assign` turn either into chunks, wall time, deadlines and rewards:
the one chunk planner, used by `plan` (quotes the artist types or the panel shows) and by
addon/farm/planning.py (the chain's providers, for submitting). bpy-free.
"""

import math
from dataclasses import dataclass, field

from .benchmark import predicted_seconds
from .contract import Chunk

# Chain bounds (render-farm.clar).
RENDER_TIME_FACTOR = 2          # render deadline = start + 2 x estimated-duration
MIN_DURATION = 60               # estimated-duration bounds, seconds
MAX_DURATION = 604_800
MAX_BATCH = 100                 # chunks per create-jobs call
COMPENSATION_PERCENT = 20       # of a chunk's reward, reserved out of its provider's bond while assigned

DEFAULT_SAFETY_FACTOR = 1.5     # estimated-duration = predicted seconds x this (the panel shows it)
CHUNK_STARTUP_SECONDS = 5.0     # reference-seconds per chunk to start Blender and load the scene


class EstimateError(ValueError):
    """The scene cannot be estimated as it is; the message says what to change."""


@dataclass(frozen=True)
class FrameContent:
    """What the evaluated depsgraph holds at one sampled frame."""

    frame: int
    triangles: int                  # rendered, every instance counted
    instances: int
    lights: int
    volumes: int = 0
    hair_strands: int = 0
    unique_triangles: int = -1      # of distinct meshes (what the BVH build pays for); -1 = same as triangles

    @property
    def built_triangles(self) -> int:
        return self.triangles if self.unique_triangles < 0 else self.unique_triangles


@dataclass(frozen=True)
class SceneStats:
    engine: str                       # CYCLES, BLENDER_EEVEE, BLENDER_WORKBENCH
    resolution_x: int
    resolution_y: int
    resolution_percentage: int
    samples: int
    frame_start: int
    frame_end: int
    content: tuple[FrameContent, ...]  # sampled across the range, sorted by frame; at least one
    frame_step: int = 1
    adaptive_sampling: bool = False
    adaptive_threshold: float = 0.0
    adaptive_min_samples: int = 0
    max_bounces: int = 12
    denoiser: str = ""                # "" = off
    motion_blur: bool = False
    texture_bytes: int = 0
    particles: int = 0
    has_camera: bool = True

    @classmethod
    def from_dict(cls, data: dict) -> "SceneStats":
        data = dict(data)
        data["content"] = tuple(FrameContent(**c) for c in data["content"])
        return cls(**data)

    @property
    def pixels(self) -> int:
        scale = self.resolution_percentage / 100
        return max(1, int(self.resolution_x * scale)) * max(1, int(self.resolution_y * scale))

    @property
    def frames(self) -> range:
        return range(self.frame_start, self.frame_end + 1, max(1, self.frame_step))


@dataclass(frozen=True)
class CostModel:
    """Reference-seconds per unit of each feature on the reference machine.

    The defaults are fitted, not set by hand: `./dev bench estimate --fit` fits them to real renders of
    the estimate corpus by least squares on log time (bench/_estimate_fit.py; the run, its conditions
    and the cross-validated errors are in docs/estimate.md). Not fitted (no corpus scene varies them):
    the bounce term's form in `sample_cost` and `workbench_sample_pixel`.
    """

    frame_fixed: float = 0.00263            # per frame: scene sync, film, output
    per_triangle: float = 2e-07             # BVH build and sync per distinct evaluated triangle
    per_instance: float = 9.2e-07
    per_texture_byte: float = 3.26e-09      # image loading (every frame: Cycles reloads without persistent data)
    per_hair_strand: float = 4.92e-06       # hair BVH build
    sample_pixel: float = 4.69e-07          # one sample of one pixel, plain diffuse scene, 12 bounces
    geometry_log2: float = 0.0167           # x(1 + this * log2(1 + triangles / 10k)): deeper BVH traversal
    light_log2: float = 0.142               # x(1 + this * log2(1 + lights)): light sampling
    volume: float = 0.0                     # x(1 + this) with a volume (the corpus's fog ends paths early)
    motion_blur: float = 0.473              # x(1 + this)
    hair_log2: float = 0.529                # x(1 + this * log2(1 + strands / 1000))
    adaptive_share: float = 0.027           # adaptive sampling takes about this / threshold of the samples
    denoise_pixel: float = 8.48e-06         # OpenImageDenoise per pixel on CPU
    eevee_frame_fixed: float = 0.892        # EEVEE on the reference is software OpenGL on 2 cores: slow passes
    eevee_sample: float = 0.251             # per sample, nearly independent of the (small) resolution
    eevee_sample_pixel: float = 1.11e-06
    eevee_chunk_compile: float = 1.37       # shader compilation, once per chunk (the first frame pays it)
    workbench_sample_pixel: float = 2e-6    # not fitted: no Workbench scene in the corpus


DEFAULT_COSTS = CostModel()


def validate(stats: SceneStats) -> None:
    """Refuse scenes that cannot be rendered, saying what to change."""
    if stats.frame_end < stats.frame_start or not stats.frames:
        raise EstimateError(f"the frame range {stats.frame_start}-{stats.frame_end} holds no frame: set End to "
                            "Start or later (or choose --frames A-B)")
    if stats.resolution_x <= 0 or stats.resolution_y <= 0 or stats.resolution_percentage <= 0:
        raise EstimateError("the output resolution is zero: set Resolution X, Y and % above zero")
    if stats.samples <= 0:
        raise EstimateError("the render samples are zero: set Render Samples to 1 or more")
    if not stats.has_camera:
        raise EstimateError("the scene has no camera: add one and make it the scene camera")
    if not stats.content or not any(c.triangles or c.volumes or c.hair_strands for c in stats.content):
        raise EstimateError("the scene is empty: nothing to render in any sampled frame (no mesh, volume or "
                            "hair); add objects or check their render visibility")


def effective_samples(stats: SceneStats, costs: CostModel = DEFAULT_COSTS) -> float:
    """Samples actually taken: adaptive sampling stops early, the sooner the larger its noise threshold."""
    if stats.engine != "CYCLES" or not stats.adaptive_sampling or stats.adaptive_threshold <= 0:
        return float(stats.samples)
    floor = min(stats.samples, stats.adaptive_min_samples or max(16, int(stats.samples ** 0.5)))
    return max(floor, stats.samples * min(1.0, costs.adaptive_share / stats.adaptive_threshold))


def sample_cost(stats: SceneStats, content: FrameContent, costs: CostModel = DEFAULT_COSTS) -> float:
    """Reference-seconds of one sample of one pixel at this content (Cycles)."""
    k = costs.sample_pixel * (0.4 + 0.6 * min(stats.max_bounces, 24) / 12)
    k *= 1 + costs.geometry_log2 * math.log2(1 + content.triangles / 10_000)
    k *= 1 + costs.light_log2 * math.log2(1 + content.lights)
    k *= 1 + costs.hair_log2 * math.log2(1 + content.hair_strands / 1000)
    if content.volumes:
        k *= 1 + costs.volume
    if stats.motion_blur:
        k *= 1 + costs.motion_blur
    return k


def fixed_cost(stats: SceneStats, content: FrameContent, costs: CostModel = DEFAULT_COSTS) -> float:
    """Reference-seconds of one frame that do not depend on samples or pixels (sync, BVH, textures)."""
    return (costs.frame_fixed + costs.per_triangle * content.built_triangles + costs.per_instance * content.instances
            + costs.per_texture_byte * stats.texture_bytes + costs.per_hair_strand * content.hair_strands)


def denoise_cost(stats: SceneStats, costs: CostModel = DEFAULT_COSTS) -> float:
    return costs.denoise_pixel * stats.pixels if stats.engine == "CYCLES" and stats.denoiser else 0.0


def render_parts(stats: SceneStats, content: FrameContent, pixels: int, samples: float,
                 costs: CostModel = DEFAULT_COSTS) -> tuple[float, float]:
    """(fixed, sampling) reference-seconds of one render of this content at `pixels` x `samples`, no denoising.

    fixed: what a frame pays whatever its samples (sync, BVH build, textures; EEVEE's per-frame passes);
    sampling: what grows with the samples (and for Cycles the pixels). The probe is priced with the same split.
    """
    if stats.engine == "CYCLES":
        return fixed_cost(stats, content, costs), pixels * samples * sample_cost(stats, content, costs)
    if stats.engine == "BLENDER_WORKBENCH":
        return costs.frame_fixed, pixels * samples * costs.workbench_sample_pixel
    return (costs.eevee_frame_fixed + costs.per_triangle * content.built_triangles,
            samples * (costs.eevee_sample + pixels * costs.eevee_sample_pixel))


def content_frame_seconds(stats: SceneStats, content: FrameContent, costs: CostModel = DEFAULT_COSTS) -> float:
    """Reference-seconds of one frame with this content, by the scene-feature model."""
    fixed, sampling = render_parts(stats, content, stats.pixels, effective_samples(stats, costs), costs)
    return fixed + sampling + denoise_cost(stats, costs)


def _interpolate(points: dict[int, float], frames: range) -> list[float]:
    """Values at every frame, linear between the sampled frames, constant beyond the first and last."""
    keys = sorted(points)
    out = []
    for frame in frames:
        if frame <= keys[0] or len(keys) == 1:
            out.append(points[keys[0]])
        elif frame >= keys[-1]:
            out.append(points[keys[-1]])
        else:
            hi = next(i for i, k in enumerate(keys) if k >= frame)
            a, b = keys[hi - 1], keys[hi]
            out.append(points[a] + (points[b] - points[a]) * (frame - a) / (b - a))
    return out


def feature_frame_seconds(stats: SceneStats, costs: CostModel = DEFAULT_COSTS) -> list[float]:
    """Reference-seconds of each frame of the range by the scene-feature model."""
    validate(stats)
    return _interpolate({c.frame: content_frame_seconds(stats, c, costs) for c in stats.content}, stats.frames)


def once_seconds(stats: SceneStats, costs: CostModel = DEFAULT_COSTS) -> float:
    """Reference-seconds each chunk pays once inside Blender (EEVEE's shader compilation)."""
    return costs.eevee_chunk_compile if stats.engine == "BLENDER_EEVEE" else 0.0


@dataclass(frozen=True)
class ProbeFrame:
    """One probed frame: rendered at `pixels` and `samples` in `seconds` on this machine, of which
    `sampling_seconds` sampling (from the renderer's progress reports; None if it gave none)."""

    frame: int
    pixels: int
    samples: int
    seconds: float
    sampling_seconds: float | None = None


@dataclass(frozen=True)
class ProbeResult:
    frames: tuple[ProbeFrame, ...]
    local_score: int          # this machine's benchmark score: local seconds x score / 100 = reference-seconds
    once_seconds: float = 0.0  # of the first render, what a chunk pays once (EEVEE's shader compile), local s
    wall_seconds: float = 0.0  # the whole probe process, Blender start and scene load included

    @property
    def render_seconds(self) -> float:
        """What the probe's renders cost on this machine (its cost against the full render)."""
        return sum(f.seconds for f in self.frames)

    def once_reference_seconds(self) -> float:
        """The per-chunk one-time cost the probe saw (EEVEE's shader compile), in reference-seconds."""
        return self.once_seconds * self.local_score / 100


def split_probe_frame(stats: SceneStats, frame: ProbeFrame, costs: CostModel = DEFAULT_COSTS,
                      first: ProbeFrame | None = None) -> tuple[float, float]:
    """(rest, sampling) local seconds of a probed frame: as the renderer reported, else in the proportion the
    model gives the `first` probed frame (one proportion for all, so a longer probe is never a cheaper frame)."""
    if frame.sampling_seconds is not None and 0 < frame.sampling_seconds <= frame.seconds:
        return frame.seconds - frame.sampling_seconds, frame.sampling_seconds
    like = first or frame
    fixed, sampling = render_parts(stats, nearest_content(stats, like.frame), like.pixels, like.samples, costs)
    share = sampling / (fixed + sampling) if fixed + sampling > 0 else 1.0
    return frame.seconds * (1 - share), frame.seconds * share


def probe_once_seconds(stats: SceneStats, frames: tuple[ProbeFrame, ...], costs: CostModel = DEFAULT_COSTS) -> float:
    """Local seconds of the first probed render that a chunk pays once (EEVEE's shader compile; Cycles 0).

    With two or more frames: the first frame's rest minus the smallest later rest. With one, the model's
    share of the compile in the first render's rest.
    """
    if stats.engine != "BLENDER_EEVEE" or not frames:
        return 0.0
    rests = [split_probe_frame(stats, f, costs, frames[0])[0] for f in frames]
    if len(rests) > 1:
        return max(0.0, rests[0] - min(rests[1:]))
    fixed, _ = render_parts(stats, nearest_content(stats, frames[0].frame), frames[0].pixels, frames[0].samples, costs)
    return rests[0] * costs.eevee_chunk_compile / (costs.eevee_chunk_compile + fixed)


def probe_frame_seconds(stats: SceneStats, probe: ProbeResult, costs: CostModel = DEFAULT_COSTS) -> list[float]:
    """Reference-seconds of each frame, scaled from the probe's timings to the full settings.

    Each probed render is split into sampling (from the renderer's progress reports; without them, in
    the model's proportion for the first probed frame) and the rest (sync, BVH build, textures,
    per-render overhead; EEVEE's per-frame passes), which a frame pays whatever its settings. A full
    frame is the rest plus the sampling scaled to the full pixels x (effective) samples (EEVEE: the
    samples), plus the modelled denoise. The first render's one-time part (EEVEE's compile) is taken
    out: the chunk pays it once. Frames between probed ones are interpolated linearly.
    """
    validate(stats)
    if not probe.frames:
        raise EstimateError("the probe rendered no frame; run it again, or estimate without --probe")
    cycles = stats.engine == "CYCLES"
    points = {}
    for i, p in enumerate(probe.frames):
        rest, sampling = split_probe_frame(stats, p, costs, probe.frames[0])
        if i == 0:
            rest = max(0.0, rest - probe.once_seconds)
        scale = (stats.pixels * effective_samples(stats, costs) / (p.pixels * p.samples) if cycles
                 else stats.samples / p.samples)
        points[p.frame] = rest + sampling * scale
    to_reference = probe.local_score / 100
    return [s * to_reference + denoise_cost(stats, costs) for s in _interpolate(points, stats.frames)]


def nearest_content(stats: SceneStats, frame: int) -> FrameContent:
    return min(stats.content, key=lambda c: abs(c.frame - frame))


@dataclass(frozen=True)
class ProviderQuote:
    """A provider as the estimate needs it (from the chain's record, or typed in by the user).

    `free_slots` and `free_bond` are the chain's limits right now (gpu-count - active-jobs, bond -
    bond-reserved): with them each free GPU takes at most one chunk of this batch and the bond must
    cover every chunk's no-show compensation, as create-jobs requires. Without them (a what-if quote)
    chunks queue on the provider's GPUs one after another.
    """

    address: str
    benchmark_score: int
    price_per_unit: int     # micro-STX per complexity unit (reference-second)
    gpu_count: int = 1      # chunks it renders at once
    free_slots: int | None = None
    free_bond: int | None = None


@dataclass(frozen=True)
class ChunkPlan:
    provider: str
    frame_start: int
    frame_end: int
    reference_seconds: float
    predicted_seconds: float        # on this provider, startup included
    complexity: int
    reward: int                     # micro-STX
    estimated_duration: int         # seconds, predicted x safety factor, within the chain's bounds
    frame_step: int = 1

    @property
    def render_deadline_seconds(self) -> int:
        """Seconds after start until the contract's render deadline."""
        return RENDER_TIME_FACTOR * self.estimated_duration

    def to_chunk(self, scene_hash: bytes) -> Chunk:
        return Chunk(provider=self.provider, reward=self.reward, complexity=self.complexity,
                     estimated_duration=self.estimated_duration, scene_hash=scene_hash,
                     frame_start=self.frame_start, frame_end=self.frame_end)


@dataclass(frozen=True)
class Estimate:
    source: str                            # "features" or "probe"
    frame_seconds: tuple[float, ...]       # reference-seconds of each frame of the range
    total_reference_seconds: float         # frames only
    complexity: int                        # the whole job's complexity (sum of the chunks', overheads included)
    chunk_overhead_seconds: float          # reference-seconds each chunk adds: Blender start, scene load, compile
    safety_factor: float
    chunks: tuple[ChunkPlan, ...] = ()     # empty when no provider was given
    wall_seconds: float | None = None      # all chunks in parallel on the chosen providers
    cost_micro_stx: int | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def per_frame_reference_seconds(self) -> float:
        return self.total_reference_seconds / len(self.frame_seconds)


@dataclass(frozen=True)
class Cut:
    """One chunk's frames before it has a provider: its work and the complexity the chain is told."""

    frames: range
    work: float             # reference-seconds of its frames
    complexity: int         # ceil(work + the per-chunk overhead)


def _chunk_ranges(frames: range, count: int) -> list[range]:
    count = max(1, min(count, len(frames)))
    size, extra = divmod(len(frames), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(frames[start:end])
        start = end
    return out


def cut(frames: range, frame_seconds, *, overhead: float, chunk_size: int = 0, chunks: int = 1) -> list[Cut]:
    """The frame range in contiguous chunks: of `chunk_size` frames each (the artist's choice), or else
    `chunks` of about equal length. At most the chain's batch size."""
    if not frames:
        raise EstimateError("the frame range holds no frame: set End to Start or later")
    if len(frame_seconds) != len(frames):
        raise EstimateError(f"{len(frame_seconds)} frame costs for {len(frames)} frames")
    if chunk_size < 0 or chunks < 0:
        raise EstimateError("chunk size and chunk count cannot be negative")
    if chunk_size:
        ranges = [frames[i:i + chunk_size] for i in range(0, len(frames), chunk_size)]
        if len(ranges) > MAX_BATCH:
            raise EstimateError(f"{len(ranges)} chunks of {chunk_size} frames: the chain takes at most {MAX_BATCH} "
                                f"in one batch; make chunks of at least {math.ceil(len(frames) / MAX_BATCH)} frames")
    else:
        ranges = _chunk_ranges(frames, min(MAX_BATCH, max(1, chunks)))
    by_frame = dict(zip(frames, frame_seconds, strict=True))
    out = []
    for r in ranges:
        work = sum(by_frame[f] for f in r)
        out.append(Cut(r, work, math.ceil(work + overhead)))
    return out


def split_reward(cuts: list[Cut], total: int) -> list[int]:
    """A lump reward over the chunks by frame count; the rounding remainder goes to the first chunks so
    the sum is exact."""
    frames = sum(len(c.frames) for c in cuts)
    if total < len(cuts):
        raise EstimateError(f"a reward of {total} µSTX cannot pay {len(cuts)} chunks: raise it")
    rewards = [total * len(c.frames) // frames for c in cuts]
    for i in range(total - sum(rewards)):
        rewards[i % len(rewards)] += 1
    return rewards


def compensation_for(reward: int, percent: int = COMPENSATION_PERCENT) -> int:
    """What a chunk reserves out of its provider's bond (the contract's compensation-for)."""
    return reward * percent // 100


def price_of(cut: Cut, quote: ProviderQuote) -> int:
    """The least reward the contract lets this provider take the chunk for (at least 1 µSTX)."""
    return max(1, cut.complexity * quote.price_per_unit)


def assign(cuts: list[Cut], providers, *, overhead: float, safety_factor: float = DEFAULT_SAFETY_FACTOR,
           rewards: list[int] | None = None, compensation_percent: int = COMPENSATION_PERCENT,
           ) -> tuple[list[ChunkPlan], float]:
    """Give each chunk a GPU slot: most expensive chunk first onto the slot that would finish it earliest
    (longest-processing-time rule), so faster providers take more. Slots are interleaved by provider in
    the order given, so equal providers share the chunks and the first ones win ties.

    A chunk's reward is `rewards[i]` (a lump reward split beforehand; a slot whose price it does not pay
    is skipped) or else its price on the chosen provider. A provider with chain limits (free_slots,
    free_bond) takes at most one chunk per free slot and only while its free bond covers the chunk's
    compensation. Returns the chunks in frame order and the wall time (the busiest slot's end).
    """
    if safety_factor < 1:
        raise EstimateError("the safety factor must be at least 1 (deadlines below the prediction expire)")
    for p in providers:
        if p.benchmark_score <= 0 or p.gpu_count <= 0 or p.price_per_unit < 0:
            raise EstimateError(f"provider {p.address}: score and GPU count must be positive, price not negative")
    counts = [p.gpu_count if p.free_slots is None else p.free_slots for p in providers]
    slots = [p for k in range(max(counts, default=0)) for p, n in zip(providers, counts, strict=True) if k < n]
    if not slots:
        raise EstimateError("the providers have no free GPU: wait for one to finish a job, or choose others")
    single = [p.free_slots is not None for p in slots]
    bond = {p.address: p.free_bond for p in providers if p.free_bond is not None}
    busy, used = [0.0] * len(slots), [False] * len(slots)
    planned: list[ChunkPlan | None] = [None] * len(cuts)
    for index in sorted(range(len(cuts)), key=lambda i: -cuts[i].work):
        chunk = cuts[index]
        best, best_end, why = None, math.inf, set()
        for i, slot in enumerate(slots):
            reward = rewards[index] if rewards is not None else price_of(chunk, slot)
            if single[i] and used[i]:
                why.add("every free GPU already has a chunk")
            elif reward < chunk.complexity * slot.price_per_unit:
                why.add(f"the reward's share is below {slot.address}'s price")
            elif slot.address in bond and bond[slot.address] < compensation_for(reward, compensation_percent):
                why.add(f"{slot.address}'s free bond cannot cover another chunk's no-show compensation")
            else:
                end = busy[i] + predicted_seconds(chunk.work + overhead, slot.benchmark_score)
                if end < best_end:
                    best, best_end = i, end
        if best is None:
            done = sum(c is not None for c in planned)
            raise EstimateError(f"the providers can take only {done} of the {len(cuts)} chunks ("
                                f"{'; '.join(sorted(why))}): make chunks bigger, allow more providers"
                                f"{' or raise the reward' if rewards is not None else ''}")
        slot = slots[best]
        seconds = best_end - busy[best]
        busy[best], used[best] = best_end, True
        reward = rewards[index] if rewards is not None else price_of(chunk, slot)
        if slot.address in bond:
            bond[slot.address] -= compensation_for(reward, compensation_percent)
        duration = math.ceil(seconds * safety_factor)
        frames = chunk.frames
        if duration > MAX_DURATION:
            raise EstimateError(f"frames {frames[0]}-{frames[-1]} would take {seconds / 3600:.0f} h on "
                                f"{slot.address}: more than the chain's 7-day limit; use more chunks "
                                "or faster providers")
        planned[index] = ChunkPlan(slot.address, frames[0], frames[-1], chunk.work, seconds, chunk.complexity,
                                   reward, max(MIN_DURATION, duration), frames.step)
    return [c for c in planned if c is not None], max(busy)


def summarize(source: str, frame_seconds, overhead: float, safety_factor: float, chunks: list[ChunkPlan],
              wall: float | None, notes=()) -> Estimate:
    """The Estimate of planned chunks: totals, cost and the notes the artist should see."""
    total = float(sum(frame_seconds))
    notes = list(notes)
    if not chunks:
        return Estimate(source, tuple(frame_seconds), total, math.ceil(total + overhead), overhead, safety_factor,
                        notes=tuple(notes))
    raised = [c for c in chunks if c.predicted_seconds * safety_factor < MIN_DURATION]
    if raised:
        notes.append(f"{len(raised)} of {len(chunks)} chunks: estimated duration raised to the chain's "
                     f"{MIN_DURATION} s minimum")
    return Estimate(source, tuple(frame_seconds), total, sum(c.complexity for c in chunks), overhead, safety_factor,
                    tuple(chunks), wall, sum(c.reward for c in chunks), tuple(notes))


def plan(stats: SceneStats, frame_seconds: list[float], providers: tuple[ProviderQuote, ...] = (), *,
         source: str = "features", once: float = 0.0, safety_factor: float = DEFAULT_SAFETY_FACTOR,
         chunks: int = 0, chunk_size: int = 0) -> Estimate:
    """Chunks over the providers' GPUs, predicted wall time, chain fields and cost from per-frame costs.

    Chunks are contiguous frame ranges (`chunk_size` frames each, or `chunks` of them, by default one per
    GPU offered, at most the chain's batch size), placed by `assign`. A chunk's complexity and predicted
    time include its overhead (CHUNK_STARTUP_SECONDS plus `once`, e.g. EEVEE's shader compile): the
    provider spends that time too. Its estimated-duration is the predicted seconds times the safety
    factor, so the contract's render deadline is 2 x that. Its reward is its provider's price.
    """
    validate(stats)
    overhead = CHUNK_STARTUP_SECONDS + once
    if not providers:
        return summarize(source, frame_seconds, overhead, safety_factor, [], None,
                         ("no provider chosen: give scores and prices to see wall time and cost",))
    offered = sum(p.gpu_count if p.free_slots is None else p.free_slots for p in providers)
    cuts = cut(stats.frames, frame_seconds, overhead=overhead, chunk_size=chunk_size, chunks=chunks or offered)
    planned, wall = assign(cuts, providers, overhead=overhead, safety_factor=safety_factor)
    return summarize(source, frame_seconds, overhead, safety_factor, planned, wall)


def scene_seconds(stats: SceneStats, probe: ProbeResult | None = None) -> tuple[list[float], str, float]:
    """Per-frame reference-seconds, their source and the per-chunk one-time cost: from the feature model,
    or from a probe if one was run."""
    if probe is None:
        return feature_frame_seconds(stats), "features", once_seconds(stats)
    return probe_frame_seconds(stats, probe), "probe", probe.once_reference_seconds()


def estimate_scene(stats: SceneStats, providers: tuple[ProviderQuote, ...] = (), *,
                   safety_factor: float = DEFAULT_SAFETY_FACTOR, probe: ProbeResult | None = None,
                   chunks: int = 0, chunk_size: int = 0) -> Estimate:
    """The panel's and CLI's one call: the estimate of a scene from its stats (and a probe, if run)."""
    seconds, source, once = scene_seconds(stats, probe)
    return plan(stats, seconds, providers, source=source, once=once, safety_factor=safety_factor, chunks=chunks,
                chunk_size=chunk_size)
