"""Retention: what the notice promises about how long a template is kept, done.

Each site keeps face templates at most ``sites.retention_days`` (default 365: "at most 12
months after your last use") after their last use: the last successful face verification
(``templates.last_used_at``, written by :func:`touch`) or, when there was none, the
enrolment. :func:`purge` erases every template past that (public key and, in portable mode,
the sealed helper data), ends the consent it was made under (``withdrawn_at``; the audit
says the end came by retention) and bumps the account's generation (no session from before
works). It also drops expired desk codes, spent-ticket digests and challenges. Each erasure
is one audit row (``retention_erased``, the account's keyed pseudonym only) and each run
with work done one ``retention_purge`` row per site.

The purge runs with the server (every worker, every ``purge_every_seconds``, default an
hour: it is idempotent, two workers at once erase nothing twice) and as ``ownface purge``
(cron, or before a backup). The clock is the store's, so tests pass in their own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, update

from server import db
from server.db import transaction
from server.rawdb import sql
from server.store import Site, Store
from server.tables import challenges, consents, desk_codes, sites, templates, used_tickets, users

DAY = 86_400.0
DEFAULT_RETENTION_DAYS = 365
PURGE_EVERY_SECONDS = 3_600.0
# once a day is enough to keep "last use" within a day: most verifications write nothing
TOUCH_GRANULARITY_SECONDS = DAY
_TOUCH = ("UPDATE templates SET last_used_at = :now WHERE user_id = (SELECT id FROM users "
          "WHERE site_id = :site AND external_id = :user) AND (last_used_at IS NULL OR "
          "last_used_at < :stale)")


@dataclass
class Purged:
    """What one purge erased, per site name."""

    templates: dict[str, int] = field(default_factory=dict)
    codes: int = 0
    tickets: int = 0
    challenges: int = 0

    @property
    def total_templates(self) -> int:
        return sum(self.templates.values())


def touch(store: Store, site: Site, user: str) -> None:
    """Record a template's use (after a successful face verification)."""
    now = store.clock()
    with store.raw.write(single=True) as conn:
        sql(conn, _TOUCH, {"now": now, "site": site.id, "user": user,
                           "stale": now - TOUCH_GRANULARITY_SECONDS})


def purge(store: Store) -> Purged:
    now = store.clock()
    done = Purged()
    with store.engine.connect() as conn:  # not through store.site: its cache stays as it was
        rows = conn.execute(select(sites.c.id, sites.c.name, sites.c.storage_mode,
                                   sites.c.retention_days)).all()
        conn.rollback()
    for site_id, name, mode, days in rows:
        site = Site(int(site_id), str(name), (), str(mode), "", 0)  # enough for the audit
        done.templates[site.name] = _purge_site(store, site, now - float(days) * DAY)
    with transaction(store.engine) as conn:
        done.codes = int(conn.execute(delete(desk_codes).where(
            desk_codes.c.expires_at <= now)).rowcount)
        done.tickets = int(conn.execute(delete(used_tickets).where(
            used_tickets.c.expires_at < now)).rowcount)
        done.challenges = int(conn.execute(delete(challenges).where(
            challenges.c.expires_at < now - 60)).rowcount)
    return done


def _purge_site(store: Store, site: Site, cutoff: float) -> int:
    last_use = func.coalesce(templates.c.last_used_at, templates.c.created_at)
    erased = 0
    with transaction(store.engine) as conn:
        due = conn.execute(select(users.c.id, users.c.external_id, templates.c.consent_id,
                                  templates.c.helper_sealed.is_not(None))
                           .join(templates, templates.c.user_id == users.c.id)
                           .where(users.c.site_id == site.id, last_use < cutoff)
                           .with_for_update()).all()
        for user_id, user, consent_id, had_helper in due:
            gone = conn.execute(delete(templates).where(templates.c.user_id == user_id,
                                                        last_use < cutoff)).rowcount
            if not gone:
                continue  # used again since the read
            conn.execute(update(consents).where(consents.c.id == consent_id,
                                                consents.c.withdrawn_at.is_(None))
                         .values(withdrawn_at=store.clock()))
            conn.execute(update(users).where(users.c.id == user_id)
                         .values(generation=users.c.generation + 1))
            store.log(conn, site, "retention_erased", str(user),
                      "public_key,helper_data" if had_helper else "public_key")
            erased += 1
        if erased:
            store.log(conn, site, "retention_purge", None, f"{erased} templates")
    return erased


async def run_periodically(store: Store, every: float = PURGE_EVERY_SECONDS) -> None:
    """The server's purge loop (started by the API's lifespan; cancelled at shutdown)."""
    from starlette.concurrency import run_in_threadpool

    while True:
        with contextlib.suppress(Exception):  # a busy database: the next round tries again
            await run_in_threadpool(purge, store)
        await asyncio.sleep(every)


def main(argv: list[str]) -> int:
    """``ownface purge``: run the retention purge once, print what it erased."""
    from server import keys
    from server.settings import Settings

    argparse.ArgumentParser(prog="ownface purge", description=__doc__.split("\n")[0]
                            ).parse_args(argv)
    settings = Settings.from_env()
    engine = db.make_engine(settings.database)
    db.migrate(engine)
    try:
        store = Store(engine=engine, keys=keys.load(settings), issuer="ownface")
        done = purge(store)
    finally:
        engine.dispose()
    for name, count in sorted(done.templates.items()):
        print(f"{name}: {count} templates past retention erased")
    print(f"expired: {done.codes} desk codes, {done.tickets} ticket digests, "
          f"{done.challenges} challenges")
    sys.stdout.flush()
    return 0
