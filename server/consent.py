"""Notices, consent records, withdrawal and erasure.

A consent record keeps what the person agreed to: the purpose, the notice version, the
sha256 of the exact text shown (checked against the site's stored text of that version and
language, so a record cannot claim a text the site never showed) and the language, with
granted and withdrawn times. Withdrawing erases the template at once. Erasing removes
everything about the account (user row, consent records, template, password hash,
attempt counters, open challenges); the audit log keeps only a keyed pseudonym, and so does
the retired-account entry that stops the user id from being claimed again by a stranger
(``server.accounts``).
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import delete, select, update

from pyapp.errors import Refused
from pyapp.protocol import (
    ConsentGrant,
    ConsentReceipt,
    Erase,
    Erased,
    Notice,
    Withdraw,
    Withdrawn,
)
from server import accounts, limits
from server.db import transaction
from server.store import Site, Store
from server.tables import challenges, consents, notices, passwords, templates


def notice(store: Store, site_name: str, language: str | None) -> Notice:
    """The newest notice of a site in a language (the site's first language by default)."""
    site = store.site(site_name)
    with store.engine.connect() as conn:
        rows = conn.execute(select(notices.c.language, notices.c.version, notices.c.text,
                                   notices.c.sha256, notices.c.id)
                            .where(notices.c.site_id == site.id)
                            .order_by(notices.c.id)).all()
        conn.rollback()
    languages = sorted({r.language for r in rows})
    if not rows:
        raise Refused("no_notice")
    wanted = language or rows[0].language
    chosen = [r for r in rows if r.language == wanted]
    if not chosen:
        raise Refused("no_notice")
    best = max(chosen, key=lambda r: r.version)
    return Notice(site=site.name, version=best.version, language=best.language,
                  text=best.text, sha256=best.sha256, languages=languages,
                  storage_mode=site.storage_mode, liveness=site.liveness)


def grant(store: Store, req: ConsentGrant, address: str) -> ConsentReceipt:
    """A consent record is compliance evidence: for an account with a credential only its
    holder (a session) makes one; for a new account on a ticket site (or one that had a
    credential) only the bearer of the site's ticket. Each is an unconfirmed write of the
    client until an enrolment follows (``server.limits``)."""
    site = store.site(req.site)
    now = store.clock()
    with transaction(store.engine) as conn:  # its own: a refusal below still counts
        ok = limits.address_attempt(
            conn, store.limit_keys("face", site, req.user, address).address, now, store.policy)
    if not ok:
        raise Refused("rate_limited")
    consent_id = store.random_bytes(16)
    with transaction(store.engine) as conn:
        stored = conn.execute(select(notices.c.sha256).where(
            notices.c.site_id == site.id, notices.c.version == req.notice_version,
            notices.c.language == req.language)).scalar()
        if stored is None or not hmac.compare_digest(stored, req.notice_sha256):
            raise Refused("notice_mismatch")
        account = accounts.load(store, conn, site, req.user)
        authority = accounts.authorise(store, conn, account, req.session, req.ticket)
        if not authority.holder and account.has_credential:
            raise Refused("session_invalid")
        account = accounts.create(store, conn, account)
        conn.execute(consents.insert().values(
            id=consent_id, user_id=account.id, purpose=req.purpose,
            notice_version=req.notice_version, notice_sha256=req.notice_sha256,
            language=req.language, granted_at=now))
        store.log(conn, site, "consent_granted", req.user,
                  f"v{req.notice_version} {req.language}")
    return ConsentReceipt(consent_id=consent_id, granted_at=int(now))


def _admin(site: Site, bearer: str | None) -> bool:
    """True for the site's admin token; None: no token given; any other token: 403."""
    if bearer is None:
        return False
    digest = hashlib.sha256(bearer.encode()).hexdigest()
    if not hmac.compare_digest(digest, site.admin_token_sha256):
        raise Refused("forbidden")
    return True


def withdraw(store: Store, req: Withdraw, bearer: str | None = None) -> Withdrawn:
    """Withdraw consent and erase the template at once: by the holder (a session, also one
    from a withdraw-purpose face verification), or by the business with the site's admin
    token for a person who cannot verify any more (a lost device, docs/api.md)."""
    site = store.site(req.site)
    now = store.clock()
    erased: list[str] = []
    with transaction(store.engine) as conn:
        account = accounts.load(store, conn, site, req.user)
        if not _admin(site, bearer):
            accounts.session(store, account, req.session, withdraw=True)
        if account.id is not None:
            row = conn.execute(select(templates.c.helper_sealed).where(
                templates.c.user_id == account.id)).first()
            if row is not None:
                conn.execute(delete(templates).where(templates.c.user_id == account.id))
                erased += ["public_key"] + (["helper_data"] if row[0] is not None else [])
            n = conn.execute(update(consents).where(
                consents.c.user_id == account.id, consents.c.withdrawn_at.is_(None)).values(
                withdrawn_at=now)).rowcount
            if n:
                erased.append("active_consent")
            accounts.bump(conn, account)  # no session from before works any more
        if conn.execute(delete(challenges).where(challenges.c.site_id == site.id,
                                                  challenges.c.user == req.user)).rowcount:
            erased.append("open_challenges")
        detail = ",".join(erased)
        if bearer is not None:
            detail = f"{detail} by admin".strip()
        store.log(conn, site, "consent_withdrawn", req.user, detail or None)
    return Withdrawn(withdrawn_at=int(now), erased=erased)


def erase(store: Store, req: Erase, bearer: str | None) -> Erased:
    site = store.site(req.site)
    erased: list[str] = []
    with transaction(store.engine) as conn:
        account = accounts.load(store, conn, site, req.user)
        by = "admin" if _admin(site, bearer) else "user"
        if by == "user":
            accounts.session(store, account, req.session, withdraw=True)
        if account.id is not None:
            for name, table, column in (("template", templates, templates.c.user_id),
                                        ("password", passwords, passwords.c.user_id),
                                        ("consent_records", consents, consents.c.user_id)):
                if conn.execute(delete(table).where(column == account.id)).rowcount:
                    erased.append(name)
            erased.append("account")
        accounts.retire(store, conn, account)
        if conn.execute(delete(challenges).where(challenges.c.site_id == site.id,
                                                  challenges.c.user == req.user)).rowcount:
            erased.append("open_challenges")
        if limits.forget_account(conn, site.name, req.user):
            erased.append("attempt_counters")
        store.log(conn, site, "erased", req.user, f"by {by}")
    return Erased(erased=erased)
