"""The face flows on top of the database: sites, challenges, OPRF evaluation, enrol, verify.

Every flow step is one transaction: a step either happens completely or not at all, so a
worker killed mid-request leaves no half-written enrolment. Refusals raise
``pyapp.errors.Refused`` with a code from ``pyapp.protocol.ERRORS``.

The hot steps (challenge, evaluate, verify) run the statements of ``server.statements`` on
raw DB-API connections (``server.rawdb.Raw``): a challenge is one INSERT; an evaluation the
claim and one upsert per counter (on PostgreSQL one function call doing the same); a
verification one read (challenge and public key), the Ed25519 check outside any lock, then
one write transaction: take the challenge, on success clear the counts, and the audit row
(on PostgreSQL one function call).
"""

from __future__ import annotations

import hmac
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, delete, insert, select

from pyapp.errors import CryptoError, Refused
from pyapp.protocol import (
    CHALLENGE_ID_BYTES,
    CHALLENGE_TTL_SECONDS,
    MAX_TICKET_TTL_SECONDS,
    NONCE_BYTES,
    TICKET_BYTES,
    Challenge,
    ChallengeRequest,
    EnrolRequest,
    EvaluateRequest,
    Evaluation,
    VerifyRequest,
    signed_message,
    ticket_mac,
)
from server import limits, oprf
from server import statements as q
from server.assertions import AssertionInvalid, check_session
from server.db import transaction
from server.keys import ServerKeys
from server.passwords import Hasher
from server.rawdb import Raw, Tx, sql
from server.tables import DECOY, EVALUATED, FRESH, USED, templates
from server.tables import passwords as passwords_t
from server.tables import users as users_t

SCHEME = "ed25519+oprf-ristretto255/1"
DEFAULT_HELPER_BYTES = 256  # decoy size for portable sites that have no template yet
_DUMMY_PUBLIC = Ed25519PublicKey.from_public_bytes(bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))  # RFC 8032 test 1
_SITE_CACHE_SECONDS = 5.0
_SITE = ('SELECT id, name, origins, storage_mode, admin_token_sha256, key_generation, '
         'enrol_tickets FROM sites WHERE name = :name')


@dataclass(frozen=True)
class Site:
    id: int
    name: str
    origins: tuple[str, ...]
    storage_mode: str
    admin_token_sha256: str
    key_generation: int
    enrol_tickets: bool = False  # a new account's first credential needs a ticket


@dataclass
class Store:
    engine: Engine
    keys: ServerKeys
    issuer: str
    policy: limits.Policy = field(default_factory=limits.Policy)
    hasher: Hasher = field(default_factory=Hasher)
    clock: Callable[[], float] = time.time
    random_bytes: Callable[[int], bytes] = os.urandom
    public_origin: str = ""
    _sites: dict[str, tuple[float, Site | None]] = field(default_factory=dict, repr=False)
    raw: Raw = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.raw = Raw(self.engine)

    # --- sites -------------------------------------------------------------------------------
    def site(self, name: str) -> Site:
        now = time.monotonic()
        cached = self._sites.get(name)
        if cached is None or now - cached[0] > _SITE_CACHE_SECONDS:
            with self.raw.read() as conn:
                row = sql(conn, _SITE, {"name": name}).fetchone()
            found = None if row is None else Site(
                int(row[0]), str(row[1]), tuple(json.loads(row[2])), str(row[3]), str(row[4]),
                int(row[5]), bool(row[6]))
            cached = (now, found)
            self._sites[name] = cached
        if cached[1] is None:
            raise Refused("unknown_site")
        return cached[1]

    def forget_sites(self) -> None:
        self._sites.clear()

    def all_origins(self) -> frozenset[str]:
        """Every origin any site allows (CORS preflights carry no site name)."""
        with self.raw.read() as conn:
            rows = sql(conn, "SELECT origins FROM sites").fetchall()
        found = {o for (text,) in rows for o in json.loads(text)}
        if self.public_origin:
            found.add(self.public_origin)
        return frozenset(found)

    def check_origin(self, site: Site, origin: str | None) -> str:
        if origin and (origin in site.origins or origin == self.public_origin):
            return origin
        raise Refused("origin_not_allowed")

    # --- shared helpers ----------------------------------------------------------------------
    def user_id(self, conn: Connection, site: Site, user: str, create: bool = False
                ) -> int | None:
        found = conn.execute(select(users_t.c.id).where(
            users_t.c.site_id == site.id, users_t.c.external_id == user)).scalar()
        if found is None and create:
            found = conn.execute(insert(users_t).values(
                site_id=site.id, external_id=user, created_at=self.clock())
                .returning(users_t.c.id)).scalar_one()
        return None if found is None else int(found)

    def log(self, conn: Tx, site: Site, event: str, user: str | None = None,
            detail: str | None = None) -> None:
        subject = None if user is None else self.keys.pseudonym(site.name, user)
        sql(conn, "INSERT INTO audit (site_id, at, event, subject, detail) "
                  "VALUES (:site, :at, :event, :subject, :detail)",
            {"site": site.id, "at": self.clock(), "event": event, "subject": subject,
             "detail": detail})

    def session_ok(self, site: Site, user: str, token: bytes | None) -> str:
        try:
            return check_session(self.keys.session_mac_key(), token, site.name, user,
                                 self.clock())
        except AssertionInvalid as exc:
            raise Refused("session_invalid") from exc

    def may_create(self, site: Site, user: str, ticket: bytes | None) -> None:
        """A new account's first credential: on a site that requires enrolment tickets, only
        with a valid, unexpired ticket its backend made for exactly this user."""
        if not site.enrol_tickets:
            return
        if ticket is None or len(ticket) != TICKET_BYTES:
            raise Refused("ticket_required", field="ticket")
        expires_at = int.from_bytes(ticket[:8], "big")
        now = self.clock()
        mac = ticket_mac(self.keys.ticket_key(site.name), site.name, user, expires_at)
        good = hmac.compare_digest(mac, ticket[8:])
        if not good or not now <= expires_at <= now + MAX_TICKET_TTL_SECONDS:
            raise Refused("ticket_required", field="ticket")

    # --- challenge -> evaluate -> enrol / verify --------------------------------------------
    def challenge(self, req: ChallengeRequest, origin: str | None,
                  kiosk: str | None = None) -> Challenge:
        site = self.site(req.site)
        origin = self.check_origin(site, origin)
        if site.storage_mode == "portable" and req.purpose != "enrol" \
                and not self.keys.kiosk_ok(site.name, kiosk):
            # Helper data is a credential in all but name (docs/security.md): a portable
            # site gives it only to its own kiosks, never to whoever names an account.
            raise Refused("kiosk_required")
        now = self.clock()
        cid, nonce = self.random_bytes(CHALLENGE_ID_BYTES), self.random_bytes(NONCE_BYTES)
        expires = int(now) + CHALLENGE_TTL_SECONDS
        helper = None
        if site.storage_mode == "portable" and req.purpose != "enrol":
            with self.engine.connect() as sa_conn:
                helper = self._helper(sa_conn, site, req.user)
                sa_conn.rollback()
        with self.raw.write(single=True) as conn:
            sql(conn, q.INSERT_CHALLENGE,
                {"id": cid, "site": site.id, "user": req.user, "purpose": req.purpose,
                 "origin": origin, "nonce": nonce, "expires": float(expires), "state": FRESH})
        if random.random() < 0.01:
            with self.raw.write(single=True) as conn:
                sql(conn, q.PURGE_CHALLENGES, {"before": now - 60})
        return Challenge(challenge_id=cid, nonce=nonce, expires_at=expires, helper=helper)

    def _helper(self, conn: Tx, site: Site, user: str) -> bytes:
        row = sql(conn, "SELECT t.helper_sealed FROM templates t JOIN users u ON u.id = "
                        "t.user_id WHERE u.site_id = :site AND u.external_id = :user",
                  {"site": site.id, "user": user}).fetchone()
        if row is not None and row[0] is not None:
            return self.keys.open_helper(site.name, user, bytes(row[0]))
        size = sql(conn, "SELECT max(length(t.helper_sealed)) FROM templates t JOIN users u "
                         "ON u.id = t.user_id WHERE u.site_id = :site",
                   {"site": site.id}).fetchone()[0]
        size = DEFAULT_HELPER_BYTES if not size else int(size) - 28  # minus nonce and tag
        return self.keys.decoy_helper(site.name, user, size)

    def evaluate(self, req: EvaluateRequest, origin: str | None, address: str) -> Evaluation:
        site = self.site(req.site)
        try:
            oprf.check_element(req.blinded)
        except CryptoError as exc:
            raise Refused("invalid_element", str(exc), "blinded") from exc
        now = self.clock()
        face_key, address_key = limits.face_key(site.name, req.user), f"faceip:{address}"
        if self.raw.pg:
            values = limits.face_values(now, self.policy)
            with self.raw.write(single=True) as conn:
                try:
                    outcome = sql(conn, q.evaluate_call(), {
                        "id": req.challenge_id, "site": site.id, "user": req.user,
                        "origin": origin or "", "now": now, "face_key": face_key, **values,
                        "address_key": address_key, "window": self.policy.ip_window_seconds,
                        "ip_limit": self.policy.ip_limit}).fetchone()[0]
                except Exception as exc:
                    if q.RATE_LIMITED in str(exc):
                        raise Refused("rate_limited") from exc
                    raise
            if outcome == 0:
                raise Refused("challenge_invalid")
            real = outcome == 1
        else:
            with self.raw.write() as conn:
                claimed = sql(conn, q.CLAIM, {
                    "new": EVALUATED, "id": req.challenge_id, "site": site.id,
                    "user": req.user, "fresh": FRESH, "now": now, "origin": origin or ""
                }).rowcount
                if claimed != 1:
                    raise Refused("challenge_invalid")
                # Lock order everywhere: the account's row, then the address's row.
                real = limits.face_attempt(conn, face_key, now, self.policy)
                if not limits.address_attempt(conn, address_key, now, self.policy):
                    raise Refused("rate_limited")  # (rolls the claim and the count back)
                if not real:
                    sql(conn, q.DECOY_STATE, {"decoy": DECOY, "id": req.challenge_id})
        if not real:  # locked: the answer a wrong face would get
            return Evaluation(evaluated=oprf.random_element())
        secret = self.keys.oprf_secret(site.name, req.user)
        return Evaluation(evaluated=oprf.blind_evaluate(secret, req.blinded))

    def _take(self, conn: Tx, site: Site, user: str, cid: bytes,
              purposes: tuple[str, ...], origin: str | None
              ) -> tuple[int, bytes, str, str] | None:
        """Consume an evaluated challenge: (state it had, nonce, purpose, origin), or None."""
        row = sql(conn, q.TAKE, {  # the new state is 3 + the old: 4 was evaluated, 5 a decoy
            "used": USED, "id": cid, "site": site.id, "user": user, "evaluated": EVALUATED,
            "decoy": DECOY, "p1": purposes[0], "p2": purposes[-1], "now": self.clock(),
            "origin": origin or ""}).fetchone()
        if row is None:
            return None
        return (int(row[0]) - USED, bytes(row[1]), str(row[2]), str(row[3]))

    def verify(self, req: VerifyRequest, origin: str | None, address: str) -> bool:
        """True when the signature opens; every failure is the same False."""
        site = self.site(req.site)
        now = self.clock()
        where = {"id": req.challenge_id, "site": site.id, "user": req.user,
                 "evaluated": EVALUATED, "decoy": DECOY, "p1": "verify", "p2": "withdraw",
                 "now": now, "origin": origin or ""}
        with self.raw.read() as conn:
            nonce, purpose, key = sql(conn, q.VERIFY_READ, where).fetchone()
        public = _DUMMY_PUBLIC if key is None else Ed25519PublicKey.from_public_bytes(bytes(key))
        message = signed_message(purpose or "verify", site.name, req.user, origin or "",
                                 req.challenge_id, bytes(nonce or bytes(NONCE_BYTES)))
        try:
            public.verify(req.signature, message)
            signature_ok = key is not None and nonce is not None
        except InvalidSignature:
            signature_ok = False
        # The write re-checks the challenge while consuming it: a replay racing this verify
        # between the read and here finds it used.
        face_key, address_key = limits.face_key(site.name, req.user), f"faceip:{address}"
        subject = self.keys.pseudonym(site.name, req.user)
        if self.raw.pg:
            with self.raw.write(single=True) as conn:
                return bool(sql(conn, q.verify_call(), {
                    "id": req.challenge_id, "site": site.id, "user": req.user,
                    "origin": origin or "", "now": now, "p1": "verify", "p2": "withdraw",
                    "signature_ok": signature_ok, "face_key": face_key,
                    "address_key": address_key, "subject": subject}).fetchone()[0])
        with self.raw.write() as conn:
            taken = sql(conn, q.TAKE, {**where, "used": USED}).fetchone()
            good = signature_ok and taken is not None and int(taken[0]) == USED + EVALUATED
            if good:
                limits.reset(conn, face_key)
                limits.address_success(conn, address_key)
            sql(conn, q.AUDIT, {"site": site.id, "at": now, "subject": subject,
                                "event": "verified" if good else "verify_failed",
                                "detail": "face" if good else None})
        return good

    def enrol(self, req: EnrolRequest, origin: str | None, address: str = "unknown") -> Site:
        site = self.site(req.site)
        if (site.storage_mode == "portable") != (req.helper is not None):
            raise Refused("wrong_mode", "portable sites need the helper data; device sites "
                                        "must not receive it", "helper")
        from server.tables import consents

        with transaction(self.engine) as conn:
            uid = self.user_id(conn, site, req.user)
            consent = None if uid is None else conn.execute(select(consents.c.id).where(
                consents.c.id == req.consent_id, consents.c.user_id == uid,
                consents.c.withdrawn_at.is_(None))).first()
            if consent is None or uid is None:
                raise Refused("no_consent")
            if req.session is None:  # first: the refusal says nothing about the account
                self.may_create(site, req.user, req.ticket)
            existing = conn.execute(select(templates.c.user_id).where(
                templates.c.user_id == uid)).first()
            if existing is not None and req.session is None:
                raise Refused("already_enrolled")
            has_password = conn.execute(select(passwords_t.c.user_id).where(
                passwords_t.c.user_id == uid)).first() is not None
            if existing is not None or has_password:
                # an account with any credential gets a face only from its verified holder
                self.session_ok(site, req.user, req.session)
            elif req.session is not None:
                self.may_create(site, req.user, req.ticket)
            taken = self._take(conn, site, req.user, req.challenge_id, ("enrol",), origin)
            if taken is None or taken[0] != EVALUATED:
                raise Refused("challenge_invalid")
            message = signed_message("enrol", site.name, req.user, taken[3], req.challenge_id,
                                     taken[1])
            try:
                Ed25519PublicKey.from_public_bytes(req.public_key).verify(req.signature, message)
            except (InvalidSignature, ValueError) as exc:
                raise Refused("not_verified") from exc
            sealed = None if req.helper is None else self.keys.seal_helper(
                site.name, req.user, req.helper)
            conn.execute(delete(templates).where(templates.c.user_id == uid))
            conn.execute(insert(templates).values(
                user_id=uid, consent_id=req.consent_id, scheme=SCHEME,
                public_key=req.public_key, helper_sealed=sealed, created_at=self.clock(),
                pipeline=req.pipeline))
            limits.reset(conn, limits.face_key(site.name, req.user))
            limits.address_success(conn, f"faceip:{address}")
            # a new template for an account that had one: replaced (renewed) under its session
            self.log(conn, site, "renewed" if existing is not None else "enrolled", req.user,
                     f"{site.storage_mode} {req.pipeline}")
        return site
