"""Attempt limits, kept in the database so every worker process shares them.

Each limited thing is one row of ``attempts`` keyed by what it limits:

* ``face:<site>:<user>``: face attempts of one account. Every OPRF evaluation is an attempt
  (it is the only step that lets anyone test a face guess, even with a stolen helper), and is
  counted *before* it is answered. After ``face_limit`` attempts without a success the account's
  face path is locked for ``face_lock_seconds``: evaluations during the lock get a random group
  element (the answer of a wrong face), are not counted and do not extend the lock. When the
  lock runs out the budget starts again. A successful verify or enrol clears the count.
* ``pwd:<site>:<user>``: password attempts of one account, also counted before checking.
  The first ``password_free`` failures cost nothing; from then on each failure locks the
  password path for ``password_base_delay * 2**k`` seconds, capped at ``password_max_delay``
  (progressive delay, never permanent). Attempts during a lock fail like a wrong password,
  are not counted and do not extend it. Success clears the count.
* ``faceip:<addr>`` and ``pwdip:<addr>``: unconfirmed attempts from one client address within
  a window; past ``ip_limit`` the address gets 429 until the window ends. A success gives one
  back, so honest traffic from a shared address is not starved.

Rows idle for ``forget_after`` seconds start from zero. Every check-and-count runs inside the
caller's transaction with the row locked (the face and address counts are one
``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` each, which locks the row on PostgreSQL and
returns no row when the attempt is refused; the password count reads with ``SELECT ... FOR
UPDATE``; ``BEGIN IMMEDIATE`` serialises writers on SQLite), so two workers cannot both
spend the last attempt. Callers lock the account's row before the address's row, always in
that order, so concurrent transactions cannot deadlock on PostgreSQL. The clock is the
caller's (``now``), so tests move time by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, select

from pyapp.protocol import FACE_ATTEMPT_LIMIT
from server.rawdb import RawTx, Tx, sql
from server.statements import ADDRESS_ATTEMPT, ADDRESS_SUCCESS, FACE_ATTEMPT, RESET
from server.tables import attempts


@dataclass(frozen=True)
class Policy:
    face_limit: int = FACE_ATTEMPT_LIMIT
    face_lock_seconds: float = 900.0
    password_free: int = 5
    password_base_delay: float = 30.0
    password_max_delay: float = 900.0
    ip_limit: int = 100
    ip_window_seconds: float = 900.0
    forget_after: float = 86400.0

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> Policy:
        """Overrides from settings (``OWNFACE_FACE_LOCK_SECONDS=60`` and the like)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in extra:
                kind = int if f.type in (int, "int") else float
                values[f.name] = kind(extra[f.name])
        return cls(**values)


@dataclass
class _Row:
    failures: int
    window_start: float
    locked_until: float
    last_failure: float


_SELECT = ('SELECT failures, window_start, locked_until, last_failure FROM attempts '
           'WHERE "key" = :key')
_INSERT = ('INSERT INTO attempts ("key", failures, window_start, locked_until, last_failure) '
           'VALUES (:key, 0, :now, 0, :now) ON CONFLICT ("key") DO NOTHING')
_UPDATE = ('UPDATE attempts SET failures = :failures, window_start = :window_start, '
           'locked_until = :locked_until, last_failure = :last_failure WHERE "key" = :key')


def _load(conn: Tx, key: str, now: float) -> _Row:
    pg = conn.pg if isinstance(conn, RawTx) else conn.dialect.name == "postgresql"
    query = _SELECT + (" FOR UPDATE" if pg else "")
    row = sql(conn, query, {"key": key}).fetchone()
    if row is None:
        sql(conn, _INSERT, {"key": key, "now": now})
        row = sql(conn, query, {"key": key}).fetchone()
    return _Row(int(row[0]), float(row[1]), float(row[2]), float(row[3]))


def _store(conn: Tx, key: str, row: _Row) -> None:
    sql(conn, _UPDATE, {"key": key, "failures": row.failures, "window_start": row.window_start,
                        "locked_until": row.locked_until, "last_failure": row.last_failure})


def face_attempt(conn: Tx, key: str, now: float, policy: Policy) -> bool:
    """Count one face attempt; False while the account's face path is locked.

    A running lock refuses without counting or extending; a lock that ran out (or a row idle
    for ``forget_after``) starts a fresh budget; reaching ``face_limit`` locks the path for
    ``face_lock_seconds``.
    """
    values = face_values(now, policy)
    row = sql(conn, FACE_ATTEMPT, {"key": key, "now": now, "forget": values["forget"],
                                   "limit": values["face_limit"], "until": values["until"],
                                   "first_lock": values["first_lock"]}).fetchone()
    return row is not None


def face_values(now: float, policy: Policy) -> dict[str, float | int]:
    """The policy's numbers for one face attempt at ``now`` (the SQL does the rest)."""
    until = now + policy.face_lock_seconds
    return {"forget": policy.forget_after, "face_limit": policy.face_limit, "until": until,
            "first_lock": until if policy.face_limit <= 1 else 0.0}


def password_attempt(conn: Tx, key: str, now: float, policy: Policy) -> bool:
    """Count one password attempt; False while the account's password path waits."""
    row = _load(conn, key, now)
    if row.locked_until > now:
        return False
    if now - row.last_failure > policy.forget_after:
        row.failures = 0
    row.failures += 1
    row.last_failure = now
    row.locked_until = now + password_delay(row.failures, policy) if (
        row.failures >= policy.password_free) else 0.0
    _store(conn, key, row)
    return True


def password_delay(failures: int, policy: Policy) -> float:
    """Seconds the password path waits after the given number of failures."""
    if failures < policy.password_free:
        return 0.0
    steps = min(failures - policy.password_free, 20)
    return float(min(policy.password_base_delay * 2**steps, policy.password_max_delay))


def address_attempt(conn: Tx, key: str, now: float, policy: Policy) -> bool:
    """Count one unconfirmed attempt from an address; False past the window's limit."""
    if policy.ip_limit <= 0:
        return False
    row = sql(conn, ADDRESS_ATTEMPT, {"key": key, "now": now,
                                      "window": policy.ip_window_seconds,
                                      "limit": policy.ip_limit}).fetchone()
    return row is not None


def address_success(conn: Tx, key: str) -> None:
    sql(conn, ADDRESS_SUCCESS, {"key": key})


def reset(conn: Tx, key: str) -> None:
    """A success: the count and any lock are cleared (the row stays, saving an insert)."""
    sql(conn, RESET, {"key": key})


def face_key(site: str, user: str) -> str:
    return f"face:{site}:{user}"


def password_key(site: str, user: str) -> str:
    return f"pwd:{site}:{user}"


def status(conn: Connection, key: str) -> tuple[int, float] | None:
    """(failures, locked_until) of a key, for tests and the admin CLI."""
    row = conn.execute(select(attempts.c.failures, attempts.c.locked_until)
                       .where(attempts.c.key == key)).first()
    return None if row is None else (int(row[0]), float(row[1]))


__all__ = ["Policy", "address_attempt", "address_success", "face_attempt", "face_key",
           "face_values",
           "password_attempt", "password_delay", "password_key", "reset", "status"]
