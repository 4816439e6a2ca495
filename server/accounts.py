"""Accounts: who may act for a user id, and what is left of one after it is erased.

An account is a ``users`` row (the site's opaque user id) with two pieces of state besides
its credentials: ``generation``, which every session is bound to and which a password
change, a withdrawal and an erasure bump (so an old session stops working), and
``claimed``, set once the account has had a face or a password. Erasure deletes the row and
everything hanging off it and leaves only a ``retired_users`` entry: the keyed pseudonym the
audit log already uses, and the generation the account's next incarnation starts at.

Who may act (:func:`authorise`):

* the account's **holder**, proven by a session (any request may carry one; it is checked
  first, so an invalid one gets the same 401 whether or not the account exists);
* for an account without a credential, whoever the site lets create the first one: anyone on
  an open-enrolment site, the bearer of a valid enrolment **ticket** on a site that requires
  them, and, for an account that had a credential before (withdrawn or erased), only a
  ticket holder on any site (or an admin's ``ownface site reopen``): a user id that once
  belonged to someone is never silently re-opened to whoever names it. A ticket is spent by
  the step that creates the credential, so it works once.
"""

from __future__ import annotations

import hashlib
import hmac
import random
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine

from pyapp.errors import Refused
from pyapp.protocol import (
    MAX_TICKET_TTL_SECONDS,
    SESSION_TTL_SECONDS,
    TICKET_BYTES,
    Verified,
    ticket_mac,
)
from server import db
from server.assertions import AssertionInvalid, Session, check_session, issue, mint_session
from server.keys import ServerKeys
from server.rawdb import sql
from server.store import Site, Store

_LOAD = ("SELECT u.id, u.generation, u.claimed, "
         "EXISTS (SELECT 1 FROM templates t WHERE t.user_id = u.id), "
         "EXISTS (SELECT 1 FROM passwords p WHERE p.user_id = u.id) "
         "FROM users u WHERE u.site_id = :site AND u.external_id = :user")
_RETIRED = "SELECT generation FROM retired_users WHERE site_id = :site AND subject = :subject"
_FORGET_RETIRED = "DELETE FROM retired_users WHERE site_id = :site AND subject = :subject"
_CREATE = ('INSERT INTO users (site_id, external_id, created_at, generation, claimed) '
           'VALUES (:site, :user, :now, :generation, :claimed) '
           'ON CONFLICT (site_id, external_id) DO NOTHING')
_ID = "SELECT id FROM users WHERE site_id = :site AND external_id = :user"
_USED = "SELECT 1 FROM used_tickets WHERE digest = :digest"
_SPEND = ("INSERT INTO used_tickets (digest, expires_at) VALUES (:digest, :expires) "
          "ON CONFLICT (digest) DO NOTHING")
_PURGE_TICKETS = "DELETE FROM used_tickets WHERE expires_at < :now"


@dataclass(frozen=True)
class Account:
    site: Site
    user: str
    id: int | None  # users.id; None when there is no row (new, or erased)
    generation: int
    claimed: bool
    has_template: bool = False
    has_password: bool = False

    @property
    def has_credential(self) -> bool:
        return self.has_template or self.has_password


@dataclass(frozen=True)
class Authority:
    """Why a request may act for an account."""

    session: Session | None = None  # its holder
    ticket: tuple[bytes, int] | None = None  # (digest, expiry) of the ticket that allows it

    @property
    def holder(self) -> bool:
        return self.session is not None


def subject(keys: ServerKeys, site: Site, user: str) -> str:
    return keys.pseudonym(site.name, user)


def load(store: Store, conn: Connection, site: Site, user: str) -> Account:
    row = sql(conn, _LOAD, {"site": site.id, "user": user}).fetchone()
    if row is not None:
        return Account(site, user, int(row[0]), int(row[1]), bool(row[2]), bool(row[3]),
                       bool(row[4]))
    retired = sql(conn, _RETIRED, {"site": site.id,
                                   "subject": subject(store.keys, site, user)}).fetchone()
    if retired is None:
        return Account(site, user, None, 0, False)
    return Account(site, user, None, int(retired[0]), True)


def create(store: Store, conn: Connection, account: Account) -> Account:
    """The account's row (made when missing, carrying over what erasure left)."""
    if account.id is not None:
        return account
    sql(conn, _CREATE, {"site": account.site.id, "user": account.user, "now": store.clock(),
                        "generation": account.generation, "claimed": account.claimed})
    sql(conn, _FORGET_RETIRED, {"site": account.site.id,
                                "subject": subject(store.keys, account.site, account.user)})
    uid = sql(conn, _ID, {"site": account.site.id, "user": account.user}).fetchone()[0]
    return replace(account, id=int(uid))


def claim(conn: Connection, account: Account) -> None:
    """The account now has a credential: from here on it is never re-opened to strangers."""
    if not account.claimed:
        sql(conn, "UPDATE users SET claimed = :yes WHERE id = :id",
            {"yes": True, "id": account.id})


def bump(conn: Connection, account: Account) -> int:
    """A new generation: every session minted before stops working. Returns it."""
    sql(conn, "UPDATE users SET generation = generation + 1 WHERE id = :id", {"id": account.id})
    return account.generation + 1


def retire(store: Store, conn: Connection, account: Account) -> None:
    """Erase the row (consents, template and password go with it) and, for an account that
    had a credential, leave its pseudonym and next generation behind."""
    if account.id is not None:
        sql(conn, "DELETE FROM users WHERE id = :id", {"id": account.id})
    if account.claimed:
        params = {"site": account.site.id, "subject": subject(store.keys, account.site,
                                                               account.user)}
        sql(conn, _FORGET_RETIRED, params)
        sql(conn, "INSERT INTO retired_users (site_id, subject, generation, retired_at) "
                  "VALUES (:site, :subject, :generation, :now)",
            {**params, "generation": account.generation + 1, "now": store.clock()})


def reopen(engine: Engine, keys: ServerKeys, site_id: int, site_name: str, user: str,
           now: float) -> bool:
    """Admin action: let the account's first credential be created again without a ticket
    (e.g. a support desk that has checked who is asking). True if there was anything to do."""
    params = {"site": site_id, "user": user, "subject": keys.pseudonym(site_name, user)}
    with db.transaction(engine) as conn:
        retired = sql(conn, _RETIRED, params).fetchone()
        done = sql(conn, "UPDATE users SET claimed = :no WHERE site_id = :site AND "
                         "external_id = :user AND claimed = :yes",
                   {**params, "no": False, "yes": True}).rowcount
        if retired is not None:
            sql(conn, _CREATE, {**params, "now": now, "generation": int(retired[0]),
                                "claimed": False})
            sql(conn, _FORGET_RETIRED, params)
    return bool(done) or retired is not None


# --- sessions and tickets ------------------------------------------------------------------
def login(store: Store, site: Site, user: str, method: str, generation: int,
          purpose: str = "verify", liveness: str | None = None) -> Verified:
    """A verified person: the signed assertion for the business and a session for the
    widget. A withdraw-purpose verification is no login: no assertion, and a session that
    serves only withdrawal and erasure."""
    now = store.clock()
    withdraw = purpose == "withdraw"
    session = mint_session(store.keys.session_mac_key(), site.name, user, method, now,
                           generation, withdraw_only=withdraw)
    if withdraw:
        return Verified(method=method, session=session,
                        expires_at=int(now) + SESSION_TTL_SECONDS)
    token, expires = issue(store.keys.signing_key(site.name, site.key_generation),
                           store.issuer, site.name, user, method, now, liveness=liveness)
    return Verified(method=method, assertion=token, session=session, expires_at=expires)


def mint(store: Store, account: Account, method: str, generation: int | None = None,
         withdraw_only: bool = False) -> bytes:
    return mint_session(store.keys.session_mac_key(), account.site.name, account.user, method,
                        store.clock(), account.generation if generation is None else generation,
                        withdraw_only=withdraw_only)


def session(store: Store, account: Account, token: bytes | None,
            withdraw: bool = False) -> Session:
    """The holder's session, of the account's current generation; a withdraw-only session
    (from a withdraw-purpose verification) serves only withdrawal and erasure."""
    try:
        found = check_session(store.keys.session_mac_key(), token, account.site.name,
                              account.user, store.clock(), account.generation)
    except AssertionInvalid as exc:
        raise Refused("session_invalid") from exc
    if found.withdraw_only and not withdraw:
        raise Refused("session_invalid")
    return found


def check_ticket(store: Store, conn: Connection, site: Site, user: str,
                 ticket: bytes | None) -> tuple[bytes, int]:
    """A valid, unspent, unexpired ticket the site's backend made for exactly this user:
    returns (its digest, its expiry); else 403 ``ticket_required``."""
    if ticket is None or len(ticket) != TICKET_BYTES:
        raise Refused("ticket_required", field="ticket")
    expires_at = int.from_bytes(ticket[:8], "big")
    now = store.clock()
    mac = ticket_mac(store.keys.ticket_key(site.name), site.name, user, expires_at)
    good = hmac.compare_digest(mac, ticket[8:])
    if not good or not now <= expires_at <= now + MAX_TICKET_TTL_SECONDS:
        raise Refused("ticket_required", field="ticket")
    digest = hashlib.sha256(ticket).digest()
    if sql(conn, _USED, {"digest": digest}).fetchone() is not None:
        raise Refused("ticket_required", field="ticket")
    return digest, expires_at


def spend(store: Store, conn: Connection, authority: Authority) -> None:
    """Mark the ticket that created a credential as used (in that step's transaction)."""
    if authority.ticket is None:
        return
    digest, expires_at = authority.ticket
    if not sql(conn, _SPEND, {"digest": digest, "expires": float(expires_at)}).rowcount:
        raise Refused("ticket_required", field="ticket")  # spent by a racing request
    if random.random() < 0.05:
        sql(conn, _PURGE_TICKETS, {"now": store.clock()})


def authorise(store: Store, conn: Connection, account: Account, token: bytes | None,
              ticket: bytes | None) -> Authority:
    """Who is asking: the holder (a session, checked first), else a ticket holder where one
    is needed, else (open site, account never claimed) anyone. Callers refuse non-holders
    what only the holder may do (an account with a credential)."""
    if token is not None:
        return Authority(session=session(store, account, token))
    # on a ticket site always first (the answer then says nothing about the account); on an
    # open site for an account that had a credential and has none now (withdrawn, erased)
    if account.site.enrol_tickets or (account.claimed and not account.has_credential):
        return Authority(ticket=check_ticket(store, conn, account.site, account.user, ticket))
    return Authority()
