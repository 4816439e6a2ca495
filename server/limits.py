"""Attempt limits, kept in the database so every worker process shares them.

A stranger who knows a user id must not be able to keep its holder out, and nobody may test
more than a few face or password guesses against one account. Three kinds of counters, each
one row of ``attempts`` (docs/security.md, "Lockout"):

* **(account, client)**, keys ``face:<site>:<user>:<client>`` and ``pwd:...``: failed face
  verifications or password attempts of one client (an address, an IPv6 /64; ``server.
  clients``) on one account. The first ``face_limit`` (``password_free``) failures are free;
  then every failure makes *that client* wait ``base_delay * 2**k`` seconds, at most
  ``max_delay``. The row also keeps when that client last signed in (``last_success``).
* **account**, keys ``face:<site>:<user>`` and ``pwd:<site>:<user>``: failures from all
  clients within ``account_window``. Past ``account_limit`` (many clients guessing at once)
  the account is *guarded* for a window: only clients that signed in to it within
  ``known_seconds`` (its holder's usual devices and networks) may still try. One client alone
  cannot reach the limit (its own delays keep it below), so a single stranger locks nobody
  out: not on the face path, not on the password path, not from any other address.
* **address**, keys ``face@<client>`` and ``pwd@<client>``: unconfirmed writes of one client
  within ``ip_window_seconds`` (consents, challenges, verifies without a challenge, password
  attempts and sets); past ``ip_limit`` the client gets 429. A success gives its units back,
  so honest users behind one address are not starved.

What counts as a face failure is a verify whose signature does not open (or that arrives
while its client may not try): only a verify can tell a guess right from wrong, so an
evaluation, or an enrolment refused for want of a ticket or session, counts for nothing.
A refused attempt (waiting, or guarded) is not counted and does not extend anything; it
fails exactly like a wrong guess. Rows idle for ``forget_after`` start from zero.

Every check-and-count runs in the caller's transaction (SQLite: ``BEGIN IMMEDIATE`` behind
the writer lock; PostgreSQL: the counting statements are single upserts that lock their row)
with the clock passed in (``now``), so tests move time by hand. The SQL is in
``server.statements``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, delete, or_, select
from sqlalchemy.sql.functions import func

from pyapp.protocol import FACE_ATTEMPT_LIMIT
from server import statements as q
from server.rawdb import Tx, sql
from server.tables import attempts

METHODS = ("face", "pwd")


@dataclass(frozen=True)
class Policy:
    face_limit: int = FACE_ATTEMPT_LIMIT  # free face failures per (account, client)
    password_free: int = 5  # free password failures per (account, client)
    base_delay: float = 30.0  # the first wait after those, doubling with each failure
    max_delay: float = 900.0
    account_limit: int = 20  # failures per account and window from all clients together
    account_window: float = 3600.0
    known_seconds: float = 30 * 86400.0  # a client that signed in this recently passes a guard
    ip_limit: int = 100
    ip_window_seconds: float = 900.0
    forget_after: float = 86400.0

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> Policy:
        """Overrides from settings (``OWNFACE_ACCOUNT_LIMIT=50`` and the like)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in extra:
                kind = int if f.type in (int, "int") else float
                values[f.name] = kind(extra[f.name])
        return cls(**values)

    def free(self, method: str) -> int:
        return self.face_limit if method == "face" else self.password_free


@dataclass(frozen=True)
class Keys:
    """The rows one attempt of ``method`` by ``client`` on (site, user) touches."""

    method: str
    account: str
    client: str
    other: str  # the same client's row for the other method (it signed in that way)
    address: str

    @classmethod
    def of(cls, method: str, site: str, user: str, client: str) -> Keys:
        other = "pwd" if method == "face" else "face"
        return cls(method, f"{method}:{site}:{user}", f"{method}:{site}:{user}:{client}",
                   f"{other}:{site}:{user}:{client}", f"{method}@{client}")

    def values(self, now: float, policy: Policy) -> dict[str, Any]:
        """The parameters of the statements in ``server.statements`` for these rows."""
        return {"account": self.account, "client": self.client, "other": self.other,
                "address": self.address, "now": now, "forget": policy.forget_after,
                "free": policy.free(self.method), "base": policy.base_delay,
                "max_delay": policy.max_delay, "account_limit": policy.account_limit,
                "account_window": policy.account_window,
                "known_since": now - policy.known_seconds,
                "window": policy.ip_window_seconds, "ip_limit": policy.ip_limit}


@dataclass(frozen=True)
class State:
    may_try: bool  # not waiting, and the account is not guarded or the client is known
    known: bool  # the client signed in to the account within known_seconds
    settled: bool = False  # a success would change nothing on the client's row


def state(conn: Tx, keys: Keys, now: float, policy: Policy) -> State:
    return judge(sql(conn, q.STATE, keys.values(now, policy)).fetchone(), now, policy)


def judge(row: tuple[float, ...], now: float, policy: Policy) -> State:
    """The state from what ``q.STATE`` reads (``q.TAKE_WITH_STATE`` reads the same after the
    challenge's columns)."""
    waiting, guarded, last, failures, noted = (float(v) for v in row)
    known = last > now - policy.known_seconds
    settled = failures == 0 and waiting <= 0 and noted >= now - q.KNOWN_REFRESH_SECONDS
    return State(waiting <= now and (guarded <= now or known), known, settled)


def count_failure(conn: Tx, keys: Keys, now: float, policy: Policy, known: bool) -> bool:
    """Count one failure, first on the account's row (refused while it is guarded, unless
    the client is known), then on the client's (refused while it waits). False: refused,
    nothing counted. Each check is part of its upsert, so racing attempts cannot overshoot."""
    values = {**keys.values(now, policy), "known": known}
    if sql(conn, q.ACCOUNT_FAILURE, values).fetchone() is None:
        return False
    if sql(conn, q.CLIENT_FAILURE, values).fetchone() is None:
        sql(conn, q.REFUND, {"key": keys.account, "n": 1})
        return False
    return True


def success(conn: Tx, keys: Keys, now: float, account_refund: int = 0,
            address_refund: int = 0, settled: bool = False) -> None:
    """A sign-in: the client's count and wait are cleared and it is known to the account
    from now on; attempts counted before the check go back to the account and address.
    ``settled``: the client's row is already so (``State.settled``), nothing to write there."""
    if not settled:
        sql(conn, q.CLIENT_SUCCESS, {"client": keys.client, "now": now})
    if account_refund:
        sql(conn, q.REFUND, {"key": keys.account, "n": account_refund})
    address_success(conn, keys.address, address_refund)


def address_attempt(conn: Tx, key: str, now: float, policy: Policy) -> bool:
    """Count one unconfirmed write from an address; False past the window's limit."""
    if policy.ip_limit <= 0:
        return False
    row = sql(conn, q.ADDRESS_ATTEMPT, {"address": key, "now": now,
                                        "window": policy.ip_window_seconds,
                                        "ip_limit": policy.ip_limit}).fetchone()
    return row is not None


def address_success(conn: Tx, key: str, n: int = 1) -> None:
    if n > 0:
        sql(conn, q.REFUND, {"key": key, "n": n})


def purge(conn: Tx, now: float, policy: Policy) -> None:
    """Drop rows that count nothing any more: no failure for ``forget_after``, no wait or
    guard running, no sign-in within ``known_seconds`` (they would start from zero anyway;
    this keeps the table to the clients that matter)."""
    sql(conn, q.PURGE_ATTEMPTS, {"idle": now - policy.forget_after, "now": now,
                                 "known": now - policy.known_seconds,
                                 "window": now - max(policy.ip_window_seconds,
                                                     policy.account_window)})


def password_delay(failures: int, policy: Policy) -> float:
    """Seconds a client waits after its given number of password failures on an account."""
    return delay(failures, policy.password_free, policy)


def delay(failures: int, free: int, policy: Policy) -> float:
    """The wait after ``failures`` failures with ``free`` free ones (what the SQL computes)."""
    if failures < free:
        return 0.0
    steps = min(failures - free, q.MAX_DOUBLINGS)
    return float(min(policy.base_delay * 2**steps, policy.max_delay))


def forget_account(conn: Connection, site: str, user: str) -> bool:
    """Erase every counter of an account (they name its clients); True if there were any."""
    prefixes = [f"{m}:{site}:{user}:" for m in METHODS]
    done = conn.execute(delete(attempts).where(or_(
        attempts.c.key.in_([f"{m}:{site}:{user}" for m in METHODS]),
        *(func.substr(attempts.c.key, 1, len(p)) == p for p in prefixes))))
    return bool(done.rowcount)


def status(conn: Connection, key: str) -> tuple[int, float] | None:
    """(failures, locked_until) of a key, for tests and the admin CLI."""
    row = conn.execute(select(attempts.c.failures, attempts.c.locked_until)
                       .where(attempts.c.key == key)).first()
    return None if row is None else (int(row[0]), float(row[1]))


__all__ = ["Keys", "Policy", "State", "address_attempt", "address_success", "count_failure",
           "delay", "forget_account", "judge", "password_delay", "purge", "state", "status",
           "success"]
