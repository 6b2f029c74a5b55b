"""Choosing providers from the chain and planning a submission's chunks, bpy-free.

    list_providers every provider on chain, read from the contract's provider index 50 at a time
    read_providers the records of addresses the artist named (unregistered ones left out)
    plan           filter by the contract's rules (registered, available, reputation, a free GPU, free
                   bond, price), rank (pinned first, then price, reputation, benchmark score), keep the
                   best `max_providers`, and let the estimate's planner (addon.farm.estimate.cut/assign)
                   place the chunks on their free GPU slots by benchmark score, with durations, deadlines
                   and rewards; every chunk is then checked by the contract's own `check-assignment`, so
                   create-jobs does not fail on a rule we missed.

The reward is either each chunk's price on its provider (complexity x price-per-unit: the least the
contract accepts), or a lump the artist fixed, split by frame count. `max_cost` refuses a plan that
costs more than the artist's budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stacks.api import ReadOnlyCallError
from ..stacks.errors import StacksError
from . import estimate
from .contract import PROVIDER_PAGE, Provider, RenderFarm
from .contract_errors import ContractError
from .error_mapping import translated
from .errors import ChainError, FarmError
from .manifest import FrameRange
from .requester import ChunkPlan

MAX_REASONS = 12  # refused providers named in an error; a market lists many


class PlanningError(FarmError):
    """No acceptable plan: the message lists why each candidate was refused and what to change."""


@dataclass(frozen=True)
class Terms:
    """What the artist asks for, in the chain's units."""

    requester: str
    frames: FrameRange
    frame_seconds: tuple[float, ...]  # reference-seconds of each frame (the estimate, or --complexity)
    max_providers: int
    chunk_size: int = 0               # frames per chunk (the artist's choice); 0: `chunks` of them
    chunks: int = 0                   # with chunk_size 0: this many chunks (0: one per free GPU)
    reward: int | None = None         # µSTX for the whole range split by frame count; None: each chunk's price
    max_cost: int | None = None       # µSTX: refuse a plan that costs more
    once_seconds: float = 0.0         # reference-seconds each chunk pays once (EEVEE's shader compile)
    safety_factor: float = estimate.DEFAULT_SAFETY_FACTOR
    min_reputation: int = 0
    pinned: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    @property
    def overhead(self) -> float:
        return estimate.CHUNK_STARTUP_SECONDS + self.once_seconds


def uniform_seconds(frames: FrameRange, per_frame: float) -> tuple[float, ...]:
    """The same cost for every frame (what --complexity gives)."""
    return (float(per_frame),) * len(frames.frames())


def list_providers(farm: RenderFarm, page: int = PROVIDER_PAGE) -> list[Provider]:
    """Every provider the contract ever registered (deregistered ones included, marked), in
    ceil(N / page) read-only calls. A node bounds the reads of one read-only call (stacks-core's
    read_only_call_limit; 50 providers take about 100 reads): when it refuses a page for its cost,
    the pages shrink until they pass."""
    where = f"listing the providers on the chain at {farm.client.network.api_url}"
    with translated(where):
        count = farm.get_provider_index_count()
        found, start = [], 0
        while start < count:
            indices = list(range(start, min(count, start + page)))
            try:
                batch = farm.get_providers(indices)
            except ReadOnlyCallError as error:
                if page == 1 or "Cost" not in str(error):
                    raise
                page //= 2
                continue
            found.extend(p for p in batch if p is not None)
            start += len(indices)
    return found


def read_providers(farm: RenderFarm, addresses) -> list[Provider]:
    """The chain's record of each address (unregistered ones left out)."""
    found = []
    for address in dict.fromkeys(addresses):
        with translated(f"reading provider {address} from the chain at {farm.client.network.api_url}"):
            record = farm.get_provider(address)
        if record is not None:
            found.append(record)
    return found


def candidates(farm: RenderFarm, named, terms: Terms) -> list[Provider]:
    """The providers to consider: those named (plus the pinned ones), or without names every one on chain."""
    named = list(named)
    return read_providers(farm, [*named, *terms.pinned]) if named else list_providers(farm)


def refusal(provider: Provider, terms: Terms) -> str | None:
    """Why this provider cannot take any chunk of these terms, or None (the contract's rules, in order)."""
    if not provider.registered:
        return "not registered"
    if provider.address == terms.requester:
        return "is this wallet itself"
    if provider.address in terms.excluded:
        return "excluded by you"
    if not provider.available:
        return "not taking jobs now"
    if provider.reputation < terms.min_reputation:
        return f"reputation {provider.reputation} < {terms.min_reputation}"
    if provider.active_jobs >= provider.gpu_count:
        return f"no free GPU ({provider.active_jobs}/{provider.gpu_count} busy)"
    return None


def chunk_refusal(provider: Provider, reward: int | None, complexity: int, percent: int) -> str | None:
    """Why this provider cannot take a chunk of this complexity for this reward (None: at its price)."""
    price = max(1, complexity * provider.price_per_unit)
    if reward is not None and reward < complexity * provider.price_per_unit:
        return f"asks {price} µSTX for a chunk, the reward gives {reward}"
    compensation = estimate.compensation_for(price if reward is None else reward, percent)
    if provider.bond - provider.bond_reserved < compensation:
        return f"free bond {provider.bond - provider.bond_reserved} µSTX < the {compensation} a no-show would owe"
    return None


def rank_key(provider: Provider, pinned: tuple[str, ...]):
    return (provider.address not in pinned, provider.price_per_unit, -provider.reputation,
            -provider.benchmark_score, provider.address)


def quote(provider: Provider) -> estimate.ProviderQuote:
    """The chain's record as the planner needs it, with the chain's limits right now."""
    return estimate.ProviderQuote(provider.address, provider.benchmark_score, provider.price_per_unit,
                                  provider.gpu_count, free_slots=max(0, provider.gpu_count - provider.active_jobs),
                                  free_bond=provider.bond - provider.bond_reserved)


def plan(farm: RenderFarm, candidates: list[Provider], terms: Terms, *, check: bool = True) -> estimate.Estimate:
    """The chunks to create for these terms: providers chosen and ranked, chunks placed, rewards and
    deadlines set, and (with `check`) each one accepted by the contract's check-assignment. A quote
    without a wallet (requester "") passes check=False."""
    with translated(f"reading the contract's settings from the chain at {farm.client.network.api_url}"):
        config = farm.get_config()
    percent = config["compensation_percent"]
    frames = range(terms.frames.start, terms.frames.end + 1, terms.frames.step)
    if terms.max_providers < 1:
        raise PlanningError("allow at least one provider")
    refused: dict[str, str] = {}
    allowed = []
    for provider in sorted(candidates, key=lambda p: rank_key(p, terms.pinned)):
        why = refusal(provider, terms)
        if why:
            refused[provider.address] = why
        else:
            allowed.append(provider)
    try:
        count = terms.chunks or sum(p.gpu_count - p.active_jobs for p in allowed[:terms.max_providers])
        cuts = estimate.cut(frames, terms.frame_seconds, overhead=terms.overhead, chunk_size=terms.chunk_size,
                            chunks=count)
        rewards = estimate.split_reward(cuts, terms.reward) if terms.reward is not None else None
    except estimate.EstimateError as error:
        raise PlanningError(str(error)) from None
    # The heaviest chunk decides whether a provider's price and free bond can take chunks at all.
    biggest = max(range(len(cuts)), key=lambda i: cuts[i].complexity)
    usable = []
    for provider in allowed:
        why = chunk_refusal(provider, rewards[biggest] if rewards else None, cuts[biggest].complexity, percent)
        if why:
            refused[provider.address] = why
        else:
            usable.append(provider)
    chosen = usable[:terms.max_providers]
    if not chosen:
        listed = [f"{a}: {why}" for a, why in refused.items()]
        more = f"; and {len(listed) - MAX_REASONS} more" if len(listed) > MAX_REASONS else ""
        reasons = "; ".join(listed[:MAX_REASONS]) + more or "no provider is registered on chain"
        raise PlanningError(f"no provider can take these chunks ({reasons}). Lower the minimum reputation, "
                            f"{'raise the reward, ' if rewards else ''}remove exclusions, or add providers")
    try:
        planned, wall = estimate.assign(cuts, [quote(p) for p in chosen], overhead=terms.overhead,
                                        safety_factor=terms.safety_factor, rewards=rewards,
                                        compensation_percent=percent)
    except estimate.EstimateError as error:
        raise PlanningError(str(error)) from None
    result = estimate.summarize("plan", terms.frame_seconds, terms.overhead, terms.safety_factor, planned, wall)
    if terms.max_cost is not None and result.cost_micro_stx > terms.max_cost:
        raise PlanningError(f"the plan costs {result.cost_micro_stx / 1e6:g} STX, above your maximum of "
                            f"{terms.max_cost / 1e6:g} STX: raise the maximum, render fewer frames or lighter "
                            "settings, or pin cheaper providers")
    for chunk in planned if check else ():  # the contract's own verdict, one read per chunk
        try:
            farm.check_assignment(chunk.provider, terms.requester, chunk.reward, chunk.complexity,
                                  terms.min_reputation)
        except ContractError as error:
            raise PlanningError(f"the chain refuses chunk {chunk.frame_start}-{chunk.frame_end} for "
                                f"{chunk.provider}: {error}") from None
        except StacksError as error:
            raise ChainError(f"checking chunk {chunk.frame_start}-{chunk.frame_end} with the chain: {error}") \
                from error
    return result


def requests(result: estimate.Estimate) -> list[ChunkPlan]:
    """The planned chunks as the requester's submit creates them."""
    return [ChunkPlan(c.provider, FrameRange(c.frame_start, c.frame_end, c.frame_step), c.reward, c.complexity,
                      c.estimated_duration) for c in result.chunks]
