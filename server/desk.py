"""Front desks and gates: a site's kiosk settings, and the codes typed at its kiosks.

A kiosk is a shared device in a public place (a hotel's check-in desk, a compound's gate),
so the alternative to the face must be just as easy there, and enrolment must not be open to
whoever walks up:

* ``kiosk_identity``: how a person says who they are, a room (or flat) number and a name
  (``pyapp.protocol.room_user`` turns them into the account id) or a code the business gave
  them (the account id itself);
* ``kiosk_alternative``: the equal alternative, a **one-time code** the business issues to the
  person (printed on the booking, sent by message: ``ownface site issue-code``, or the admin
  API) or a **staff confirmation** (a staff member checks the person and types a staff code);
* enrolment at a kiosk needs a staff code, which buys a single-use enrolment ticket for one
  account (the site's ordinary ticket, ``server.accounts``).

Every code request carries the site's kiosk token (``Authorization: Kiosk <token>``) and
counts against the client's address like any other unconfirmed attempt. Codes are stored
only as a keyed digest (a database dump shows none), a one-time code is deleted when used,
and expired codes go with the purge (``server.retention``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from pyapp.errors import Refused
from pyapp.protocol import (
    DESK_CODE_ALPHABET,
    DESK_CODE_CHARS,
    DESK_CODE_TTL_SECONDS,
    KIOSK_ALTERNATIVES,
    KIOSK_IDENTITIES,
    MAX_TICKET_TTL_SECONDS,
    STAFF_CODE_CHARS,
    DeskCode,
    DeskTicket,
    StaffConfirm,
    StaffTicket,
    Verified,
    b64decode,
    make_ticket,
)
from server import accounts, limits
from server.db import transaction
from server.keys import ServerKeys
from server.store import Site, Store
from server.tables import desk_codes, sites

STAFF_CODE_TTL_SECONDS = 90 * 86_400  # a staff code is renewed each quarter by default
STAFF_TICKET_SECONDS = 600  # the enrolment ticket a staff code buys


@dataclass(frozen=True)
class KioskSettings:
    identity: str  # pyapp.protocol.KIOSK_IDENTITIES
    alternative: str  # pyapp.protocol.KIOSK_ALTERNATIVES
    retention_days: int


def settings(engine: Engine, site_id: int) -> KioskSettings:
    with engine.connect() as conn:
        row = conn.execute(select(sites.c.kiosk_identity, sites.c.kiosk_alternative,
                                  sites.c.retention_days).where(sites.c.id == site_id)).one()
        conn.rollback()
    return KioskSettings(str(row[0]), str(row[1]), int(row[2]))


def set_kiosk(engine: Engine, site_id: int, identity: str | None, alternative: str | None
              ) -> None:
    values: dict[str, Any] = {}
    if identity is not None:
        if identity not in KIOSK_IDENTITIES:
            raise ValueError(f"identity must be one of {', '.join(KIOSK_IDENTITIES)}")
        values["kiosk_identity"] = identity
    if alternative is not None:
        if alternative not in KIOSK_ALTERNATIVES:
            raise ValueError(f"alternative must be one of {', '.join(KIOSK_ALTERNATIVES)}")
        values["kiosk_alternative"] = alternative
    if values:
        with transaction(engine) as conn:
            conn.execute(update(sites).where(sites.c.id == site_id).values(**values))


def _digest(keys: ServerKeys, site: str, code: str) -> bytes:
    return hmac.new(keys.derived("desk code", site), code.encode(), hashlib.sha256).digest()


def _new_code(chars: int) -> str:
    return "".join(secrets.choice(DESK_CODE_ALPHABET) for _ in range(chars))


def shown(code: str) -> str:
    """A code as printed for people: groups of four."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def issue(store: Store, site: Site, kind: str, *, user: str | None = None,
          label: str | None = None, ttl: float | None = None) -> tuple[str, float]:
    """A new code: ``otp`` (one person's one-time code) or ``staff``; returns (code, expiry).
    Shown once: only its keyed digest is stored."""
    now = store.clock()
    if kind == "otp" and user is None:
        raise ValueError("a one-time code names the account it is for")
    default = DESK_CODE_TTL_SECONDS if kind == "otp" else STAFF_CODE_TTL_SECONDS
    expires = now + (default if ttl is None else ttl)
    code = _new_code(DESK_CODE_CHARS if kind == "otp" else STAFF_CODE_CHARS)
    with transaction(store.engine) as conn:
        conn.execute(insert(desk_codes).values(
            digest=_digest(store.keys, site.name, code), site_id=site.id, kind=kind,
            user=user if kind == "otp" else None, label=label, created_at=now,
            expires_at=expires))
        store.log(conn, site, f"{kind}_issued", user, label)
    return code, expires


def revoke_staff(engine: Engine, site_id: int, label: str) -> int:
    with transaction(engine) as conn:
        return int(conn.execute(delete(desk_codes).where(
            desk_codes.c.site_id == site_id, desk_codes.c.kind == "staff",
            desk_codes.c.label == label)).rowcount)


def _kiosk(store: Store, site_name: str, kiosk: str | None, address: str) -> Site:
    site = store.site(site_name)
    if not store.keys.kiosk_ok(site.name, kiosk):
        raise Refused("kiosk_required")
    with transaction(store.engine) as conn:
        ok = limits.address_attempt(conn, store.limit_keys("otp", site, "", address).address,
                                    store.clock(), store.policy)
    if not ok:
        raise Refused("rate_limited")
    return site


def _take(store: Store, conn: Any, site: Site, code: str, kind: str, user: str | None
          ) -> Any:
    now = store.clock()
    where = [desk_codes.c.digest == _digest(store.keys, site.name, code),
             desk_codes.c.site_id == site.id, desk_codes.c.kind == kind,
             desk_codes.c.expires_at > now]
    if user is not None:
        where.append(desk_codes.c.user == user)
    row = conn.execute(select(desk_codes.c.digest, desk_codes.c.label).where(*where)).first()
    if row is None:
        store.log(conn, site, f"{kind}_refused", user)
        return None
    if kind == "otp":  # single use
        conn.execute(delete(desk_codes).where(desk_codes.c.digest == row[0]))
    return row


def _alternative(store: Store, site: Site, wanted: str) -> None:
    if settings(store.engine, site.id).alternative != wanted:
        raise Refused("other_alternative")


def redeem(store: Store, req: DeskCode, kiosk: str | None, address: str) -> Verified:
    """A person's one-time code: a login by the ``otp`` method, the code used up."""
    site = _kiosk(store, req.site, kiosk, address)
    _alternative(store, site, "code")
    with transaction(store.engine) as conn:
        taken = _take(store, conn, site, req.code, "otp", req.user)
        if taken is not None:
            account = accounts.load(store, conn, site, req.user)
            store.log(conn, site, "verified", req.user, "otp")
    if taken is None:
        raise Refused("not_verified")
    return accounts.login(store, site, req.user, "otp", account.generation)


def confirm(store: Store, req: StaffConfirm, kiosk: str | None, address: str) -> Verified:
    """A staff member confirms the person (the site's alternative is staff confirmation)."""
    site = _kiosk(store, req.site, kiosk, address)
    _alternative(store, site, "staff")
    with transaction(store.engine) as conn:
        taken = _take(store, conn, site, req.code, "staff", None)
        if taken is not None:
            account = accounts.load(store, conn, site, req.user)
            store.log(conn, site, "verified", req.user, "staff")
    if taken is None:
        raise Refused("not_verified")
    return accounts.login(store, site, req.user, "staff", account.generation)


def enrol_ticket(store: Store, req: StaffTicket, kiosk: str | None, address: str
                 ) -> DeskTicket:
    """Enrolment at a kiosk only with staff present: a staff code buys a single-use
    enrolment ticket for the named account."""
    site = _kiosk(store, req.site, kiosk, address)
    with transaction(store.engine) as conn:
        taken = _take(store, conn, site, req.code, "staff", None)
        if taken is not None:
            store.log(conn, site, "staff_enrolment", req.user, taken[1])
    if taken is None:
        raise Refused("not_verified")
    expires = int(store.clock()) + min(STAFF_TICKET_SECONDS, MAX_TICKET_TTL_SECONDS)
    ticket = make_ticket(store.keys.ticket_key(site.name), site.name, req.user, expires)
    return DeskTicket(ticket=b64decode(ticket, "ticket"), expires_at=expires)

