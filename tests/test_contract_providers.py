"""Providers on the real contract through the local chain: registration, resources, bond, leaving."""

import pytest

from addon.farm import contract_errors as E
from addon.stacks import keys
from tests.farm_world import BOND, STX

pytestmark = pytest.mark.usefixtures("conservation")


def test_register_locks_the_bond_and_starts_at_reputation_100(world, farm):
    account = world.account()
    before = world.stx_balance(account.address)
    providers_before = farm.get_platform_stats().providers
    farm.register_provider(account.private_key, gpu_count=4, gpu_memory=24_576, benchmark_score=350,
                           price_per_unit=7, bond=BOND)
    p = farm.get_provider(account.address)
    assert (p.gpu_count, p.gpu_memory, p.benchmark_score, p.price_per_unit) == (4, 24_576, 350, 7)
    assert (p.reputation, p.bond, p.available, p.registered) == (100, BOND, True, True)
    assert p.public_key == keys.compress_public_key(keys.public_key_from_private_key(account.private_key))
    assert farm.get_reputation(account.address) == 100
    assert farm.get_success_rate(account.address) == 0
    assert farm.get_platform_stats().providers == providers_before + 1
    assert before - world.stx_balance(account.address) > BOND  # the bond plus the fee


def test_registration_errors(world, farm):
    account = world.account()
    other = world.account()
    key = keys.compress_public_key(keys.public_key_from_private_key(account.private_key))
    base = dict(gpu_count=1, gpu_memory=1024, benchmark_score=1, price_per_unit=0, bond=BOND)
    cases = [
        (dict(public_key=key[:32]), E.InvalidPublicKey),
        (dict(public_key=b"\x05" + key[1:]), E.InvalidPublicKey),
        (dict(public_key=keys.compress_public_key(keys.public_key_from_private_key(other.private_key))),
         E.PublicKeyMismatch),
        (dict(gpu_count=0), E.InvalidGpuCount),
        (dict(gpu_count=65), E.InvalidGpuCount),
        (dict(gpu_memory=0), E.InvalidGpuMemory),
        (dict(benchmark_score=0), E.InvalidBenchmark),
        (dict(bond=10 * STX - 1), E.BondTooLow),
        (dict(bond=20_000 * STX), E.InsufficientFunds),
    ]
    for override, error in cases:
        with pytest.raises(error):
            farm.register_provider(account.private_key, **{**base, **override})
    assert farm.get_provider(account.address) is None
    farm.register_provider(account.private_key, **base)
    with pytest.raises(E.AlreadyRegistered, match="already a registered provider"):
        farm.register_provider(account.private_key, **base)


def test_resources_availability_and_bond(world, farm):
    provider = world.provider()
    farm.update_resources(provider.private_key, gpu_count=8, gpu_memory=48_000, benchmark_score=900, price_per_unit=3)
    farm.set_availability(provider.private_key, False)
    p = farm.get_provider(provider.address)
    assert (p.gpu_count, p.gpu_memory, p.benchmark_score, p.price_per_unit, p.available) == (8, 48_000, 900, 3, False)
    with pytest.raises(E.InvalidGpuCount):
        farm.update_resources(provider.private_key, gpu_count=0, gpu_memory=1, benchmark_score=1, price_per_unit=1)
    farm.add_bond(provider.private_key, 5 * STX)
    assert farm.get_provider(provider.address).bond == BOND + 5 * STX
    farm.withdraw_bond(provider.private_key, BOND + 5 * STX - 10 * STX)
    assert farm.get_provider(provider.address).bond == 10 * STX
    with pytest.raises(E.BondLocked):
        farm.withdraw_bond(provider.private_key, 1)  # the minimum bond stays
    for call in (lambda: farm.add_bond(provider.private_key, 0), lambda: farm.withdraw_bond(provider.private_key, 0)):
        with pytest.raises(E.InvalidAmount):
            call()
    with pytest.raises(E.InsufficientFunds):
        farm.add_bond(provider.private_key, 1_000_000 * STX)


def test_only_registered_providers_manage_a_provider_record(world, farm):
    stranger = world.account()
    calls = [
        lambda: farm.update_resources(stranger.private_key, gpu_count=1, gpu_memory=1, benchmark_score=1,
                                      price_per_unit=1),
        lambda: farm.set_availability(stranger.private_key, True),
        lambda: farm.add_bond(stranger.private_key, STX),
        lambda: farm.withdraw_bond(stranger.private_key, STX),
        lambda: farm.deregister_provider(stranger.private_key),
    ]
    for call in calls:
        with pytest.raises(E.NotRegistered, match="register first"):
            call()


def test_deregister_returns_the_bond_and_keeps_the_record(world, farm):
    provider = world.provider()
    requester = world.account()
    job_id = world.job(requester, provider)
    with pytest.raises(E.HasOpenJobs):
        farm.deregister_provider(provider.private_key)
    farm.cancel_job(requester.private_key, job_id)
    before = world.stx_balance(provider.address)
    assert farm.deregister_provider(provider.private_key) == BOND
    assert world.stx_balance(provider.address) > before + BOND - STX  # bond back, minus a fee
    p = farm.get_provider(provider.address)
    assert (p.registered, p.available, p.bond) == (False, False, 0)
    with pytest.raises(E.ProviderNotFound):
        world.job(requester, provider)
    # Registering again continues from the old record (reputation cannot be reset this way).
    farm.register_provider(provider.private_key, gpu_count=1, gpu_memory=1, benchmark_score=1, price_per_unit=0,
                           bond=BOND)
    assert farm.get_provider(provider.address).registered


# ---- the provider index: listing the market from the chain ----------------------------------------


def indexed(farm) -> list:
    """Every entry of the index, read 50 at a time with get-providers."""
    count = farm.get_provider_index_count()
    entries = []
    for start in range(0, count, 50):
        entries.extend(farm.get_providers(list(range(start, min(count, start + 50)))))
    return entries


def test_the_index_lists_each_principal_once_in_order_of_first_registration(world, farm):
    before = farm.get_provider_index_count()
    first, second = world.provider(gpu_count=3, price=4), world.provider(benchmark=250)
    assert farm.get_provider_index_count() == before + 2
    at_first, at_second = farm.get_provider_at(before), farm.get_provider_at(before + 1)
    assert (at_first.address, at_first.gpu_count, at_first.price_per_unit) == (first.address, 3, 4)
    assert at_first == farm.get_provider(first.address)  # the same record get-provider returns
    assert (at_second.address, at_second.benchmark_score) == (second.address, 250)
    assert farm.get_provider_at(farm.get_provider_index_count()) is None  # past the end

    # Leaving keeps the entry (marked unregistered); coming back does not append it again.
    farm.deregister_provider(first.private_key)
    assert farm.get_provider_at(before).registered is False
    farm.register_provider(first.private_key, gpu_count=1, gpu_memory=1, benchmark_score=1, price_per_unit=9,
                           bond=BOND)
    assert farm.get_provider_index_count() == before + 2
    again = farm.get_provider_at(before)
    assert (again.address, again.registered, again.price_per_unit) == (first.address, True, 9)
    # A failed registration (here: bond too low) indexes nobody.
    newcomer = world.account()
    with pytest.raises(E.BondTooLow):
        farm.register_provider(newcomer.private_key, gpu_count=1, gpu_memory=1, benchmark_score=1, price_per_unit=0,
                               bond=1)
    assert farm.get_provider_index_count() == before + 2


def test_get_providers_reads_a_batch_with_none_past_the_end(world, farm):
    world.provider()
    count = farm.get_provider_index_count()
    batch = farm.get_providers([count - 1, count, count + 7, 0])
    assert batch[0] == farm.get_provider_at(count - 1) and batch[1:3] == [None, None]
    assert batch[3] == farm.get_provider_at(0)
    assert farm.get_providers([]) == []
    with pytest.raises(ValueError, match="at most 50"):
        farm.get_providers(list(range(51)))


def test_the_index_is_dense_and_holds_each_principal_once(world, farm):
    """Properties over the whole chain so far (every test's providers): indices 0..count-1 all resolve,
    no principal twice, every principal ever registered appears, and the registered ones are exactly
    get-platform-stats' provider count."""
    mine = [world.provider() for _ in range(3)]
    farm.deregister_provider(mine[1].private_key)
    farm.register_provider(mine[1].private_key, gpu_count=1, gpu_memory=1, benchmark_score=1, price_per_unit=0,
                           bond=BOND)
    entries = indexed(farm)
    assert len(entries) == farm.get_provider_index_count() and None not in entries
    addresses = [p.address for p in entries]
    assert len(set(addresses)) == len(addresses)
    assert {a.address for a in mine} <= set(addresses)
    assert sum(p.registered for p in entries) == farm.get_platform_stats().providers
