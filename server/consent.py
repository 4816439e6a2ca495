"""Notices, consent records, withdrawal and erasure.

A consent record keeps what the person agreed to: the purpose, the notice version, the
sha256 of the exact text shown (checked against the site's stored text of that version and
language, so a record cannot claim a text the site never showed) and the language, with
granted and withdrawn times. Withdrawing erases the template at once. Erasing removes
everything about the account (user row, consent records, template, password hash,
attempt counters, open challenges); the audit log keeps only a keyed pseudonym.
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
from server import limits
from server.db import transaction
from server.store import Store
from server.tables import attempts, challenges, consents, notices, passwords, templates, users


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
                  storage_mode=site.storage_mode)


def grant(store: Store, req: ConsentGrant) -> ConsentReceipt:
    site = store.site(req.site)
    consent_id = store.random_bytes(16)
    now = store.clock()
    with transaction(store.engine) as conn:
        stored = conn.execute(select(notices.c.sha256).where(
            notices.c.site_id == site.id, notices.c.version == req.notice_version,
            notices.c.language == req.language)).scalar()
        if stored is None or not hmac.compare_digest(stored, req.notice_sha256):
            raise Refused("notice_mismatch")
        uid = store.user_id(conn, site, req.user, create=True)
        conn.execute(consents.insert().values(
            id=consent_id, user_id=uid, purpose=req.purpose,
            notice_version=req.notice_version, notice_sha256=req.notice_sha256,
            language=req.language, granted_at=now))
        store.log(conn, site, "consent_granted", req.user,
                  f"v{req.notice_version} {req.language}")
    return ConsentReceipt(consent_id=consent_id, granted_at=int(now))


def withdraw(store: Store, req: Withdraw) -> Withdrawn:
    site = store.site(req.site)
    store.session_ok(site, req.user, req.session)
    now = store.clock()
    erased: list[str] = []
    with transaction(store.engine) as conn:
        uid = store.user_id(conn, site, req.user)
        if uid is not None:
            row = conn.execute(select(templates.c.helper_sealed).where(
                templates.c.user_id == uid)).first()
            if row is not None:
                conn.execute(delete(templates).where(templates.c.user_id == uid))
                erased += ["public_key"] + (["helper_data"] if row[0] is not None else [])
            n = conn.execute(update(consents).where(
                consents.c.user_id == uid, consents.c.withdrawn_at.is_(None)).values(
                withdrawn_at=now)).rowcount
            if n:
                erased.append("active_consent")
        if conn.execute(delete(challenges).where(challenges.c.site_id == site.id,
                                                  challenges.c.user == req.user)).rowcount:
            erased.append("open_challenges")
        store.log(conn, site, "consent_withdrawn", req.user, ",".join(erased) or None)
    return Withdrawn(withdrawn_at=int(now), erased=erased)


def erase(store: Store, req: Erase, bearer: str | None) -> Erased:
    site = store.site(req.site)
    if bearer is not None:
        digest = hashlib.sha256(bearer.encode()).hexdigest()
        if not hmac.compare_digest(digest, site.admin_token_sha256):
            raise Refused("forbidden")
        by = "admin"
    else:
        store.session_ok(site, req.user, req.session)
        by = "user"
    erased: list[str] = []
    with transaction(store.engine) as conn:
        uid = store.user_id(conn, site, req.user)
        if uid is not None:
            for name, table, column in (("template", templates, templates.c.user_id),
                                        ("password", passwords, passwords.c.user_id),
                                        ("consent_records", consents, consents.c.user_id)):
                if conn.execute(delete(table).where(column == uid)).rowcount:
                    erased.append(name)
            conn.execute(delete(users).where(users.c.id == uid))
            erased.append("account")
        if conn.execute(delete(challenges).where(challenges.c.site_id == site.id,
                                                  challenges.c.user == req.user)).rowcount:
            erased.append("open_challenges")
        keys = [limits.face_key(site.name, req.user), limits.password_key(site.name, req.user)]
        if conn.execute(delete(attempts).where(attempts.c.key.in_(keys))).rowcount:
            erased.append("attempt_counters")
        store.log(conn, site, "erased", req.user, f"by {by}")
    return Erased(erased=erased)
