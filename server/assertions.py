"""What the server hands out on success, and how others check it.

* The **assertion**: a short-lived JWS (compact JWT, joserfc) signed with the site's Ed25519
  key, for the embedding business's backend. Claims: ``iss`` (this server), ``aud`` (the
  site), ``sub`` (the site's user id), ``amr`` (``["face"]`` or ``["pwd"]``), ``iat``,
  ``exp``, ``jti``, and for a face verification ``client_liveness``: the presentation-attack
  check (``off``, ``passive``, ``passive+active``) the app *reported* running on the device,
  at least the site's policy (a weaker report is refused). It is only as trustworthy as the
  device that ran it (docs/security.md). The algorithm is ``Ed25519`` (RFC 9864's fully
  specified name for EdDSA over Ed25519; the polymorphic ``EdDSA`` name is deprecated there).
  The site's public keys are served as a JWK set; :func:`verify_assertion` is what a
  business backend runs.
* The **session** token: an opaque 41-byte value for the widget itself, proving a recent
  verification of one account: expiry (8 bytes) || flags (1 byte: method, withdraw-only) ||
  HMAC-SHA256 over site, user, the account's generation, expiry and flags. It authorises
  withdraw, erase and password change. It needs no database write per login, expires after
  ``SESSION_TTL_SECONDS``, and dies with its account's generation (password change,
  withdrawal, erasure).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, OKPKey

from pyapp.errors import OwnFaceError
from pyapp.protocol import (
    ASSERTION_TTL_SECONDS,
    LIVENESS_CLAIM,
    LIVENESS_POLICIES,
    METHODS,
    SESSION_BYTES,
    SESSION_TTL_SECONDS,
    b64encode,
    liveness_covers,
)

ALGORITHM = "Ed25519"


class AssertionInvalid(OwnFaceError):
    """An assertion failed verification (signature, audience, issuer, expiry or form)."""


def key_id(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return b64encode(hashlib.sha256(raw).digest()[:12])


def public_jwk(key: Ed25519PrivateKey) -> dict[str, Any]:
    jwk = dict(OKPKey.import_key(key.public_key()).as_dict(private=False))
    jwk.update({"kid": key_id(key), "use": "sig", "alg": ALGORITHM})
    return jwk


def jwks(keys: list[Ed25519PrivateKey]) -> dict[str, Any]:
    """The JWK set a business fetches: the current key first, then older generations."""
    return {"keys": [public_jwk(k) for k in keys]}


@functools.lru_cache(maxsize=64)
def _protected_header(key: Ed25519PrivateKey) -> bytes:
    """The encoded JWS header of one signing key (its ``kid`` needs a hash: do it once)."""
    header = {"alg": ALGORITHM, "kid": key_id(key), "typ": "JWT"}
    return b64encode(json.dumps(header, separators=(",", ":")).encode()).encode()


def issue(key: Ed25519PrivateKey, issuer: str, site: str, user: str, method: str, now: float,
          ttl: int = ASSERTION_TTL_SECONDS, jti: str | None = None,
          liveness: str | None = None) -> tuple[str, int]:
    """Sign an assertion; returns (compact JWS, expiry time).

    The compact serialisation (RFC 7515 section 7.1) is written here: two base64url JSON
    parts and an Ed25519 signature over ``header.claims``. Doing it directly costs a fifth
    of joserfc's generic path on every login; :func:`verify_assertion` (joserfc) checks it.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}")
    iat = int(now)
    exp = iat + ttl
    claims = {"iss": issuer, "aud": site, "sub": user, "amr": [method], "iat": iat,
              "exp": exp, "jti": jti or b64encode(os.urandom(16))}
    if liveness is not None:  # a face verification: the liveness check the client reported
        claims[LIVENESS_CLAIM] = liveness
    payload = b64encode(json.dumps(claims, separators=(",", ":")).encode()).encode()
    signing_input = _protected_header(key) + b"." + payload
    signature = b64encode(key.sign(signing_input)).encode()
    return (signing_input + b"." + signature).decode("ascii"), exp


def verify_assertion(token: str, key_set: Mapping[str, Any], site: str, issuer: str,
                     now: float, leeway: int = 5,
                     min_liveness: str | None = None) -> dict[str, Any]:
    """Check an assertion against the site's JWK set; returns its claims or raises.

    This is what the embedding business runs (see server/demo.py). It also must keep the
    ``jti`` values it has seen until ``exp`` to refuse a replayed assertion. Besides the
    signature and the registered claims it refuses an ``aud`` that is not exactly the site
    (a list, even one naming it), and an ``exp`` further ahead than the server ever issues
    (``ASSERTION_TTL_SECONDS`` after ``iat``, or after ``now``): such a token was not made
    by this server's rules and would outlive the jti memory the business keeps.
    ``min_liveness``: a face assertion must report at least this liveness check (a business
    that wants more than a site's policy, or wants it checked twice).
    """
    try:
        keys = KeySet.import_key_set(dict(key_set))  # type: ignore[arg-type]
        token_obj = jwt.decode(token, keys, algorithms=[ALGORITHM])
        registry = jwt.JWTClaimsRegistry(
            now=int(now), leeway=leeway, iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": site}, sub={"essential": True},
            exp={"essential": True}, iat={"essential": True}, jti={"essential": True})
        registry.validate(token_obj.claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise AssertionInvalid(f"assertion rejected: {type(exc).__name__}") from exc
    claims = dict(token_obj.claims)
    if not isinstance(claims.get("aud"), str):
        raise AssertionInvalid("assertion rejected: aud")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int) or isinstance(exp, bool) or (
            exp - iat > ASSERTION_TTL_SECONDS or exp > now + ASSERTION_TTL_SECONDS + leeway):
        raise AssertionInvalid("assertion rejected: lifetime")
    amr = claims.get("amr")
    if not isinstance(amr, list) or len(amr) != 1 or amr[0] not in METHODS:
        raise AssertionInvalid("assertion rejected: amr")
    liveness = claims.get(LIVENESS_CLAIM)
    if liveness is not None and liveness not in LIVENESS_POLICIES:
        raise AssertionInvalid(f"assertion rejected: {LIVENESS_CLAIM}")
    if min_liveness is not None and amr == ["face"] and not liveness_covers(
            liveness or "off", min_liveness):
        raise AssertionInvalid(f"assertion rejected: {LIVENESS_CLAIM} weaker than "
                               f"{min_liveness}")
    if token_obj.header.get("typ") != "JWT":
        raise AssertionInvalid("assertion rejected: typ")
    return claims


# --- session tokens --------------------------------------------------------------------------
_METHOD_BYTE = {"face": 1, "pwd": 2, "otp": 3, "staff": 4}
_WITHDRAW_ONLY = 0x10  # flag: minted by a withdraw-purpose verify, good for nothing else


@dataclass(frozen=True)
class Session:
    method: str  # face | pwd
    issued_at: int
    withdraw_only: bool


def _session_mac(key: bytes, site: str, user: str, generation: int, head: bytes) -> bytes:
    msg = b"\x00".join([b"OwnFace/1 session", site.encode(), user.encode(),
                        generation.to_bytes(8, "big"), head])
    return hmac.new(key, msg, hashlib.sha256).digest()


def mint_session(key: bytes, site: str, user: str, method: str, now: float,
                 generation: int = 0, *, withdraw_only: bool = False,
                 ttl: int = SESSION_TTL_SECONDS) -> bytes:
    """A session for one account's current ``generation`` (``users.generation``): a
    password change, withdrawal or erasure bumps it, and every older session stops working."""
    flags = _METHOD_BYTE[method] | (_WITHDRAW_ONLY if withdraw_only else 0)
    head = int(now + ttl).to_bytes(8, "big") + bytes([flags])
    token = head + _session_mac(key, site, user, generation, head)
    assert len(token) == SESSION_BYTES
    return token


def check_session(key: bytes, token: bytes | None, site: str, user: str, now: float,
                  generation: int = 0) -> Session:
    """What the session was minted for; raises AssertionInvalid when it does not fit."""
    if token is None or len(token) != SESSION_BYTES:
        raise AssertionInvalid("no session")
    head, mac = token[:9], token[9:]
    if not hmac.compare_digest(mac, _session_mac(key, site, user, generation, head)):
        raise AssertionInvalid("session for another account or an older generation")
    expires = int.from_bytes(head[:8], "big")
    if expires <= now:
        raise AssertionInvalid("session expired")
    for name, byte in _METHOD_BYTE.items():
        if head[8] & 0x0F == byte:
            return Session(name, expires - SESSION_TTL_SECONDS,
                           bool(head[8] & _WITHDRAW_ONLY))
    raise AssertionInvalid("session method")  # pragma: no cover (covered by the MAC)
