"""Provider selection and chunking (addon.farm.planning) against the contract on the local chain."""

import pytest

from addon.farm.manifest import FrameRange
from addon.farm.planning import PlanningError, Terms, plan, read_providers, split_frames
from tests.farm_world import STX


def test_split_frames_covers_the_range_in_order():
    assert split_frames(FrameRange(1, 10), 4) == [FrameRange(1, 4), FrameRange(5, 8), FrameRange(9, 10)]
    assert split_frames(FrameRange(1, 10, 3), 2) == [FrameRange(1, 4, 3), FrameRange(7, 10, 3)]
    assert split_frames(FrameRange(5, 5), 12) == [FrameRange(5, 5)]


@pytest.mark.parametrize("frames, size, message", [(FrameRange(1, 4), 0, "at least one frame"),
                                                   (FrameRange(9, 1), 4, "empty")])
def test_split_frames_refuses_bad_input(frames, size, message):
    with pytest.raises(PlanningError, match=message):
        split_frames(frames, size)


def terms(requester, **overrides):
    base = dict(requester=requester.address, frames=FrameRange(1, 48), chunk_size=12, max_providers=2,
                reward=48 * STX, complexity_per_frame=10)
    return Terms(**{**base, **overrides})


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

    chunks = plan(farm, candidates, terms(requester))
    assert [c.frames for c in chunks] == [FrameRange(1, 12), FrameRange(13, 24), FrameRange(25, 36),
                                          FrameRange(37, 48)]
    assert [c.provider for c in chunks] == [cheap.address, dear.address, cheap.address, dear.address]
    assert sum(c.reward for c in chunks) == 48 * STX and all(c.complexity == 120 for c in chunks)

    pinned = plan(farm, candidates, terms(requester, pinned=(dear.address,), max_providers=1, chunk_size=24))
    assert {c.provider for c in pinned} == {dear.address}
    excluded = plan(farm, candidates, terms(requester, excluded=(cheap.address,), max_providers=1, chunk_size=24))
    assert {c.provider for c in excluded} == {dear.address}

    created = farm.create_jobs(requester.private_key, [world.chunk(world_account(c.provider, cheap, dear), c.reward,
                                                                   c.complexity, c.estimated_duration,
                                                                   (c.frames.start, c.frames.end)) for c in chunks],
                               relay_url="http://relay")
    assert len(created.job_ids) == 4  # the chain accepts the plan as made


def world_account(address, *accounts):
    return next(a for a in accounts if a.address == address)


def test_plan_says_why_nobody_fits(world, farm):
    requester = world.account()
    low = world.provider(gpu_count=1)
    with pytest.raises(PlanningError, match="reputation 100 < 500.*Lower the minimum reputation"):
        plan(farm, read_providers(farm, [low.address]), terms(requester, min_reputation=500))
    with pytest.raises(PlanningError, match="free GPUs or bond for only 1 of the 4 chunks"):
        plan(farm, read_providers(farm, [low.address]), terms(requester))
    with pytest.raises(PlanningError, match="no candidates"):
        plan(farm, [], terms(requester))
    with pytest.raises(PlanningError, match="is this wallet itself"):
        plan(farm, read_providers(farm, [low.address]), terms(low))
