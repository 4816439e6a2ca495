"""An in-process, pure-Python stand-in for the OwnFace server's enrol/verify endpoints.

It implements pyapp.ports.Api from the RFC 9497 server half in pyapp.template.oprf
(BlindEvaluate with a per-account key from DeriveKeyPair) and verifies Ed25519 signatures with
`cryptography`, as the real server does (inside Pyodide, where `cryptography` is not loaded,
with `ecdsa`).
Every message crosses a JSON round trip through pyapp.protocol's strict parser. The
real-server interop test lives with the server.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ecdsa import BadSignatureError, Ed25519, VerifyingKey

from pyapp import protocol
from pyapp.errors import Refused
from pyapp.template import oprf


def verify_ed25519(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 verification with `cryptography` as the server does; where it is missing
    (Pyodide), with `ecdsa`'s RFC 8032 verifier. Imported by name so that these browser-
    runnable tests are not left out of the Pyodide run."""
    try:
        ed25519 = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ed25519")
        invalid = importlib.import_module("cryptography.exceptions").InvalidSignature
    except ImportError:
        try:
            return bool(VerifyingKey.from_string(public_key, curve=Ed25519).verify(
                signature, message))
        except BadSignatureError:
            return False
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except invalid:
        return False
    return True


M = TypeVar("M", bound=protocol.Message)


def wire(message: protocol.Message, kind: type[M]) -> M:
    """Serialise and strictly re-parse, as the HTTP hop would."""
    return kind.parse(message.to_json())


@dataclass
class Account:
    public_key: bytes
    helper: bytes | None


@dataclass
class StandInServer:
    origin: str
    mode: str = "device"
    random: Callable[[int], bytes] = os.urandom
    now: int = 1_800_000_000
    oprf_seed: bytes = field(default_factory=lambda: os.urandom(32))
    challenges: dict[bytes, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[tuple[str, str], Account] = field(default_factory=dict)
    evaluations: list[bytes] = field(default_factory=list)  # every blinded element seen

    def oprf_key(self, site: str, user: str) -> int:
        secret, _ = oprf.derive_key_pair(self.oprf_seed, f"{site}\x00{user}".encode())
        return secret

    async def challenge(self, request: protocol.ChallengeRequest) -> protocol.Challenge:
        request = wire(request, protocol.ChallengeRequest)
        challenge_id, nonce = self.random(16), self.random(32)
        self.challenges[challenge_id] = {"site": request.site, "user": request.user,
                                         "purpose": request.purpose, "nonce": nonce,
                                         "evaluated": False}
        account = self.accounts.get((request.site, request.user))
        helper = account.helper if account and request.purpose == "verify" else None
        return wire(protocol.Challenge(challenge_id, nonce, self.now + 120, helper),
                    protocol.Challenge)

    def _claim(self, challenge_id: bytes, site: str, user: str, purpose: str | None
               ) -> dict[str, Any]:
        entry = self.challenges.get(challenge_id)
        if entry is None or entry["site"] != site or entry["user"] != user or (
                purpose is not None and entry["purpose"] != purpose):
            raise Refused("challenge_invalid")
        return entry

    async def evaluate(self, request: protocol.EvaluateRequest) -> protocol.Evaluation:
        request = wire(request, protocol.EvaluateRequest)
        entry = self._claim(request.challenge_id, request.site, request.user, None)
        if entry["evaluated"]:
            raise Refused("challenge_invalid")
        entry["evaluated"] = True
        self.evaluations.append(request.blinded)
        evaluated = oprf.blind_evaluate(self.oprf_key(request.site, request.user),
                                        request.blinded)
        return wire(protocol.Evaluation(evaluated), protocol.Evaluation)

    def _check(self, public_key: bytes, signature: bytes, purpose: str, site: str, user: str,
               challenge_id: bytes) -> None:
        entry = self.challenges.pop(challenge_id)  # single use, whatever the outcome
        message = protocol.signed_message(purpose, site, user, self.origin, challenge_id,
                                          entry["nonce"])
        if not verify_ed25519(public_key, signature, message):
            raise Refused("not_verified")

    async def enrol(self, request: protocol.EnrolRequest) -> protocol.Enrolled:
        request = wire(request, protocol.EnrolRequest)
        self._claim(request.challenge_id, request.site, request.user, "enrol")
        if (request.helper is None) != (self.mode == "device"):
            raise Refused("wrong_mode")
        self._check(request.public_key, request.signature, "enrol", request.site,
                    request.user, request.challenge_id)
        self.accounts[(request.site, request.user)] = Account(request.public_key,
                                                              request.helper)
        return wire(protocol.Enrolled(self.mode, "e.y.s", bytes(protocol.SESSION_BYTES)),
                    protocol.Enrolled)

    async def verify(self, request: protocol.VerifyRequest) -> protocol.Verified:
        request = wire(request, protocol.VerifyRequest)
        self._claim(request.challenge_id, request.site, request.user, "verify")
        account = self.accounts.get((request.site, request.user))
        if account is None:
            raise Refused("not_verified")
        self._check(account.public_key, request.signature, "verify", request.site,
                    request.user, request.challenge_id)
        return wire(protocol.Verified(method="face", assertion="e.y.s",
                                      session=bytes(protocol.SESSION_BYTES),
                                      expires_at=self.now + 120), protocol.Verified)
