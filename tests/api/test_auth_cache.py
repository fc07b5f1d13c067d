"""Key lookups cached per worker, with revocation reaching every worker within a second."""

from __future__ import annotations

import asyncio

import pytest

from anima.api.auth import REVOCATION_POLL_SECONDS, Authenticator
from anima.domain.credentials import Scope, new_key_pair
from anima.errors import Unauthenticated
from anima.store import Store


class CountingKeys:
    """Counts the key rows read through the real repo."""

    def __init__(self, store: Store) -> None:
        self.reads = 0
        original = store.keys.get_with_hash

        async def counted(key: str):  # type: ignore[no-untyped-def]
            self.reads += 1
            return await original(key)

        store.keys.get_with_hash = counted  # type: ignore[method-assign]


async def test_a_known_key_is_not_read_again(store: Store) -> None:
    await store.keys.ensure_workspace("ws")
    pair = new_key_pair()
    await store.keys.add("ws", Scope.ALL, pair)
    counting = CountingKeys(store)
    auth = Authenticator(store)
    for _ in range(5):
        assert (await auth.authenticate(f"Basic {pair.basic}")).key == pair.key
    assert counting.reads == 1
    with pytest.raises(Unauthenticated):  # a wrong secret is still checked against the row
        await auth.authenticate(f"Basic {_with_secret(pair.basic, 'wrong')}")


async def test_revocation_reaches_a_second_worker_within_a_second(store: Store) -> None:
    await store.keys.ensure_workspace("ws")
    pair, other = new_key_pair(), new_key_pair()
    await store.keys.add("ws", Scope.ALL, pair)
    await store.keys.add("ws", Scope.ALL, other)
    first, second = Authenticator(store), Authenticator(store)  # two workers, one database
    header = f"Basic {pair.basic}"
    await first.authenticate(header)
    await second.authenticate(header)

    assert await store.keys.revoke(pair.key)  # through the first worker's store
    await asyncio.sleep(REVOCATION_POLL_SECONDS)
    for worker in (first, second):
        with pytest.raises(Unauthenticated, match="revoked"):
            await worker.authenticate(header)
        # the other key of the workspace goes on working
        assert (await worker.authenticate(f"Basic {other.basic}")).key == other.key


async def test_concurrent_requests_share_one_revocation_read(store: Store) -> None:
    await store.keys.ensure_workspace("ws")
    pair = new_key_pair()
    await store.keys.add("ws", Scope.ALL, pair)
    reads = 0
    original = store.keys.revocations

    async def counted() -> tuple[int, int, float]:
        nonlocal reads
        reads += 1
        return await original()

    store.keys.revocations = counted  # type: ignore[method-assign]
    auth = Authenticator(store)
    keys = await asyncio.gather(*(auth.authenticate(f"Basic {pair.basic}") for _ in range(20)))
    assert {k.key for k in keys} == {pair.key}
    assert reads == 1


def _with_secret(basic: str, secret: str) -> str:
    import base64

    key = base64.b64decode(basic).decode().split(":")[0]
    return base64.b64encode(f"{key}:{secret}".encode()).decode()
