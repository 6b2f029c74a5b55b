"""The one chunk planner: providers listed from the contract on the local chain, filtered, ranked and
given chunks (addon.farm.planning), over the estimate's arithmetic (addon.farm.estimate.cut/assign)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from addon.farm import estimate as e
from addon.farm.contract import RenderFarm
from addon.farm.manifest import FrameRange
from addon.farm.planning import PlanningError, Terms, list_providers, plan, read_providers, requests, uniform_seconds
from addon.stacks.api import ReadOnlyCallError, StacksClient
from server.devnet import Devnet
from tests.farm_world import STX, World


def terms(requester, **overrides):
    frames = overrides.pop("frames", FrameRange(1, 48))
    base = dict(requester=requester.address, frames=frames, frame_seconds=uniform_seconds(frames, 10),
                chunk_size=12, max_providers=2, reward=48 * STX)
    return Terms(**{**base, **overrides})


def world_account(address, *accounts):
    return next(a for a in accounts if a.address == address)


def test_list_providers_reads_every_provider_on_chain(world, farm):
    mine = [world.provider(gpu_count=n, price=n) for n in (1, 2, 3)]
    listed = list_providers(farm)
    assert len(listed) == farm.get_provider_index_count()  # 50 per read, none missed
    by_address = {p.address: p for p in listed}
    for account in mine:
        assert by_address[account.address] == farm.get_provider(account.address)


def test_list_providers_shrinks_its_pages_under_a_nodes_read_only_limit():
    """A node refusing read-only calls of more than 30 reads (stacks-core's example read_only_call_limit)
    refuses a page of 20 providers; the listing halves its pages and still reads every one."""
    with Devnet(read_only_reads=30) as devnet, StacksClient("devnet", api_url=devnet.url) as client:
        deployer = next(a for a in devnet.accounts() if a["name"] == "deployer")
        farm = RenderFarm(client, f"{deployer['address']}.render-farm")
        world = World(devnet, farm)
        mine = {world.provider(gpu_count=1).address for _ in range(20)}
        with pytest.raises(ReadOnlyCallError, match="CostBalanceExceeded"):
            farm.get_providers(list(range(20)))
        assert {p.address for p in list_providers(farm)} == mine


def test_plan_ranks_filters_and_spreads_chunks(world, farm):
    requester = world.account()
    cheap = world.provider(gpu_count=2, price=1)
    dear = world.provider(gpu_count=2, price=5)
    greedy = world.provider(gpu_count=4, price=10**9)  # price above what the reward pays
    busy = world.provider(gpu_count=1)
    world.job(world.account(), busy)  # its only GPU is taken
    away = world.provider()
    farm.set_availability(away.private_key, False)
    addresses = [p.address for p in (dear, greedy, busy, away, cheap)] + [world.account().address]
    candidates = read_providers(farm, addresses)
    assert len(candidates) == 5  # the unregistered address is left out

    result = plan(farm, candidates, terms(requester))
    chunks = requests(result)
    assert [c.frames for c in chunks] == [FrameRange(1, 12), FrameRange(13, 24), FrameRange(25, 36),
                                          FrameRange(37, 48)]
    assert [c.provider for c in chunks] == [cheap.address, dear.address, cheap.address, dear.address]
    # The lump reward is split by frames; complexity = the frames' work + the chunk's start-up.
    assert sum(c.reward for c in chunks) == 48 * STX == result.cost_micro_stx
    assert all(c.complexity == 12 * 10 + e.CHUNK_STARTUP_SECONDS for c in chunks)

    pinned = plan(farm, candidates, terms(requester, pinned=(dear.address,), max_providers=1, chunk_size=24))
    assert {c.provider for c in pinned.chunks} == {dear.address}
    excluded = plan(farm, candidates, terms(requester, excluded=(cheap.address,), max_providers=1, chunk_size=24))
    assert {c.provider for c in excluded.chunks} == {dear.address}

    created = farm.create_jobs(requester.private_key, [world.chunk(world_account(c.provider, cheap, dear), c.reward,
                                                                   c.complexity, c.estimated_duration,
                                                                   (c.frames.start, c.frames.end)) for c in chunks],
                               relay_url="http://relay")
    assert len(created.job_ids) == 4  # the chain accepts the plan as made


def test_without_a_reward_each_chunk_pays_its_providers_price(world, farm):
    requester = world.account()
    cheap, dear = world.provider(gpu_count=1, price=3), world.provider(gpu_count=3, price=7)
    candidates = read_providers(farm, [cheap.address, dear.address])
    result = plan(farm, candidates, terms(requester, reward=None))
    price = {cheap.address: 3, dear.address: 7}
    assert [c.provider for c in result.chunks].count(cheap.address) == 1  # its one free GPU
    for chunk in result.chunks:
        assert chunk.reward == chunk.complexity * price[chunk.provider]  # the contract's minimum, exactly
    assert result.cost_micro_stx == sum(c.reward for c in result.chunks)
    # The budget: the same plan under a lower maximum is refused, saying what to change.
    with pytest.raises(PlanningError, match=r"costs .* STX, above your maximum of 0.001 STX: raise the maximum"):
        plan(farm, candidates, terms(requester, reward=None, max_cost=1000))
    assert plan(farm, candidates, terms(requester, reward=None, max_cost=result.cost_micro_stx)) == result


def test_the_faster_provider_takes_the_heaviest_chunk(world, farm):
    requester = world.account()
    slow = world.provider(gpu_count=1, price=1, benchmark=100)
    fast = world.provider(gpu_count=1, price=2, benchmark=400)
    frames = FrameRange(1, 20)
    seconds = tuple(float(f) for f in frames.frames())  # later frames cost more: the second chunk is heavier
    result = plan(farm, read_providers(farm, [slow.address, fast.address]),
                  terms(requester, frames=frames, frame_seconds=seconds, chunk_size=10, reward=None))
    assert [(c.frame_start, c.provider) for c in result.chunks] == [(1, slow.address), (11, fast.address)]
    light, heavy = result.chunks
    assert heavy.predicted_seconds == pytest.approx((heavy.reference_seconds + e.CHUNK_STARTUP_SECONDS) / 4)
    assert heavy.estimated_duration >= heavy.predicted_seconds * e.DEFAULT_SAFETY_FACTOR
    assert result.wall_seconds == max(light.predicted_seconds, heavy.predicted_seconds)


def test_plan_says_why_nobody_fits(world, farm):
    requester = world.account()
    low = world.provider(gpu_count=1)
    with pytest.raises(PlanningError, match="reputation 100 < 500.*Lower the minimum reputation"):
        plan(farm, read_providers(farm, [low.address]), terms(requester, min_reputation=500))
    with pytest.raises(PlanningError, match="only 1 of the 4 chunks .*every free GPU.*make chunks bigger"):
        plan(farm, read_providers(farm, [low.address]), terms(requester))
    with pytest.raises(PlanningError, match="no provider is registered"):
        plan(farm, [], terms(requester))
    with pytest.raises(PlanningError, match="is this wallet itself"):
        plan(farm, read_providers(farm, [low.address]), terms(low))
    with pytest.raises(PlanningError, match="cannot pay 4 chunks"):
        plan(farm, read_providers(farm, [low.address]), terms(requester, reward=3))
    poor = world.provider(gpu_count=4, price=1, bond=10 * STX)  # 20% of 20 STX per chunk: bond for 2.5 chunks
    with pytest.raises(PlanningError, match="only 2 of the 4 chunks .*free bond"):
        plan(farm, read_providers(farm, [poor.address]), terms(requester, reward=80 * STX))


# ---- properties of the arithmetic (no chain) ------------------------------------------------------

quotes = st.lists(st.builds(e.ProviderQuote, st.sampled_from(["ST1", "ST2", "ST3", "ST4"]), st.integers(1, 2000),
                            st.integers(0, 500), st.integers(1, 4), free_slots=st.integers(0, 4),
                            free_bond=st.integers(0, 10**9)),
                  min_size=1, max_size=4, unique_by=lambda q: q.address)


@settings(max_examples=200, deadline=None)
@given(providers=quotes, costs=st.lists(st.floats(0.01, 500), min_size=1, max_size=150),
       chunk_size=st.integers(1, 40), factor=st.floats(1.0, 3.0), lump=st.one_of(st.none(), st.integers(1, 10**9)))
def test_every_planned_chunk_meets_the_chain(providers, costs, chunk_size, factor, lump):
    frames = range(10, 10 + 2 * len(costs), 2)  # a stepped range
    try:
        cuts = e.cut(frames, costs, overhead=e.CHUNK_STARTUP_SECONDS, chunk_size=chunk_size)
        rewards = e.split_reward(cuts, lump) if lump is not None else None
        chunks, wall = e.assign(cuts, providers, overhead=e.CHUNK_STARTUP_SECONDS, safety_factor=factor,
                                rewards=rewards)
    except e.EstimateError as error:  # refusals say what to change
        assert any(hint in str(error) for hint in ("make chunks", "raise it", "no free GPU", "7-day"))
        return
    # Every frame in exactly one chunk, in order, with the range's step.
    assert [f for c in chunks for f in range(c.frame_start, c.frame_end + 1, c.frame_step)] == list(frames)
    by_address = {p.address: p for p in providers}
    for c in chunks:
        provider = by_address[c.provider]
        assert c.reward >= c.complexity * provider.price_per_unit and c.reward >= 1
        assert c.complexity >= c.reference_seconds + e.CHUNK_STARTUP_SECONDS
        assert c.estimated_duration >= c.predicted_seconds * factor
        assert e.MIN_DURATION <= c.estimated_duration <= e.MAX_DURATION
    for p in providers:  # never past a provider's free GPUs or free bond
        mine = [c for c in chunks if c.provider == p.address]
        assert len(mine) <= p.free_slots
        assert sum(e.compensation_for(c.reward) for c in mine) <= p.free_bond
    if lump is not None:
        assert sum(c.reward for c in chunks) == lump
    assert wall == pytest.approx(max(c.predicted_seconds for c in chunks))


@given(frames=st.integers(1, 400), size=st.integers(1, 50))
def test_chunk_size_cuts_contiguous_chunks_of_that_many_frames(frames, size):
    try:
        cuts = e.cut(range(frames), [1.0] * frames, overhead=0, chunk_size=size)
    except e.EstimateError as error:
        assert math.ceil(frames / size) > e.MAX_BATCH and "make chunks of at least" in str(error)
        return
    assert [len(c.frames) for c in cuts[:-1]] == [size] * (len(cuts) - 1) and 1 <= len(cuts[-1].frames) <= size
