"""Turn leases that know when their holder is gone.

Turns on one session are serialised by a lease on the session row (``lease_owner``,
``lease_until``, store/sessions.py). Its owner id names the process that holds it::

    {host}:{pid}:{start}:{nonce}     host = hash of the host name, boot id and pid namespace
                                     start = the process's start time (clock ticks after boot)

so a lease whose holder was killed (kill -9, OOM, power cut of a worker) is taken over at
once by a restarted server or another worker on the same host: no process with that pid
started at that time exists any more. On another host the holder cannot be checked; there the
lease is short (``LEASE_SECONDS``) and the holder renews it while its turn runs, so it lapses
soon after the holder stops. A lease whose holder might be alive is never taken over.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from anima.domain.session import Session
from anima.store.sessions import _SESSIONS, _row_to_session

if TYPE_CHECKING:
    from anima.store.db import Store

LEASE_SECONDS = 30.0  # renewed every third of it while the turn runs


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _host() -> str:
    """Where pids mean the same: this machine since its boot, in this pid namespace (two
    containers with the host's name and network still have pid namespaces of their own)."""
    place = f"{socket.gethostname()}|{_boot_id()}|{_pid_namespace()}"
    return hashlib.sha256(place.encode()).hexdigest()[:16]


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (``/proc``: clock ticks after boot); "" when this system
    cannot tell; None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:
            pass
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of proc(5), counted after "comm"


_HOST = _host()


def owner_id() -> str:
    """A new owner id for this process (one per engine; at most 64 characters)."""
    return f"{_HOST}:{os.getpid()}:{_start_time(os.getpid()) or ''}:{uuid.uuid4().hex[:8]}"


def holder_gone(owner: str) -> bool:
    """True only when sure that the process holding ``owner`` has ended."""
    host, _, rest = owner.partition(":")
    pid, _, rest = rest.partition(":")
    start, _, _nonce = rest.partition(":")
    if host != _HOST or not pid.isdigit():
        return False
    now = _start_time(int(pid))
    return now is None or (bool(start) and bool(now) and now != start)


class LeaseRepo:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def acquire(
        self, session_id: str, owner: str, now: float, until: float
    ) -> Session | None:
        """Take the session's turn lease and read the session (None while a live holder has
        it, or when there is no such session); a lease of a holder that is gone is taken
        over at once."""
        taken = await self._store.sessions.acquire(session_id, owner, now=now, until=until)
        if taken is not None:
            return taken
        t = _SESSIONS
        async with self._store.session() as s:
            holder = (await s.execute(select(t.c.lease_owner).where(t.c.id == session_id))).scalar()
        if not holder or not holder_gone(holder):
            return None
        take_over = (
            update(t)
            .where(t.c.id == session_id, t.c.lease_owner == holder)
            .values(lease_owner=owner, lease_until=until)
            .returning(*t.c)
        )
        async with self._store.session() as s:
            row = (await s.execute(take_over)).first()
        return None if row is None else _row_to_session(row)

    async def renew(self, session_id: str, owner: str, until: float) -> bool:
        """Extend the lease ``owner`` holds; False when it no longer holds it."""
        t = _SESSIONS
        stmt = (
            update(t)
            .where(t.c.id == session_id, t.c.lease_owner == owner)
            .values(lease_until=until)
            .returning(t.c.id)
        )
        async with self._store.session() as s:
            return (await s.execute(stmt)).first() is not None

    async def release(self, session_id: str, owner: str) -> None:
        await self._store.sessions.release(session_id, owner)
