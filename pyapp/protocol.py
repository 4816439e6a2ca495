"""OwnFace wire protocol, version 1: the ONLY module that defines wire formats and constants.

The server imports this module; the browser app imports it (it is part of the pyapp wheel);
JavaScript never repeats any of it. Every message is a JSON object with exactly the fields
listed here (unknown fields are an error), bytes travel as unpadded base64url, and each
message carries ``"v": 1``.

Flows (all under ``API_PREFIX``):

* consent:   POST consent            ConsentGrant    -> ConsentReceipt
* enrol:     POST challenge          ChallengeRequest(purpose="enrol") -> Challenge
             POST evaluate           EvaluateRequest -> Evaluation   (the OPRF step)
             POST enrol              EnrolRequest    -> Enrolled
* verify:    POST challenge          ChallengeRequest(purpose="verify") -> Challenge
             POST evaluate           EvaluateRequest -> Evaluation
             POST verify             VerifyRequest   -> Verified (a signed assertion)
* withdraw:  POST consent/withdraw   Withdraw        -> Withdrawn  (erases the template at once)
* password:  POST password/set       PasswordSet     -> PasswordSaved
             POST password/verify    PasswordVerify  -> Verified
             POST password/change    PasswordChange  -> PasswordSaved
* erase:     POST erase              Erase           -> Erased  (everything about one user)
* pop-up:    POST handoff            HandoffPut      -> Handoff  (the widget's pop-up's result)
             POST handoff/take       HandoffTake     -> Handoff  (the frame that opened it asks)
* public:    GET  sites/{site}/notice?lang=xx        -> Notice
             GET  sites/{site}/jwks.json             -> the site's assertion keys (JWK set)
* admin:     GET  sites/{site}/audit?format=json|csv (Authorization: Bearer <admin token>)

Every refusal is an ``ErrorBody`` with a stable ``error`` code from ``ERRORS``. Requests that
change or erase an account carry the ``session`` token a successful enrol, verify or password
verify returned (short-lived, bound to site and user).

Nothing here can carry an image, an embedding or its bits: the only biometric-derived values
on the wire are the blinded OPRF element (uniformly random to the server), a public key, a
signature and, in portable mode only, the helper data of the fuzzy commitment.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeVar

from pyapp.errors import ProtocolError

VERSION = 1
API_PREFIX = "/api/v1"

# --- sizes of the fixed-length values (bytes) ------------------------------------------------
ELEMENT_BYTES = 32  # a ristretto255 group element (RFC 9496 encoding)
SCALAR_BYTES = 32  # a ristretto255 scalar
PUBLIC_KEY_BYTES = 32  # an Ed25519 public key (RFC 8032)
SIGNATURE_BYTES = 64  # an Ed25519 signature
NONCE_BYTES = 32  # a server challenge nonce
CHALLENGE_ID_BYTES = 16
CONSENT_ID_BYTES = 16
SHA256_HEX_CHARS = 64
MAX_HELPER_BYTES = 1024  # helper data of one protected template (portable mode only)
MAX_BODY_BYTES = 16 * 1024  # no request body may be larger
SESSION_BYTES = 41  # a session token: expiry (8) + method (1) + MAC (32), opaque to clients
TICKET_BYTES = 40  # an enrolment ticket: expiry (8, big-endian seconds) + HMAC-SHA256 (32)
MAX_ASSERTION_CHARS = 4096  # a compact JWS
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 128
MAX_NOTICE_CHARS = 20_000
MAX_FIELD_CHARS = 100  # a field name echoed in an ErrorBody (longer ones are shortened)

# --- parameters shared by client and server --------------------------------------------------
OPRF_SUITE = "ristretto255-SHA512"  # RFC 9497, mode 0x00 (OPRF)
OPRF_MODE = 0x00
SIGNATURE_SCHEME = "Ed25519"
KEY_INFO = b"OwnFace/1 signing key"  # HKDF info for the signing-key seed
CHALLENGE_TTL_SECONDS = 120
FACE_ATTEMPT_LIMIT = 5  # failed face attempts before the face path locks (password still works)

Purpose = Literal["enrol", "verify", "withdraw"]
PURPOSES: tuple[str, ...] = ("enrol", "verify", "withdraw")
StorageMode = Literal["device", "portable"]
STORAGE_MODES: tuple[str, ...] = ("device", "portable")
# where a device-mode template is kept in the browser (localStorage), per site and user; the
# server names the key in the page so that the page knows a returning person before Python
DEVICE_TEMPLATE_PREFIX = "ownface/1/template"
CONSENT_PURPOSE = "face_verification"
PIPELINES: tuple[str, ...] = ("v1", "v2")  # face pipelines a template can be made with
# A site's presentation-attack policy, weakest first: what the app must run on the device
# before it answers a challenge (passive: MiniFASNet on every usable frame; active: a head
# turn judged from the landmarks). The client reports the policy it ran; the server refuses
# a weaker one and signs what was reported as the assertion's ``client_liveness`` claim.
LIVENESS_POLICIES: tuple[str, ...] = ("off", "passive", "passive+active")
LIVENESS_CLAIM = "client_liveness"  # reported by the client: only as trustworthy as the device


def default_liveness(storage_mode: str) -> str:
    """A new site's policy: portable-mode (kiosk) sites ask for the active check too."""
    return "passive+active" if storage_mode == "portable" else "passive"


def liveness_covers(ran: str, required: str) -> bool:
    """Whether a check the client ran is at least the one a site requires."""
    return LIVENESS_POLICIES.index(ran) >= LIVENESS_POLICIES.index(required)

# the JWT "amr" values an assertion can carry: a face, a password, a one-time code the
# business issued (typed at a kiosk), a staff member's confirmation at a kiosk
Method = Literal["face", "pwd", "otp", "staff"]
METHODS: tuple[str, ...] = ("face", "pwd", "otp", "staff")
SESSION_TTL_SECONDS = 600
MAX_TICKET_TTL_SECONDS = 86_400  # a ticket expiring later than this is refused
TICKET_LABEL = b"OwnFace/1 enrolment ticket"
ASSERTION_TTL_SECONDS = 120
REAUTH_SECONDS = 300  # a face session this fresh may change a password without the old one

# --- the widget: the business's page, the OwnFace frame in it, and the OwnFace pop-up --------
# The glue gets all of this from ``widget_glue()`` (rendered into the frame's page and into
# widget.js by the server); JavaScript repeats none of it.
WIDGET_SOURCE = "ownface"  # every message between the frame and the business's page says so
# the events the business's page hears (docs/widget.md); "resize" only sizes the frame
WIDGET_EVENTS: tuple[str, ...] = ("ready", "verified", "cancelled", "fallback", "error",
                                  "declined", "withdrawn")
WIDGET_RESIZE = "resize"
# where the face path runs, as "ready" tells the page: in the frame (it has storage and is
# cross-origin isolated), or in a first-party OwnFace pop-up (it is not)
FACE_PATHS: tuple[str, ...] = ("frame", "popup")
WIDGET_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")  # chosen by the business's page
HANDOFF_BYTES = 32  # the frame's secret that names one pop-up's result
HANDOFF_SECONDS = 600  # how long a frame waits for its pop-up, and a result is kept
HANDOFF_POLL_MS = 1500  # how often the waiting frame asks
HANDOFF_OUTCOMES: tuple[str, ...] = ("verified", "cancelled")
HANDOFF_STATES: tuple[str, ...] = ("pending", *HANDOFF_OUTCOMES)

# --- refusals: error code -> (HTTP status, message) -----------------------------------------
ERRORS: dict[str, tuple[int, str]] = {
    "bad_request": (400, "The request is malformed."),
    "invalid_element": (400, "The blinded element is not a valid group element."),
    "challenge_invalid": (400, "The challenge is unknown, expired, already used or for "
                               "another site, user, purpose or origin."),
    "wrong_mode": (400, "This site's storage mode does not allow that."),
    "other_alternative": (400, "This site's kiosks offer the other alternative to the face "
                               "(ownface site set-kiosk)."),
    "invalid_key": (400, "The public key is not a usable Ed25519 key."),
    "not_verified": (401, "Not verified."),
    "session_invalid": (401, "The session is missing, expired or for another account."),
    "unauthorized": (401, "Send the site's admin token: Authorization: Bearer <token>."),
    "reauth_required": (401, "Confirm it is you first: give your current password, or verify "
                             "your face again."),
    "forbidden": (403, "Not allowed."),
    "origin_not_allowed": (403, "This origin is not allowed for this site."),
    "kiosk_required": (403, "This site keeps templates for its own kiosks: verify at one of "
                            "them, or use your password."),
    "no_consent": (403, "There is no active consent for face verification."),
    "ticket_required": (403, "This site sets up new accounts only from its own pages: open "
                             "this from the site, signed in, or ask the site for a new link."),
    "not_found": (404, "No such endpoint."),
    "unknown_site": (404, "No such site."),
    "liveness_required": (403, "This site requires a liveness check that this app did not "
                               "run: update or reload the page, or use a password."),
    "no_notice": (404, "This site has no notice in that language."),
    "method_not_allowed": (405, "Method not allowed."),
    "notice_mismatch": (409, "The notice shown is not the site's notice of that version."),
    "already_enrolled": (409, "This account already has a template; verify first to replace "
                              "it."),
    "too_large": (413, "The request body is too large."),
    "unsupported_media_type": (415, "Send JSON (Content-Type: application/json)."),
    "weak_password": (422, "The password is too weak."),
    "rate_limited": (429, "Too many requests from this address; try again later."),
    "handoff_used": (409, "This pop-up's result was already handed over."),
}

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_CODE = re.compile(r"[a-z_]{1,40}")


# --- encodings -------------------------------------------------------------------------------
def b64encode(data: bytes) -> str:
    """Unpadded base64url, the only byte encoding on the wire."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: object, field: str, size: int | None = None, max_size: int | None = None
              ) -> bytes:
    """Strictly decode unpadded base64url, checking the decoded length."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ProtocolError(field, "must be unpadded base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(field, "must be unpadded base64url text") from exc
    if b64encode(data) != text:
        raise ProtocolError(field, "non-canonical base64url")
    if size is not None and len(data) != size:
        raise ProtocolError(field, f"must decode to exactly {size} bytes, got {len(data)}")
    if max_size is not None and len(data) > max_size:
        raise ProtocolError(field, f"must decode to at most {max_size} bytes")
    return data


def signed_message(purpose: str, site: str, user: str, origin: str, challenge_id: bytes,
                   nonce: bytes) -> bytes:
    """The exact bytes a client signs to answer a challenge.

    Binding purpose, site, user, origin and the single-use nonce makes a signature useless
    for any other challenge, account, site or web origin. Fields cannot contain NUL (their
    patterns exclude it), so the encoding is injective.
    """
    parts = [b"OwnFace/1", purpose.encode(), site.encode(), user.encode(), origin.encode(),
             challenge_id, nonce]
    return b"\x00".join(parts)


# --- field checks ----------------------------------------------------------------------------
def shown_field(name: str) -> str:
    """A field name as an error may echo it: at most ``MAX_FIELD_CHARS`` characters."""
    name = str(name)
    return name if len(name) <= MAX_FIELD_CHARS else name[:MAX_FIELD_CHARS - 3] + "..."


def _text(value: object, field: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProtocolError(field, f"must be {what}")
    return value


def check_id(value: object, field: str) -> str:
    return _text(value, field, _ID, "1-64 characters of A-Z a-z 0-9 . _ - (not starting "
                 "with . _ -)")


def device_template_key(site: str, user: str) -> str:
    return f"{DEVICE_TEMPLATE_PREFIX}/{check_id(site, 'site')}/{check_id(user, 'user')}"


def check_origin(value: object, field: str = "origin") -> str:
    return _text(value, field, _ORIGIN, "a web origin such as https://example.com")


def _choice(value: object, field: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ProtocolError(field, f"must be one of {', '.join(choices)}")
    return value


# --- messages --------------------------------------------------------------------------------
M = TypeVar("M", bound="Message")


@dataclass(frozen=True, repr=False)
class Message:
    """Base of every wire message: strict parsing, canonical JSON, a repr without values."""

    KIND: ClassVar[str] = "message"

    @classmethod
    def parse(cls: type[M], data: object) -> M:
        if not isinstance(data, Mapping):
            raise ProtocolError(cls.KIND, "must be a JSON object")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - {"v", *names})
        if unknown:
            raise ProtocolError(shown_field(unknown[0]), "unknown field")
        version = data.get("v")
        if type(version) is not int or version != VERSION:  # not True, not 1.0
            raise ProtocolError("v", f"unsupported protocol version (this server speaks {VERSION})")
        missing = [n for n in names if n not in data and not cls._optional(n)]
        if missing:
            raise ProtocolError(missing[0], "missing")
        return cls(**cls._convert(data))

    @classmethod
    def _optional(cls, name: str) -> bool:
        return False

    @classmethod
    def _convert(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = b64encode(value) if isinstance(value, bytes) else value
        return out

    def __repr__(self) -> str:  # values may be key material or helper data: never print them
        return f"{type(self).__name__}(<{len(fields(self))} fields>)"


@dataclass(frozen=True, repr=False)
class ConsentGrant(Message):
    """Record consent. For an account that has a credential it needs the holder's session;
    for a new one, on a site that requires enrolment tickets, the ticket."""

    KIND: ClassVar[str] = "consent"
    site: str
    user: str
    purpose: str
    notice_version: int
    notice_sha256: str
    language: str
    session: bytes | None = None
    ticket: bytes | None = None

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name in ("session", "ticket")

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        version = d["notice_version"]
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**31:
            raise ProtocolError("notice_version", "must be a positive integer")
        return {
            "site": check_id(d["site"], "site"),
            "user": check_id(d["user"], "user"),
            "purpose": _choice(d["purpose"], "purpose", (CONSENT_PURPOSE,)),
            "notice_version": version,
            "notice_sha256": _text(d["notice_sha256"], "notice_sha256", _HEX64,
                                   "64 lowercase hex digits"),
            "language": _text(d["language"], "language", _LANGUAGE, "a language tag like en"),
            "session": _session(d.get("session"), optional=True),
            "ticket": _ticket(d.get("ticket")),
        }


@dataclass(frozen=True, repr=False)
class ChallengeRequest(Message):
    KIND: ClassVar[str] = "challenge request"
    site: str
    user: str
    purpose: str

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
                "purpose": _choice(d["purpose"], "purpose", PURPOSES)}


@dataclass(frozen=True, repr=False)
class Challenge(Message):
    KIND: ClassVar[str] = "challenge"
    challenge_id: bytes
    nonce: bytes
    expires_at: int
    helper: bytes | None = None  # portable mode, verify only

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name == "helper"

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        helper = d.get("helper")
        return {
            "challenge_id": b64decode(d["challenge_id"], "challenge_id", CHALLENGE_ID_BYTES),
            "nonce": b64decode(d["nonce"], "nonce", NONCE_BYTES),
            "expires_at": _timestamp(d["expires_at"], "expires_at"),
            "helper": None if helper is None else b64decode(helper, "helper",
                                                            max_size=MAX_HELPER_BYTES),
        }


@dataclass(frozen=True, repr=False)
class EvaluateRequest(Message):
    KIND: ClassVar[str] = "evaluate request"
    site: str
    user: str
    challenge_id: bytes
    blinded: bytes

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
            "challenge_id": b64decode(d["challenge_id"], "challenge_id", CHALLENGE_ID_BYTES),
            "blinded": b64decode(d["blinded"], "blinded", ELEMENT_BYTES),
        }


@dataclass(frozen=True, repr=False)
class Evaluation(Message):
    KIND: ClassVar[str] = "evaluation"
    evaluated: bytes

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"evaluated": b64decode(d["evaluated"], "evaluated", ELEMENT_BYTES)}


@dataclass(frozen=True, repr=False)
class EnrolRequest(Message):
    KIND: ClassVar[str] = "enrol request"
    site: str
    user: str
    challenge_id: bytes
    consent_id: bytes
    public_key: bytes
    signature: bytes
    helper: bytes | None = None  # portable mode only; device mode keeps it on the device
    session: bytes | None = None  # required when the account has a template or a password
    ticket: bytes | None = None  # a new account on a site that requires enrolment tickets
    pipeline: str = "v1"  # the face pipeline that made the template (absent: v1's clients)
    liveness: str = "off"  # the liveness check the client ran (LIVENESS_POLICIES)

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name in ("helper", "session", "ticket", "pipeline", "liveness")

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        helper = d.get("helper")
        return {
            "site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
            "challenge_id": b64decode(d["challenge_id"], "challenge_id", CHALLENGE_ID_BYTES),
            "consent_id": b64decode(d["consent_id"], "consent_id", CONSENT_ID_BYTES),
            "public_key": b64decode(d["public_key"], "public_key", PUBLIC_KEY_BYTES),
            "signature": b64decode(d["signature"], "signature", SIGNATURE_BYTES),
            "helper": None if helper is None else b64decode(helper, "helper",
                                                            max_size=MAX_HELPER_BYTES),
            "session": _session(d.get("session"), optional=True),
            "ticket": _ticket(d.get("ticket")),
            "pipeline": _choice(d.get("pipeline", "v1"), "pipeline", PIPELINES),
            "liveness": _choice(d.get("liveness", "off"), "liveness", LIVENESS_POLICIES),
        }


@dataclass(frozen=True, repr=False)
class VerifyRequest(Message):
    KIND: ClassVar[str] = "verify request"
    site: str
    user: str
    challenge_id: bytes
    signature: bytes
    liveness: str = "off"  # the liveness check the client ran (LIVENESS_POLICIES)

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name == "liveness"

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
            "challenge_id": b64decode(d["challenge_id"], "challenge_id", CHALLENGE_ID_BYTES),
            "signature": b64decode(d["signature"], "signature", SIGNATURE_BYTES),
            "liveness": _choice(d.get("liveness", "off"), "liveness", LIVENESS_POLICIES),
        }


def _timestamp(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**40:
        raise ProtocolError(field, "must be a Unix time in whole seconds")
    return value


def _session(value: object, optional: bool = False) -> bytes | None:
    if value is None and optional:
        return None
    return b64decode(value, "session", SESSION_BYTES)


def _ticket(value: object) -> bytes | None:
    return None if value is None else b64decode(value, "ticket", TICKET_BYTES)


def ticket_mac(key: bytes, site: str, user: str, expires_at: int) -> bytes:
    """HMAC-SHA256 of an enrolment ticket: the site's ticket key over label, site, user and
    expiry (NUL-separated; ids cannot contain NUL)."""
    message = b"\x00".join([TICKET_LABEL, site.encode(), user.encode(),
                            expires_at.to_bytes(8, "big")])
    return hmac.new(key, message, hashlib.sha256).digest()


def make_ticket(key: bytes, site: str, user: str, expires_at: int) -> str:
    """An enrolment ticket as the business backend issues it (the wire form: base64url).

    It lets the first credential (face or password) of a new ``user`` account be created on
    a site that requires tickets; ``key`` is the site's ticket key (``ownface site
    ticket-key NAME``). Any language can make one: 8-byte big-endian expiry || ticket_mac.
    """
    return b64encode(expires_at.to_bytes(8, "big") + ticket_mac(key, site, user, expires_at))


def _password(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(field, "must be text")
    if not MIN_PASSWORD_CHARS <= len(value) <= MAX_PASSWORD_CHARS:
        raise ProtocolError(field, f"must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} "
                                   "characters")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ProtocolError(field, "must not contain control characters")
    return value


def _str_list(value: object, field: str, pattern: re.Pattern[str], what: str) -> list[str]:
    if not isinstance(value, list) or len(value) > 64:
        raise ProtocolError(field, "must be a list")
    return [_text(v, field, pattern, what) for v in value]


@dataclass(frozen=True, repr=False)
class ConsentReceipt(Message):
    KIND: ClassVar[str] = "consent receipt"
    consent_id: bytes
    granted_at: int

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"consent_id": b64decode(d["consent_id"], "consent_id", CONSENT_ID_BYTES),
                "granted_at": _timestamp(d["granted_at"], "granted_at")}


@dataclass(frozen=True, repr=False)
class Notice(Message):
    """The text a site shows before consent; its sha256 goes into ``ConsentGrant``."""

    KIND: ClassVar[str] = "notice"
    site: str
    version: int
    language: str
    text: str
    sha256: str
    languages: list[str]
    storage_mode: str
    liveness: str = "passive"  # the site's liveness policy (what the app must run)

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name == "liveness"

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        text = d["text"]
        if not isinstance(text, str) or not 0 < len(text) <= MAX_NOTICE_CHARS:
            raise ProtocolError("text", "must be non-empty text")
        version = d["version"]
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**31:
            raise ProtocolError("version", "must be a positive integer")
        return {
            "site": check_id(d["site"], "site"), "version": version,
            "language": _text(d["language"], "language", _LANGUAGE, "a language tag like en"),
            "text": text,
            "sha256": _text(d["sha256"], "sha256", _HEX64, "64 lowercase hex digits"),
            "languages": _str_list(d["languages"], "languages", _LANGUAGE, "language tags"),
            "storage_mode": _choice(d["storage_mode"], "storage_mode", STORAGE_MODES),
            "liveness": _choice(d.get("liveness", "passive"), "liveness", LIVENESS_POLICIES),
        }


def notice_sha256(text: str) -> str:
    """The digest a client reports for the exact notice text it showed (UTF-8, as served)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, repr=False)
class Enrolled(Message):
    KIND: ClassVar[str] = "enrolled"
    storage_mode: str
    assertion: str
    session: bytes

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"storage_mode": _choice(d["storage_mode"], "storage_mode", STORAGE_MODES),
                "assertion": _assertion(d["assertion"]), "session": _session(d["session"])}


@dataclass(frozen=True, repr=False)
class Verified(Message):
    """Success of a face or password verification: an assertion for the business's backend
    (a JWS to verify against the site's JWK set) and a session token for this widget. A
    verification for withdrawal (purpose ``withdraw``) has no assertion: it is no login, and
    its session serves only withdrawal and erasure."""

    KIND: ClassVar[str] = "verified"
    method: str
    session: bytes
    expires_at: int
    assertion: str | None = None

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name == "assertion"

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        assertion = d.get("assertion")
        return {"method": _choice(d["method"], "method", METHODS),
                "assertion": None if assertion is None else _assertion(assertion),
                "session": _session(d["session"]),
                "expires_at": _timestamp(d["expires_at"], "expires_at")}


def _assertion(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_ASSERTION_CHARS or not _JWS.fullmatch(
            value):
        raise ProtocolError("assertion", "must be a compact JWS")
    return value


@dataclass(frozen=True, repr=False)
class _Account(Message):
    """A request about one account: with the user's session, or the site's admin token in
    the Authorization header (then ``session`` is left out)."""

    site: str
    user: str
    session: bytes | None = None

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name == "session"

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
                "session": _session(d.get("session"), optional=True)}


@dataclass(frozen=True, repr=False)
class Withdraw(_Account):
    """Withdraw consent and erase the template at once."""

    KIND: ClassVar[str] = "withdraw"


@dataclass(frozen=True, repr=False)
class Withdrawn(Message):
    KIND: ClassVar[str] = "withdrawn"
    withdrawn_at: int
    erased: list[str]

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"withdrawn_at": _timestamp(d["withdrawn_at"], "withdrawn_at"),
                "erased": _str_list(d["erased"], "erased", _CODE, "record names")}


@dataclass(frozen=True, repr=False)
class Erase(_Account):
    """Erase everything about one user."""

    KIND: ClassVar[str] = "erase"


@dataclass(frozen=True, repr=False)
class Erased(Message):
    KIND: ClassVar[str] = "erased"
    erased: list[str]

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"erased": _str_list(d["erased"], "erased", _CODE, "record names")}


@dataclass(frozen=True, repr=False)
class PasswordSet(Message):
    """Set the password alternative. An account that already has a template or a password
    needs a session; a new account does not, except a ticket where the site requires one."""

    KIND: ClassVar[str] = "password set"
    site: str
    user: str
    password: str
    session: bytes | None = None
    ticket: bytes | None = None  # a new account on a site that requires enrolment tickets

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name in ("session", "ticket")

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
                "password": _password(d["password"], "password"),
                "session": _session(d.get("session"), optional=True),
                "ticket": _ticket(d.get("ticket"))}


@dataclass(frozen=True, repr=False)
class PasswordVerify(Message):
    KIND: ClassVar[str] = "password verify"
    site: str
    user: str
    password: str

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        password = d["password"]  # any length is checked (and fails) the same way as a wrong one
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
            raise ProtocolError("password", f"must be text of at most {MAX_PASSWORD_CHARS} "
                                            "characters")
        return {"site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
                "password": password}


@dataclass(frozen=True, repr=False)
class PasswordChange(Message):
    """Change the password: the holder's session and either the current password or a face
    session at most ``REAUTH_SECONDS`` old."""

    KIND: ClassVar[str] = "password change"
    site: str
    user: str
    session: bytes
    new_password: str
    current_password: str | None = None

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name == "current_password"

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        current = d.get("current_password")
        if current is not None and (not isinstance(current, str)
                                    or len(current) > MAX_PASSWORD_CHARS):
            raise ProtocolError("current_password", f"must be text of at most "
                                                    f"{MAX_PASSWORD_CHARS} characters")
        return {"site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
                "session": _session(d["session"]),
                "new_password": _password(d["new_password"], "new_password"),
                "current_password": current}


@dataclass(frozen=True, repr=False)
class PasswordSaved(Message):
    KIND: ClassVar[str] = "password saved"
    session: bytes

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"session": _session(d["session"])}


@dataclass(frozen=True, repr=False)
class ErrorBody(Message):
    """Every refusal. ``field`` names the offending field of a malformed request."""

    KIND: ClassVar[str] = "error"
    error: str
    message: str
    field: str | None = None

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name == "field"

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        code = _choice(d["error"], "error", tuple(ERRORS))
        message = d["message"]
        if not isinstance(message, str) or len(message) > 500:
            raise ProtocolError("message", "must be text")
        field = d.get("field")
        if field is not None and (not isinstance(field, str) or len(field) > MAX_FIELD_CHARS):
            raise ProtocolError("field", "must be text")
        return {"error": code, "message": message, "field": field}


# --- kiosks (front desks and gates) ------------------------------------------------------------
# How a person says who they are at a site's kiosk (per site): a room or flat number and a
# name, or a code the business gave them; and the site's equal alternative to the face: a
# one-time code the business issued, or a staff member's confirmation.
KIOSK_IDENTITIES: tuple[str, ...] = ("room", "code")
KIOSK_ALTERNATIVES: tuple[str, ...] = ("code", "staff")
KIOSK_IDLE_SECONDS = 60  # a kiosk left alone this long returns to its start screen
# Desk codes (a person's one-time code, a staff code): letters and digits that cannot be
# mistaken for each other, typed in any case, with or without spaces and dashes.
DESK_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
DESK_CODE_CHARS = 8  # one-time codes (about 40 bits; single use, kiosk token, expiry)
STAFF_CODE_CHARS = 12
DESK_CODE_TTL_SECONDS = 86_400
_ROOM = re.compile(r"[A-Za-z0-9]{1,12}")
_DESK_CODE = re.compile(f"[{DESK_CODE_ALPHABET}]{{{DESK_CODE_CHARS},{STAFF_CODE_CHARS}}}")


def desk_code(value: object, field: str = "code") -> str:
    """A typed desk code in its canonical form (upper case, no spaces or dashes)."""
    if not isinstance(value, str) or len(value) > 40:
        raise ProtocolError(field, "must be a code of letters and digits")
    canonical = value.upper().replace("-", "").replace(" ", "")
    if not _DESK_CODE.fullmatch(canonical):
        raise ProtocolError(field, f"must be {DESK_CODE_CHARS} to {STAFF_CODE_CHARS} letters "
                                   "and digits")
    return canonical


def room_user(room: str, name: str) -> str:
    """The account id a kiosk of a ``room`` site uses for a room (or flat) and a name: the
    room as typed and a digest of the name (NFKC, case and spacing ignored), so the
    business's backend derives the same id when it books the guest. The name itself never
    reaches the server."""
    room = room.strip()
    if not _ROOM.fullmatch(room):
        raise ProtocolError("room", "must be 1 to 12 letters and digits")
    plain = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    if not plain or len(plain) > 100:
        raise ProtocolError("name", "must be 1 to 100 characters")
    digest = hashlib.sha256(f"OwnFace/1 room user\x00{plain}".encode()).hexdigest()[:16]
    return f"room-{room.upper()}-{digest}"


@dataclass(frozen=True, repr=False)
class _DeskRequest(Message):
    """A code typed at a site's kiosk for one account (``Authorization: Kiosk <token>``)."""

    site: str
    user: str
    code: str

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"site": check_id(d["site"], "site"), "user": check_id(d["user"], "user"),
                "code": desk_code(d["code"])}


@dataclass(frozen=True, repr=False)
class DeskCode(_DeskRequest):
    """The alternative to the face at a kiosk: a one-time code the business issued to this
    person (used once)."""

    KIND: ClassVar[str] = "desk code"


@dataclass(frozen=True, repr=False)
class StaffConfirm(_DeskRequest):
    """The alternative to the face at a kiosk: a staff member confirms who the person is
    with a staff code."""

    KIND: ClassVar[str] = "staff confirm"


@dataclass(frozen=True, repr=False)
class StaffTicket(_DeskRequest):
    """Enrolment at a kiosk, only with staff present: a staff code buys an enrolment ticket
    for one account."""

    KIND: ClassVar[str] = "staff ticket"


@dataclass(frozen=True, repr=False)
class DeskTicket(Message):
    KIND: ClassVar[str] = "desk ticket"
    ticket: bytes
    expires_at: int

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"ticket": b64decode(d["ticket"], "ticket", TICKET_BYTES),
                "expires_at": _timestamp(d["expires_at"], "expires_at")}
@dataclass(frozen=True, repr=False)
class HandoffPut(Message):
    """The pop-up's result for the widget frame that opened it: the assertion of a
    verification, or that the person cancelled. ``handoff`` is the frame's secret, which the
    pop-up got after the ``#`` of its address; the server keeps only its sha256."""

    KIND: ClassVar[str] = "handoff"
    site: str
    handoff: bytes
    outcome: str
    assertion: str | None = None

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name == "assertion"

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        outcome = _choice(d["outcome"], "outcome", HANDOFF_OUTCOMES)
        assertion = d.get("assertion")
        if (assertion is None) != (outcome == "cancelled"):
            raise ProtocolError("assertion", "comes with a verified outcome, and only then")
        return {"site": check_id(d["site"], "site"),
                "handoff": b64decode(d["handoff"], "handoff", HANDOFF_BYTES),
                "outcome": outcome,
                "assertion": None if assertion is None else _assertion(assertion)}


@dataclass(frozen=True, repr=False)
class HandoffTake(Message):
    """The frame asks for its pop-up's result (given once, then forgotten)."""

    KIND: ClassVar[str] = "handoff take"
    site: str
    handoff: bytes

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        return {"site": check_id(d["site"], "site"),
                "handoff": b64decode(d["handoff"], "handoff", HANDOFF_BYTES)}


@dataclass(frozen=True, repr=False)
class Handoff(Message):
    """Where a pop-up's result stands: ``pending``, or its outcome (with the assertion and
    its method when verified)."""

    KIND: ClassVar[str] = "handoff state"
    state: str
    method: str | None = None
    assertion: str | None = None

    @classmethod
    def _optional(cls, name: str) -> bool:
        return name in ("method", "assertion")

    @classmethod
    def _convert(cls, d: Mapping[str, Any]) -> dict[str, Any]:
        method, assertion = d.get("method"), d.get("assertion")
        return {"state": _choice(d["state"], "state", HANDOFF_STATES),
                "method": None if method is None else _choice(method, "method", METHODS),
                "assertion": None if assertion is None else _assertion(assertion)}


# Every message class, by name: the OpenAPI schema and the docs are generated from this.
MESSAGES: tuple[type[Message], ...] = (
    ConsentGrant, ConsentReceipt, Notice, ChallengeRequest, Challenge, EvaluateRequest,
    Evaluation, EnrolRequest, Enrolled, VerifyRequest, Verified, Withdraw, Withdrawn, Erase,
    Erased, PasswordSet, PasswordVerify, PasswordChange, PasswordSaved, ErrorBody,
    DeskCode, StaffConfirm, StaffTicket, DeskTicket,
    Erased, PasswordSet, PasswordVerify, PasswordChange, PasswordSaved, HandoffPut,
    HandoffTake, Handoff, ErrorBody,
)


# --- endpoints: each request message, the path it is POSTed to, and what comes back ----------
ENDPOINTS: dict[type[Message], tuple[str, type[Message]]] = {
    ConsentGrant: ("consent", ConsentReceipt),
    Withdraw: ("consent/withdraw", Withdrawn),
    Erase: ("erase", Erased),
    ChallengeRequest: ("challenge", Challenge),
    EvaluateRequest: ("evaluate", Evaluation),
    EnrolRequest: ("enrol", Enrolled),
    VerifyRequest: ("verify", Verified),
    PasswordSet: ("password/set", PasswordSaved),
    PasswordVerify: ("password/verify", Verified),
    PasswordChange: ("password/change", PasswordSaved),
    DeskCode: ("kiosk/code", Verified),
    StaffConfirm: ("kiosk/staff", Verified),
    StaffTicket: ("kiosk/enrol-ticket", DeskTicket),
    HandoffPut: ("handoff", Handoff),
    HandoffTake: ("handoff/take", Handoff),
}
# requests a portable site's kiosk sends with its kiosk token (Authorization: Kiosk <token>)
KIOSK_REQUESTS: tuple[type[Message], ...] = (ChallengeRequest, DeskCode, StaffConfirm,
                                             StaffTicket)
NOTICE_PATH = "sites/{site}/notice"  # GET ?lang=<language> -> Notice
JWKS_PATH = "sites/{site}/jwks.json"  # GET -> the site's JWK set


def widget_glue() -> dict[str, Any]:
    """What the widget's glue (widget.js on the business's page, the frame's and the
    pop-up's app.js) needs to know of the protocol, as JSON: the message source and kinds,
    the nonce's shape, and the hand-off between pop-up and frame (paths, sizes, timing; the
    bodies are ``HandoffPut`` and ``HandoffTake``)."""
    return {"v": VERSION, "source": WIDGET_SOURCE, "events": list(WIDGET_EVENTS),
            "resize": WIDGET_RESIZE, "paths": list(FACE_PATHS),
            "nonce": WIDGET_NONCE.pattern,
            "handoff": {"put": f"{API_PREFIX}/{ENDPOINTS[HandoffPut][0]}",
                        "take": f"{API_PREFIX}/{ENDPOINTS[HandoffTake][0]}",
                        "bytes": HANDOFF_BYTES, "seconds": HANDOFF_SECONDS,
                        "poll_ms": HANDOFF_POLL_MS, "states": list(HANDOFF_STATES)}}
