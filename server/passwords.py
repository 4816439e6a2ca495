"""The password alternative: the strength policy and the set, change and verify flows.

Hashing is ``server.hashing`` (argon2id, OWASP parameters). Policy: 8 to 128 characters (the
protocol checks the length), and zxcvbn must rate the password at least ``MIN_SCORE`` (2:
"somewhat guessable", i.e. safe against throttled online guessing, which is all the server
allows); refusals carry zxcvbn's own warning as the reason, e.g. "This is a very common
password.". The site name and user id count as known words.

Who may set or change a password (``server.accounts``): a new account's first password
whoever the site lets create it (a ticket on ticket sites); an account with a credential only
its holder (a session); and *replacing* a password also needs proof that the holder is at the
keyboard now: the current password, or a face session at most ``REAUTH_SECONDS`` old. A
change bumps the account's generation, so every older session stops working.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from zxcvbn import zxcvbn

from pyapp.errors import OwnFaceError, Refused
from pyapp.protocol import (
    REAUTH_SECONDS,
    PasswordChange,
    PasswordSaved,
    PasswordSet,
    PasswordVerify,
)
from server import accounts, limits
from server.assertions import Session
from server.db import transaction
from server.store import Site, Store
from server.tables import passwords

MIN_SCORE = 2
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters decide


class WeakPassword(OwnFaceError):
    """The password is refused by the policy; the message is the reason for the user."""


def check_strength(password: str, known_words: tuple[str, ...] = ()) -> None:
    """Raise WeakPassword with a reason a person can act on."""
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[w for w in known_words if w])
    if int(result["score"]) >= MIN_SCORE:
        return
    feedback = result.get("feedback") or {}
    reason = feedback.get("warning") or ""
    suggestions = feedback.get("suggestions") or []
    if not reason:
        reason = "This password is too easy to guess."
    if suggestions:
        reason = f"{reason} {suggestions[0]}"
    raise WeakPassword(reason)


def _strong(site: Site, user: str, password: str, field: str) -> None:
    try:
        check_strength(password, (site.name, user))
    except WeakPassword as exc:
        raise Refused("weak_password", str(exc), field) from exc


def _count_write(store: Store, site: Site, user: str, address: str) -> None:
    """Setting a password is an unconfirmed write of the client (and an argon2 hash): it is
    counted in its own transaction, so a refusal later still counts."""
    with transaction(store.engine) as conn:
        ok = limits.address_attempt(conn, store.limit_keys("pwd", site, user, address).address,
                                    store.clock(), store.policy)
    if not ok:
        raise Refused("rate_limited")


def _fresh_face(session: Session, now: float) -> bool:
    return session.method == "face" and now - session.issued_at <= REAUTH_SECONDS


def _save(store: Store, site: Site, user: str, password: str, token: bytes | None,
          ticket: bytes | None, reauthenticated: bool) -> PasswordSaved:
    """Store the password, re-checking who may, in one transaction; returns a new session."""
    digest = store.hasher.hash(password)  # outside the transaction: it takes ~30 ms
    with transaction(store.engine) as conn:
        account = accounts.load(store, conn, site, user)
        authority = accounts.authorise(store, conn, account, token, ticket)
        if not authority.holder and account.has_credential:
            raise Refused("session_invalid")  # a stranger adds nothing to an account
        if account.has_password and not reauthenticated and not (
                authority.session is not None and _fresh_face(authority.session,
                                                              store.clock())):
            raise Refused("reauth_required")
        account = accounts.create(store, conn, account)
        generation = account.generation
        if account.has_password:
            generation = accounts.bump(conn, account)
        conn.execute(delete(passwords).where(passwords.c.user_id == account.id))
        conn.execute(insert(passwords).values(user_id=account.id, hash=digest,
                                              updated_at=store.clock()))
        accounts.claim(conn, account)
        accounts.spend(store, conn, authority)
        store.log(conn, site, "password_set", user)
    return PasswordSaved(session=accounts.mint(store, account, "pwd", generation))


def set_password(store: Store, req: PasswordSet, address: str) -> PasswordSaved:
    """A new account's first password, or (with the holder's session) one more credential;
    replacing an existing password needs a fresh face session (or ``password/change``)."""
    site = store.site(req.site)
    _count_write(store, site, req.user, address)
    with store.engine.connect() as conn:  # who is asking, before any work on the password
        account = accounts.load(store, conn, site, req.user)
        accounts.authorise(store, conn, account, req.session, req.ticket)
        conn.rollback()
    _strong(site, req.user, req.password, "password")
    return _save(store, site, req.user, req.password, req.session, req.ticket, False)


def change_password(store: Store, req: PasswordChange, address: str) -> PasswordSaved:
    site = store.site(req.site)
    with store.engine.connect() as conn:
        account = accounts.load(store, conn, site, req.user)
        conn.rollback()
    session = accounts.session(store, account, req.session)
    if req.current_password is not None:
        if verify_password(store, PasswordVerify(site=site.name, user=req.user,
                                                 password=req.current_password),
                           address) is None:
            raise Refused("reauth_required")
    elif not _fresh_face(session, store.clock()):
        raise Refused("reauth_required")
    _strong(site, req.user, req.new_password, "new_password")
    return _save(store, site, req.user, req.new_password, req.session, None, True)


def verify_password(store: Store, req: PasswordVerify, address: str) -> int | None:
    """The account's generation on success, else None. Unknown accounts, wrong passwords
    and clients that must wait all do the same work (one argon2 verification) and give the
    same None. The attempt is counted before the hash is checked (so racing guesses cannot
    overshoot) and given back on success."""
    site = store.site(req.site)
    now = store.clock()
    keys = store.limit_keys("pwd", site, req.user, address)
    with transaction(store.engine) as conn:
        state = limits.state(conn, keys, now, store.policy)
        allowed = state.may_try and limits.count_failure(conn, keys, now, store.policy,
                                                         state.known)
        if not limits.address_attempt(conn, keys.address, now, store.policy):
            raise Refused("rate_limited")
        account = accounts.load(store, conn, site, req.user)
        stored = None if account.id is None else conn.execute(select(passwords.c.hash).where(
            passwords.c.user_id == account.id)).scalar()
    ok = store.hasher.verify(stored, req.password) and allowed
    with transaction(store.engine) as conn:
        if ok:
            limits.success(conn, keys, now, account_refund=1, address_refund=1)
            if stored is not None and store.hasher.needs_rehash(stored):
                conn.execute(update(passwords).where(passwords.c.user_id == account.id).values(
                    hash=store.hasher.hash(req.password), updated_at=store.clock()))
        store.log(conn, site, "verified" if ok else "verify_failed", req.user,
                  "pwd" if ok else None)
    return account.generation if ok else None
