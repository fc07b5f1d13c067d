"""``anima doctor``: find, and with ``repair`` fix, stored text that cannot be encoded.

Before the edge refused it (wire/text.py, by the rule of domain/storable.py), a lone UTF-16 surrogate sent in JSON could be stored
inside a JSON column (SQLite keeps it as the escape ``\\ud800``), after which every read of the
row failed: a workspace's scene list or a session's interactions answered 500 for good. NUL
(U+0000) is kept by SQLite but refused by PostgreSQL. The doctor reads every row of every
table, and in each text or JSON column looks for such text; ``repair`` rewrites it with each
lone surrogate replaced by U+FFFD (two halves of a pair are joined) and each NUL dropped, in
one transaction per table. Primary-key columns are only reported: changing a key could merge
two rows, and the edge never let such a key in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, String, Table, Text, and_, select, update
from sqlalchemy.engine import Row

from anima.domain.storable import is_storable, repair, repair_tree
from anima.store.db import Store
from anima.store.tables import Base


@dataclass(frozen=True, slots=True)
class Finding:
    """One column of one row holding unstorable text; ``paths`` are JSON paths inside it."""

    table: str
    key: dict[str, Any]
    column: str
    paths: tuple[str, ...] = ()
    repaired: bool = False

    def describe(self) -> str:
        key = ", ".join(f"{k}={v!r}" for k, v in self.key.items())
        where = f" at {', '.join(self.paths)}" if self.paths else ""
        done = "repaired" if self.repaired else "needs repair"
        return f"{self.table} ({key}) column {self.column}{where}: {done}"


@dataclass(slots=True)
class Report:
    tables: int = 0
    rows: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings


def _text_columns(table: Table) -> list[str]:
    return [
        c.name
        for c in table.columns
        if isinstance(c.type, JSON | String | Text) or isinstance(c.type.as_generic(), JSON)
    ]


def _fix(value: Any) -> tuple[Any, tuple[str, ...]]:
    """The repaired value and the JSON paths it changed (empty when it was fine)."""
    if isinstance(value, str):
        return (value, ()) if is_storable(value) else (repair(value), ("$",))
    if isinstance(value, dict | list):
        fixed, changed = repair_tree(value)
        return fixed, tuple(changed)
    return value, ()


def _row_findings(
    table: Table, row: Row[Any], columns: Iterable[str]
) -> tuple[dict[str, Any], list[tuple[str, tuple[str, ...]]]]:
    """The repaired values of ``row``'s bad columns, and what was bad in each."""
    values: dict[str, Any] = {}
    found: list[tuple[str, tuple[str, ...]]] = []
    for name in columns:
        fixed, paths = _fix(row._mapping[name])
        if paths:
            found.append((name, paths))
            if not table.columns[name].primary_key:
                values[name] = fixed
    return values, found


async def examine(store: Store, *, repair_rows: bool = False) -> Report:
    """Check every row of every table; with ``repair_rows``, rewrite what can be repaired."""
    report = Report()
    for table in Base.metadata.sorted_tables:
        columns = _text_columns(table)
        if not columns:
            continue
        report.tables += 1
        keys = list(table.primary_key.columns)
        async with store.session() as session:
            pending: list[tuple[dict[str, Any], dict[str, Any]]] = []
            result = await session.stream(select(table))
            async for row in result:
                report.rows += 1
                values, found = _row_findings(table, row, columns)
                if not found:
                    continue
                key = {c.name: row._mapping[c.name] for c in keys}
                if repair_rows and values:
                    pending.append((key, values))
                for name, paths in found:
                    fixed = repair_rows and name in values
                    report.findings.append(
                        Finding(table.name, key, name, () if paths == ("$",) else paths, fixed)
                    )
            for key, values in pending:  # after the read: no update under an open cursor
                where = and_(*(c == key[c.name] for c in keys))
                await session.execute(update(table).where(where).values(**values))
    return report
