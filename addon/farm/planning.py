"""Choosing providers and cutting the frame range into chunks, bpy-free.

    split_frames   a frame range into chunks of at most `chunk_size` frames
    read_providers the candidates' records from the chain (RenderFarm.get_provider)
    plan           filter (registered, available, reputation, a free GPU slot, free bond for the
                   no-show compensation, price), rank (pinned first, then price, reputation, benchmark
                   score), and hand the chunks out over the best `max_providers`, round robin, never
                   past a provider's free slots or free bond; every chunk is then checked by the
                   contract's own `check-assignment`, so create-jobs does not fail on a rule we missed.

The contract has no read-only function that lists providers (only get-provider by address and a count
in get-platform-stats), so the candidates are addresses the caller knows: pinned ones, a list the
artist keeps, or a directory. docs/addon.md proposes a `get-provider-at (index)` reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..stacks.errors import StacksError
from .contract import Provider, RenderFarm
from .contract_errors import ContractError
from .error_mapping import translated
from .errors import ChainError, FarmError
from .estimate import CHUNK_STARTUP_SECONDS, DEFAULT_SAFETY_FACTOR
from .manifest import FrameRange
from .requester import ChunkPlan

REFERENCE_SCORE = 100  # benchmark score of the reference machine the complexity is measured on


class PlanningError(FarmError):
    """No acceptable plan: the message lists why each candidate was refused and what to change."""


@dataclass(frozen=True)
class Terms:
    """What the artist asks for, in the chain's units."""

    requester: str
    frames: FrameRange
    chunk_size: int
    max_providers: int
    reward: int  # µSTX for the whole range, split over chunks by their frame count
    complexity_per_frame: int  # reference-seconds per frame (the estimate)
    min_reputation: int = 0
    pinned: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()


def split_frames(frames: FrameRange, chunk_size: int) -> list[FrameRange]:
    if chunk_size < 1:
        raise PlanningError(f"a chunk holds at least one frame, got chunk size {chunk_size}")
    if frames.end < frames.start:
        raise PlanningError(f"the frame range {frames.start}-{frames.end} is empty: the end comes before the start")
    every = frames.frames()
    return [FrameRange(part[0], part[-1], frames.step) for part in
            (every[i:i + chunk_size] for i in range(0, len(every), chunk_size))]


def read_providers(farm: RenderFarm, addresses) -> list[Provider]:
    """The chain's record of each address (unregistered ones left out)."""
    found = []
    for address in dict.fromkeys(addresses):
        with translated(f"reading provider {address} from the chain at {farm.client.network.api_url}"):
            record = farm.get_provider(address)
        if record is not None:
            found.append(record)
    return found


def refusal(provider: Provider, terms: Terms, reward: int, complexity: int, compensation: int) -> str | None:
    """Why this provider cannot take a chunk with these terms, or None (the contract's rules, in order)."""
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
    if reward < complexity * provider.price_per_unit:
        return f"asks {complexity * provider.price_per_unit} µSTX for a chunk, the reward gives {reward}"
    if provider.bond - provider.bond_reserved < compensation:
        return f"free bond {provider.bond - provider.bond_reserved} µSTX < the {compensation} a no-show would owe"
    return None


def rank_key(provider: Provider, pinned: tuple[str, ...]):
    return (provider.address not in pinned, provider.price_per_unit, -provider.reputation,
            -provider.benchmark_score, provider.address)


def plan(farm: RenderFarm, candidates: list[Provider], terms: Terms) -> list[ChunkPlan]:
    with translated(f"reading the contract's settings from the chain at {farm.client.network.api_url}"):
        config = farm.get_config()
    chunks = split_frames(terms.frames, terms.chunk_size)
    total_frames = len(terms.frames.frames())
    if terms.reward < len(chunks):
        raise PlanningError(f"a reward of {terms.reward} µSTX cannot pay {len(chunks)} chunks: raise it")
    # Reward by frame count; the rounding remainder goes to the first chunks so the sum is exact.
    rewards = [terms.reward * len(c.frames()) // total_frames for c in chunks]
    for i in range(terms.reward - sum(rewards)):
        rewards[i % len(rewards)] += 1
    biggest = max(range(len(chunks)), key=lambda i: len(chunks[i].frames()))
    complexity = [max(1, terms.complexity_per_frame * len(c.frames())) for c in chunks]

    def compensation(reward: int) -> int:
        return reward * config["compensation_percent"] // 100

    refused: dict[str, str] = {}
    usable = []
    for provider in sorted(candidates, key=lambda p: rank_key(p, terms.pinned)):
        why = refusal(provider, terms, rewards[biggest], complexity[biggest], compensation(rewards[biggest]))
        if why:
            refused[provider.address] = why
        else:
            usable.append(provider)
    chosen = usable[:terms.max_providers]
    if not chosen:
        reasons = "; ".join(f"{a}: {why}" for a, why in refused.items()) or "no candidates were given"
        raise PlanningError(f"no provider can take these chunks ({reasons}). Lower the minimum reputation, raise "
                            "the reward, or add providers")
    slots = {p.address: p.gpu_count - p.active_jobs for p in chosen}
    free_bond = {p.address: p.bond - p.bond_reserved for p in chosen}
    plans, turn = [], 0
    for index, frames in enumerate(chunks):
        for attempt in range(len(chosen)):
            provider = chosen[(turn + attempt) % len(chosen)]
            if slots[provider.address] > 0 and free_bond[provider.address] >= compensation(rewards[index]):
                break
        else:
            raise PlanningError(f"the chosen providers have free GPUs or bond for only {len(plans)} of the "
                                f"{len(chunks)} chunks: make chunks bigger or allow more providers")
        turn = (turn + attempt + 1) % len(chosen)
        slots[provider.address] -= 1
        free_bond[provider.address] -= compensation(rewards[index])
        # As the estimate does: the provider's predicted seconds (startup included) times the safety factor.
        predicted = (complexity[index] + CHUNK_STARTUP_SECONDS) * REFERENCE_SCORE / max(1, provider.benchmark_score)
        duration = int(predicted * DEFAULT_SAFETY_FACTOR) + 1
        duration = min(max(duration, config["min_duration"]), config["max_duration"])
        plans.append(ChunkPlan(provider.address, frames, rewards[index], complexity[index], duration))
    for chunk in plans:  # the contract's own verdict, one read per chunk
        try:
            farm.check_assignment(chunk.provider, terms.requester, chunk.reward, chunk.complexity,
                                  terms.min_reputation)
        except ContractError as error:
            raise PlanningError(f"the chain refuses chunk {chunk.frames.start}-{chunk.frames.end} for "
                                f"{chunk.provider}: {error}") from None
        except StacksError as error:
            raise ChainError(f"checking chunk {chunk.frames.start}-{chunk.frames.end} with the chain: {error}") \
                from error
    return plans
