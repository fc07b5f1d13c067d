"""The nonce replay store and the sealed HMAC copy of API secrets, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os

import pytest

from anima.domain.credentials import Scope, new_key_pair
from anima.errors import FailedPrecondition
from anima.store import Store
from anima.store.sealing import SealedWithOtherKey, sealing_key_path


async def _key(store: Store) -> str:
    await store.keys.ensure_workspace("w")
    pair = new_key_pair()
    await store.keys.add("w", Scope.ALL, pair)
    return pair.key


async def test_a_nonce_is_accepted_once(store: Store) -> None:
    key = await _key(store)
    assert await store.nonces.use(key, "0123456789a", keep_until=2000.0, now=1000.0)
    assert not await store.nonces.use(key, "0123456789a", keep_until=2000.0, now=1001.0)
    assert await store.nonces.use(key, "0123456789b", keep_until=2000.0, now=1001.0)


async def test_nonces_are_per_key(store: Store) -> None:
    a, b = await _key(store), await _key(store)
    assert await store.nonces.use(a, "0123456789a", keep_until=2000.0, now=1000.0)
    assert await store.nonces.use(b, "0123456789a", keep_until=2000.0, now=1000.0)


async def test_an_expired_record_is_taken_over_and_purged(store: Store) -> None:
    key = await _key(store)
    assert await store.nonces.use(key, "0123456789a", keep_until=1100.0, now=1000.0)
    assert await store.nonces.use(key, "0123456789a", keep_until=1300.0, now=1200.0)
    assert not await store.nonces.use(key, "0123456789a", keep_until=1300.0, now=1250.0)
    assert await store.nonces.use(key, "0123456789b", keep_until=1100.0, now=1000.0)
    assert await store.nonces.purge(now=1200.0) == 1  # b; a lives until 1300
    assert await store.nonces.purge(now=1300.0) == 1


async def test_concurrent_replays_let_exactly_one_through(store: Store) -> None:
    key = await _key(store)
    results = await asyncio.gather(
        *(store.nonces.use(key, "0123456789a", keep_until=2000.0, now=1000.0) for _ in range(5))
    )
    assert sorted(results) == [False, False, False, False, True]


async def test_secrets_are_sealed_and_open_again(store: Store) -> None:
    await store.keys.ensure_workspace("w")
    pair = new_key_pair()
    await store.keys.add("w", Scope.RUNTIME, pair)
    found = await store.keys.get_signing_secret(pair.key)
    assert found is not None
    assert found[0].key == pair.key
    assert found[1] == pair.secret
    assert await store.keys.get_signing_secret("nope") is None
    assert os.stat(sealing_key_path(store)).st_mode & 0o777 == 0o600


async def test_a_sealed_blob_does_not_open_for_another_key_id(store: Store) -> None:
    blob = await store.sealer.seal("key-a", "secret")
    assert await store.sealer.open("key-a", blob) == "secret"
    with pytest.raises(FailedPrecondition, match="does not open"):
        await store.sealer.open("key-b", blob)


async def test_another_sealing_key_file_is_named_as_the_problem(store: Store) -> None:
    blob = await store.sealer.seal("key-a", "secret")
    other = Store(
        store.engine,
        store.settings.model_copy(
            update={"sealing_key_file": sealing_key_path(store).with_name("other.key")}
        ),
    )
    with pytest.raises(SealedWithOtherKey, match="ANIMA_SEALING_KEY_FILE"):
        await other.sealer.open("key-a", blob)


async def test_the_sealing_key_survives_a_reopen(store: Store) -> None:
    blob = await store.sealer.seal("key-a", "secret")
    again = await Store.open(store.settings)
    try:
        assert await again.sealer.open("key-a", blob) == "secret"
    finally:
        await again.close()
