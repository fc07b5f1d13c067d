"""The store of saved model states: LRU under a byte budget, files that survive a restart,
and files that are damaged or foreign being ignored and removed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anima.backends.state_cache import SavedState, StateCache, as_tokens, common_prefix


def state(tokens: list[int], size: int = 1000, *, persona: bool = False) -> SavedState:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    return SavedState(as_tokens(tokens), data, persona=persona)


def test_common_prefix() -> None:
    assert common_prefix(as_tokens([1, 2, 3]), as_tokens([1, 2, 4, 5])) == 2
    assert common_prefix(as_tokens([1, 2]), as_tokens([1, 2, 3])) == 2
    assert common_prefix(as_tokens([]), as_tokens([1])) == 0


def test_the_longest_shared_beginning_wins() -> None:
    cache = StateCache("m", budget_bytes=1 << 20)
    cache.put(state([1, 2, 3], persona=True))
    cache.put(state([7, 8, 9, 10]))
    found, n = cache.best(as_tokens([1, 2, 3, 4, 5]))
    assert found is not None
    assert found.tokens.tolist() == [1, 2, 3]
    assert n == 3
    found, n = cache.best(as_tokens([7, 8, 0]))
    assert found is not None
    assert n == 2
    assert cache.best(as_tokens([5, 5]))[0] is None


def test_lru_eviction_keeps_memory_under_the_budget() -> None:
    one = state([0, 0]).size
    cache = StateCache("m", budget_bytes=3 * one)
    for i in range(5):
        cache.put(state([i, 100 + i]))
    assert cache.stats.memory_entries == 3
    assert cache.stats.memory_bytes <= 3 * one
    assert cache.stats.evictions == 2
    assert cache.best(as_tokens([0, 100]))[1] == 0  # the oldest went first
    cache.best(as_tokens([2, 102]))  # used: now the newest
    cache.put(state([9, 109]))
    assert cache.best(as_tokens([2, 102]))[1] == 2
    assert cache.best(as_tokens([3, 103]))[1] == 0


def test_a_state_larger_than_the_budget_is_not_kept() -> None:
    cache = StateCache("m", budget_bytes=100)
    cache.put(state([1, 2], size=1000))
    assert cache.stats.memory_entries == 0


def test_a_conversation_state_replaces_its_earlier_turns_but_not_the_persona() -> None:
    cache = StateCache("m", budget_bytes=1 << 20)
    cache.put(state([1, 2], persona=True))
    cache.put(state([1, 2, 3, 4]))
    cache.put(state([1, 2, 3, 4, 5, 6]))  # the same conversation one turn later
    assert cache.stats.memory_entries == 2
    found, n = cache.best(as_tokens([1, 2, 9]))
    assert found is not None
    assert n == 2


def test_persona_states_survive_a_restart(tmp_path: Path) -> None:
    saved = state([1, 2, 3], size=5000, persona=True)
    StateCache("m", budget_bytes=1 << 20, directory=tmp_path, disk_budget_bytes=1 << 20).put(saved)
    StateCache("m", budget_bytes=1 << 20, directory=tmp_path).put(state([4, 5]))  # memory only
    restarted = StateCache("m", budget_bytes=1 << 20, directory=tmp_path)
    assert restarted.stats.disk_entries == 1
    assert restarted.best(as_tokens([1, 2, 3, 4]))[0] is None  # memory starts empty
    loaded = restarted.get(as_tokens([1, 2, 3]))
    assert loaded is not None
    assert loaded.data == saved.data
    assert loaded.tokens.tolist() == [1, 2, 3]
    assert loaded.persona
    assert restarted.best(as_tokens([1, 2, 3, 4]))[1] == 3  # now kept in memory too


def _corrupt(path: Path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))


def test_damaged_files_are_ignored_and_removed(tmp_path: Path) -> None:
    tokens = as_tokens([1, 2, 3])
    cache = StateCache("m", budget_bytes=1 << 20, directory=tmp_path, disk_budget_bytes=1 << 20)
    cache.put(state([1, 2, 3], size=5000, persona=True))
    path = cache.path(cache.key(tokens))
    assert path is not None
    assert path.is_file()
    for damage in (
        lambda: _corrupt(path, -10),  # the state bytes
        lambda: _corrupt(path, 3),  # the magic
        lambda: path.write_bytes(path.read_bytes()[:-100]),  # truncated
        lambda: path.write_bytes(b""),
        lambda: path.write_bytes(b"not a state at all"),
    ):
        cache.put(state([1, 2, 3], size=5000, persona=True))
        damage()
        fresh = StateCache("m", budget_bytes=1 << 20, directory=tmp_path)
        assert fresh.get(tokens) is None
        assert fresh.stats.corrupt_files == 1
        assert not path.exists()


def test_a_file_of_another_model_is_never_loaded(tmp_path: Path) -> None:
    tokens = as_tokens([1, 2, 3])
    theirs = StateCache("other-model", budget_bytes=1 << 20, directory=tmp_path)
    theirs.put(state([1, 2, 3], persona=True))
    ours = StateCache("m", budget_bytes=1 << 20, directory=tmp_path)
    # renamed to where our state of these tokens would be
    theirs_path, ours_path = theirs.path(theirs.key(tokens)), ours.path(ours.key(tokens))
    assert theirs_path is not None
    assert ours_path is not None
    assert theirs_path != ours_path
    theirs_path.rename(ours_path)
    assert ours.get(tokens) is None
    assert ours.stats.corrupt_files == 1


def test_a_file_for_other_tokens_is_never_loaded(tmp_path: Path) -> None:
    cache = StateCache("m", budget_bytes=1 << 20, directory=tmp_path)
    cache.put(state([1, 2, 3], persona=True))
    a, b = cache.path(cache.key(as_tokens([1, 2, 3]))), cache.path(cache.key(as_tokens([1, 2, 4])))
    assert a is not None
    assert b is not None
    a.rename(b)
    assert (
        StateCache("m", budget_bytes=1 << 20, directory=tmp_path).get(as_tokens([1, 2, 4])) is None
    )


def test_the_directory_is_pruned_oldest_first(tmp_path: Path) -> None:
    one = 5000 + 200
    cache = StateCache("m", budget_bytes=1 << 20, directory=tmp_path, disk_budget_bytes=2 * one)
    for i in range(4):
        cache.put(state([i, 1], size=5000, persona=True))
    assert cache.stats.disk_entries == 2
    assert cache.stats.disk_evictions == 2
    restarted = StateCache("m", budget_bytes=1 << 20, directory=tmp_path)
    assert restarted.get(as_tokens([0, 1])) is None
    assert restarted.get(as_tokens([3, 1])) is not None


def test_tokens_are_int32() -> None:
    assert as_tokens([1, 2]).dtype == np.int32


def test_an_unusable_directory_leaves_the_cache_in_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cache = StateCache("m", budget_bytes=1 << 20, directory=blocker / "states")
    assert cache.directory is None
    cache.put(state([1, 2], persona=True))
    assert cache.get(as_tokens([1, 2])) is not None
