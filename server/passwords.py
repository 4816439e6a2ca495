"""The password alternative: argon2id hashing and the strength policy.

Parameters are OWASP's first argon2id recommendation: m = 19 MiB, t = 2, p = 1 (about 30 ms
per verification on the reference machine, see bench/server_load.py). Hashes made with other
parameters verify and are rehashed on the next successful login. A verification for an account
without a password runs against a dummy hash made at start-up, so the answer takes as long as
for a real account.

Policy: 8 to 128 characters (the protocol checks the length), and zxcvbn must rate the
password at least ``MIN_SCORE`` (2: "somewhat guessable", i.e. safe against throttled online
guessing, which is all the server allows); refusals carry zxcvbn's own warning as the reason,
e.g. "This is a very common password.". The site name and user id count as known words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from zxcvbn import zxcvbn

from pyapp.errors import OwnFaceError, Refused
from pyapp.protocol import PasswordChange, PasswordSaved, PasswordSet, PasswordVerify
from server import limits
from server.assertions import mint_session
from server.db import transaction
from server.tables import passwords, templates

if TYPE_CHECKING:
    from server.store import Site, Store

MIN_SCORE = 2
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters decide


class WeakPassword(OwnFaceError):
    """The password is refused by the policy; the message is the reason for the user."""


@dataclass(frozen=True)
class Argon2Params:
    time_cost: int = 2
    memory_kib: int = 19 * 1024
    parallelism: int = 1


OWASP = Argon2Params()
CHEAPEST = Argon2Params(time_cost=1, memory_kib=8, parallelism=1)  # tests only, never in use


class Hasher:
    def __init__(self, params: Argon2Params = OWASP) -> None:
        self.params = params
        self._ph = PasswordHasher(time_cost=params.time_cost, memory_cost=params.memory_kib,
                                  parallelism=params.parallelism, hash_len=32, salt_len=16,
                                  type=Type.ID)
        self._dummy = self._ph.hash("OwnFace dummy password for unknown accounts")

    def __repr__(self) -> str:
        return f"Hasher({self.params})"

    def hash(self, password: str) -> str:
        return self._ph.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True on a match. With ``stored=None`` the same work is done and False returned."""
        try:
            ok = self._ph.verify(stored or self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return bool(ok) and stored is not None

    def needs_rehash(self, stored: str) -> bool:
        try:
            return self._ph.check_needs_rehash(stored)
        except InvalidHashError:
            return True


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


# --- the password flows ------------------------------------------------------------------
def _save(store: Store, site: Site, user: str, password: str) -> None:
    digest = store.hasher.hash(password)  # outside the transaction: it takes ~30 ms
    with transaction(store.engine) as conn:
        uid = store.user_id(conn, site, user, create=True)
        conn.execute(delete(passwords).where(passwords.c.user_id == uid))
        conn.execute(insert(passwords).values(user_id=uid, hash=digest,
                                              updated_at=store.clock()))
        store.log(conn, site, "password_set", user)


def _strong(site: Site, user: str, password: str, field: str) -> None:
    try:
        check_strength(password, (site.name, user))
    except WeakPassword as exc:
        raise Refused("weak_password", str(exc), field) from exc


def set_password(store: Store, req: PasswordSet) -> PasswordSaved:
    """A new account may set a password (with an enrolment ticket where the site requires
    one); an account with a template or password needs a session (a stranger must not add a
    password to someone else's account)."""
    site = store.site(req.site)
    if req.session is None:  # first: the refusal says nothing about the account
        store.may_create(site, req.user, req.ticket)
    _strong(site, req.user, req.password, "password")
    with store.engine.connect() as conn:
        uid = store.user_id(conn, site, req.user)
        has_credential = uid is not None and (
            conn.execute(select(passwords.c.user_id).where(passwords.c.user_id == uid)).first()
            or conn.execute(select(templates.c.user_id).where(templates.c.user_id == uid)
                            ).first()) is not None
        conn.rollback()
    if has_credential:
        store.session_ok(site, req.user, req.session)
    elif req.session is not None:
        store.may_create(site, req.user, req.ticket)
    _save(store, site, req.user, req.password)
    return PasswordSaved(session=mint_session(store.keys.session_mac_key(), site.name,
                                              req.user, "pwd", store.clock()))


def change_password(store: Store, req: PasswordChange) -> PasswordSaved:
    site = store.site(req.site)
    store.session_ok(site, req.user, req.session)
    _strong(site, req.user, req.new_password, "new_password")
    _save(store, site, req.user, req.new_password)
    return PasswordSaved(session=mint_session(store.keys.session_mac_key(), site.name,
                                              req.user, "pwd", store.clock()))


def verify_password(store: Store, req: PasswordVerify, address: str) -> bool:
    """True on success. Unknown accounts, wrong passwords and locked accounts all do the
    same work (one argon2 verification) and give the same False."""
    site = store.site(req.site)
    now = store.clock()
    with transaction(store.engine) as conn:
        allowed = limits.password_attempt(conn, limits.password_key(site.name, req.user), now,
                                          store.policy)  # account row first, then address
        if not limits.address_attempt(conn, f"pwdip:{address}", now, store.policy):
            raise Refused("rate_limited")
        uid = store.user_id(conn, site, req.user)
        stored = None if uid is None else conn.execute(select(passwords.c.hash).where(
            passwords.c.user_id == uid)).scalar()
    ok = store.hasher.verify(stored, req.password) and allowed
    with transaction(store.engine) as conn:
        if ok:
            limits.reset(conn, limits.password_key(site.name, req.user))
            limits.address_success(conn, f"pwdip:{address}")
            if stored is not None and store.hasher.needs_rehash(stored):
                conn.execute(update(passwords).where(passwords.c.user_id == uid).values(
                    hash=store.hasher.hash(req.password), updated_at=store.clock()))
        store.log(conn, site, "verified" if ok else "verify_failed", req.user,
                  "pwd" if ok else None)
    return ok
