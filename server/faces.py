"""The face flows: challenge -> evaluate -> enrol / verify.

Every step is one transaction, so a worker killed mid-request leaves no half-written
enrolment. The hot steps run the statements of ``server.statements`` on raw DB-API
connections (``server.rawdb.Raw``):

* a challenge is the client's address count and one INSERT (PostgreSQL: one statement);
* an evaluation is one UPDATE claiming the challenge, then the OPRF with the account's key.
  It does not depend on any counter or lock, so its answer says nothing about them;
* a verification is one read (challenge, public key, generation), the Ed25519 check outside
  any lock, then one write transaction: take the challenge, count a failure or clear the
  client's count (``server.limits``), one audit row (PostgreSQL: one function call).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import delete, insert, select

from pyapp.errors import CryptoError, Refused
from pyapp.protocol import (
    CHALLENGE_ID_BYTES,
    CHALLENGE_TTL_SECONDS,
    NONCE_BYTES,
    Challenge,
    ChallengeRequest,
    EnrolRequest,
    EvaluateRequest,
    Evaluation,
    VerifyRequest,
    liveness_covers,
    signed_message,
)
from server import accounts, decoy, ed25519, limits, oprf
from server import statements as q
from server.db import transaction
from server.rawdb import Tx, sql
from server.store import Site, Store
from server.tables import EVALUATED, FRESH, USED, consents, templates

SCHEME = "ed25519+oprf-ristretto255/1"
PURGE_ATTEMPTS_SECONDS = 600.0  # how often a worker drops counters that mean nothing now
_DUMMY_PUBLIC = Ed25519PublicKey.from_public_bytes(bytes.fromhex(
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))  # RFC 8032 test 1
_HELPER = ("SELECT t.helper_sealed FROM templates t JOIN users u ON u.id = t.user_id "
           "WHERE u.site_id = :site AND u.external_id = :user")
_NEWEST_HELPER = ("SELECT u.external_id, t.helper_sealed FROM templates t JOIN users u ON "
                  "u.id = t.user_id WHERE u.site_id = :site AND t.helper_sealed IS NOT NULL "
                  "ORDER BY t.created_at DESC LIMIT 1")


@dataclass(frozen=True)
class FaceLogin:
    """A verified face: what for (verify, or withdraw only), and the account's generation."""

    purpose: str
    generation: int


def challenge(store: Store, req: ChallengeRequest, origin: str | None, kiosk: str | None,
              address: str) -> Challenge:
    site = store.site(req.site)
    origin = store.check_origin(site, origin)
    portable = site.storage_mode == "portable" and req.purpose != "enrol"
    if portable and not store.keys.kiosk_ok(site.name, kiosk):
        # Helper data is a credential in all but name (docs/security.md): a portable
        # site gives it only to its own kiosks, never to whoever names an account.
        raise Refused("kiosk_required")
    now = store.clock()
    cid, nonce = store.random_bytes(CHALLENGE_ID_BYTES), store.random_bytes(NONCE_BYTES)
    expires = int(now) + CHALLENGE_TTL_SECONDS
    helper = None
    if portable:
        helper = _helper(store, site, req.user)
    policy = store.policy
    counted = store.limit_keys("face", site, req.user, address).address
    values = {"id": cid, "site": site.id, "user": req.user, "purpose": req.purpose,
              "origin": origin, "nonce": nonce, "expires": float(expires), "state": FRESH,
              "address": counted, "now": now, "window": policy.ip_window_seconds,
              "ip_limit": policy.ip_limit}
    if store.raw.pg:
        with store.raw.write(single=True) as conn:
            made = policy.ip_limit > 0 and sql(conn, q.CHALLENGE_WITH_COUNT, values).rowcount
    else:
        with store.raw.write() as conn:
            made = limits.address_attempt(conn, counted, now, policy)
            if made:
                sql(conn, q.INSERT_CHALLENGE, values)
    if not made:
        raise Refused("rate_limited")
    if random.random() < 0.01:
        with store.raw.write(single=True) as conn:
            sql(conn, q.PURGE_CHALLENGES, {"before": now - 60})
    if store.due("attempts", PURGE_ATTEMPTS_SECONDS):
        with store.raw.write(single=True) as conn:
            limits.purge(conn, now, store.policy)
    return Challenge(challenge_id=cid, nonce=nonce, expires_at=expires, helper=helper)


def _helper(store: Store, site: Site, user: str) -> bytes:
    """The account's helper, opened; a decoy in the same format for one without. Both are
    made either way (same statements, same work), so the time taken tells nothing either."""
    with store.raw.read() as conn:
        row = sql(conn, _HELPER, {"site": site.id, "user": user}).fetchone()
    with store.raw.read() as conn:
        newest = sql(conn, _NEWEST_HELPER, {"site": site.id}).fetchone()
    like = None if newest is None else store.keys.open_helper(site.name, str(newest[0]),
                                                              bytes(newest[1]))
    fake = decoy.decoy_template(store.keys.derived("decoy helper", site.name), user, like,
                                store.scheme_file, store.face_pipeline)
    if row is not None and row[0] is not None:
        return store.keys.open_helper(site.name, user, bytes(row[0]))
    return fake


def evaluate(store: Store, req: EvaluateRequest, origin: str | None) -> Evaluation:
    site = store.site(req.site)
    try:
        oprf.check_element(req.blinded)
    except CryptoError as exc:
        raise Refused("invalid_element", str(exc), "blinded") from exc
    with store.raw.write(single=True) as conn:
        claimed = sql(conn, q.CLAIM, {
            "new": EVALUATED, "id": req.challenge_id, "site": site.id, "user": req.user,
            "fresh": FRESH, "now": store.clock(), "origin": origin or ""}).rowcount
    if claimed != 1:
        raise Refused("challenge_invalid")
    secret = store.keys.oprf_secret(site.name, req.user)
    return Evaluation(evaluated=oprf.blind_evaluate(secret, req.blinded))


def verify(store: Store, req: VerifyRequest, origin: str | None, address: str) -> FaceLogin:
    """The verified face; every failure raises the same ``not_verified`` (``rate_limited``
    only for an address over its limit that sent no valid challenge)."""
    site = store.site(req.site)
    if not liveness_covers(req.liveness, site.liveness):
        raise Refused("liveness_required")  # an outdated or altered app: nothing consumed
    now = store.clock()
    where = {"id": req.challenge_id, "site": site.id, "user": req.user,
             "evaluated": EVALUATED, "p1": "verify", "p2": "withdraw", "now": now,
             "origin": origin or ""}
    with store.raw.read() as conn:
        nonce, purpose, key, generation = sql(conn, q.VERIFY_READ, where).fetchone()
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
    keys = store.limit_keys("face", site, req.user, address)
    values = {**where, **keys.values(now, store.policy), "used": USED,
              "signature_ok": signature_ok, "subject": store.keys.pseudonym(site.name, req.user),
              "detail": f"face {req.liveness}"}
    if store.raw.pg:
        call = q.verify_call(tuple((name, values[name]) for name in q.POLICY_PARAMS))
        with store.raw.write(single=True) as conn:
            outcome = int(sql(conn, call, values).fetchone()[0])
    else:
        with store.raw.write() as conn:
            outcome = _verify_write(store, conn, keys, values)
    if outcome == q.RATE_LIMITED:
        raise Refused("rate_limited")
    if outcome != q.VERIFIED:
        raise Refused("not_verified")
    return FaceLogin(str(purpose), int(generation or 0))


def _verify_write(store: Store, conn: Tx, keys: limits.Keys, values: dict[str, object]
                  ) -> int:
    """The write half of a verification (what ``ownface_verify_v2`` does on PostgreSQL)."""
    now, policy = store.clock(), store.policy
    taken = sql(conn, q.TAKE_WITH_STATE, values).fetchone()
    if taken is None:  # no such challenge: nothing to audit
        ok = limits.address_attempt(conn, keys.address, now, policy)
        return q.FAILED if ok else q.RATE_LIMITED
    state = limits.judge(taken[3:], now, policy)
    good = bool(values["signature_ok"]) and state.may_try
    if good:
        limits.success(conn, keys, now, address_refund=1, settled=state.settled)
    elif not values["signature_ok"]:
        limits.count_failure(conn, keys, now, policy, state.known)
    sql(conn, q.AUDIT, {"site": values["site"], "at": now, "subject": values["subject"],
                        "event": "verified" if good else "verify_failed",
                        "detail": values["detail"] if good else None})
    return q.VERIFIED if good else q.FAILED


def enrol(store: Store, req: EnrolRequest, origin: str | None, address: str
          ) -> tuple[Site, int]:
    """Store a protected template; returns the site and the account's generation."""
    site = store.site(req.site)
    if not liveness_covers(req.liveness, site.liveness):
        raise Refused("liveness_required")
    if (site.storage_mode == "portable") != (req.helper is not None):
        raise Refused("wrong_mode", "portable sites need the helper data; device sites "
                                    "must not receive it", "helper")
    try:
        public = ed25519.public_key(req.public_key)
    except CryptoError as exc:
        raise Refused("invalid_key", str(exc), "public_key") from exc
    now = store.clock()
    with transaction(store.engine) as conn:
        account = accounts.load(store, conn, site, req.user)
        consent = None if account.id is None else conn.execute(select(consents.c.id).where(
            consents.c.id == req.consent_id, consents.c.user_id == account.id,
            consents.c.withdrawn_at.is_(None))).first()
        if consent is None:
            raise Refused("no_consent")
        authority = accounts.authorise(store, conn, account, req.session, req.ticket)
        if not authority.holder and account.has_template:
            raise Refused("already_enrolled")
        if not authority.holder and account.has_password:
            raise Refused("session_invalid")  # a face only from its verified holder
        taken = sql(conn, q.TAKE, {
            "used": USED, "id": req.challenge_id, "site": site.id, "user": req.user,
            "evaluated": EVALUATED, "p1": "enrol", "p2": "enrol", "now": now,
            "origin": origin or ""}).fetchone()
        if taken is None:
            raise Refused("challenge_invalid")
        message = signed_message("enrol", site.name, req.user, str(taken[2]),
                                 req.challenge_id, bytes(taken[0]))
        if not ed25519.verifies(public, req.signature, message):
            raise Refused("not_verified")
        sealed = None if req.helper is None else store.keys.seal_helper(
            site.name, req.user, req.helper)
        conn.execute(delete(templates).where(templates.c.user_id == account.id))
        conn.execute(insert(templates).values(
            user_id=account.id, consent_id=req.consent_id, scheme=SCHEME,
            public_key=req.public_key, helper_sealed=sealed, created_at=now,
            pipeline=req.pipeline))
        accounts.claim(conn, account)
        accounts.spend(store, conn, authority)
        limits.success(conn, store.limit_keys("face", site, req.user, address), now,
                       address_refund=2)  # the consent's unit and the challenge's
        # a new template for an account that had one: replaced (renewed) under its session
        store.log(conn, site, "renewed" if account.has_template else "enrolled", req.user,
                  f"{site.storage_mode} {req.pipeline} {req.liveness}")
    return site, account.generation
