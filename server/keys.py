"""The server's own secrets, kept OUT of the database and out of the data directory.

One 32-byte master secret is read from ``OWNFACE_SERVER_KEY`` (unpadded base64url; settings
put it in ``settings.extra["server_key"]``) or from the key file: ``OWNFACE_KEY_FILE``, by
default ``server-key.json`` in a directory of its own beside the data directory
(``./data-keys/`` for ``./data``), mode 0700, never inside it: a copy of the data directory
(a backup, a support bundle) must not carry the key that opens what is in it. The file is
created with mode 0600 on first start (several workers starting at once agree on one file
because it is published with an atomic ``link``); a key file or directory that others may
read or write is refused at start-up. A key file left in the data directory by an earlier
version is moved out on the first start. Every working key is derived from the master with
HKDF-SHA256 and a distinct label, so a database dump holds none of them:

* OPRF seed per site (``DeriveKeyPair`` then gives a key per account, see ``server.oprf``);
* the helper-data encryption key (AES-256-GCM, portable mode);
* the Ed25519 assertion-signing key per site and key generation (``sites.key_generation``);
* the session-token MAC key, the audit pseudonym key, the decoy-helper key, the client-tag
  key (``derived``).

Losing the master secret makes every face template useless (users re-enrol or use their
password); leaking it together with the database opens every portable-mode helper, lets
anyone check face guesses offline and mint assertions (docs/security.md).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pyapp.errors import CryptoError
from pyapp.protocol import b64decode, b64encode
from server.settings import Settings, SettingsError

KEY_FILE = "server-key.json"
MASTER_BYTES = 32
_NONCE_BYTES = 12


def _hkdf(master: bytes, label: str, *parts: str, length: int = 32) -> bytes:
    info = "\x00".join(("OwnFace/1 " + label, *parts)).encode()
    return HKDF(algorithm=SHA256(), length=length, salt=None, info=info).derive(master)


@functools.lru_cache(maxsize=256)
def _derived(master: bytes, label: str, *parts: str) -> bytes:
    return _hkdf(master, label, *parts)


@functools.lru_cache(maxsize=8192)
def _oprf_secret(master: bytes, site: str, user: str) -> bytes:
    from server import oprf

    return oprf.derive_key_pair(_derived(master, "oprf seed", site),
                                oprf.user_info(site, user))[0]


@functools.lru_cache(maxsize=256)
def _signing_key(master: bytes, site: str, generation: int) -> Ed25519PrivateKey:
    seed = _hkdf(master, "assertion key", site, str(generation))
    return Ed25519PrivateKey.from_private_bytes(seed)


@dataclass(frozen=True, repr=False)
class ServerKeys:
    """Derives every working key from the master secret. Its repr shows no key."""

    master: bytes

    def __post_init__(self) -> None:
        if len(self.master) != MASTER_BYTES:
            raise CryptoError("the server master key is 32 bytes")

    def __repr__(self) -> str:
        return "ServerKeys(<secret>)"

    # Derived keys are cached per process (they are as secret as the master it holds anyway).
    def derived(self, label: str, *parts: str) -> bytes:
        """A 32-byte key for one purpose (``label``), never used for another."""
        return _derived(self.master, label, *parts)

    def oprf_seed(self, site: str) -> bytes:
        return _derived(self.master, "oprf seed", site)

    def oprf_secret(self, site: str, user: str) -> bytes:
        """The account's OPRF secret scalar (RFC 9497 DeriveKeyPair from the site's seed)."""
        return _oprf_secret(self.master, site, user)

    def signing_key(self, site: str, generation: int) -> Ed25519PrivateKey:
        return _signing_key(self.master, site, generation)

    def session_mac_key(self) -> bytes:
        return _derived(self.master, "session mac")

    def pseudonym(self, site: str, user: str) -> str:
        """A stable per-site pseudonym for the audit log: no user id is logged."""
        key = _derived(self.master, "audit pseudonym", site)
        return hmac.new(key, user.encode(), hashlib.sha256).hexdigest()[:32]

    def kiosk_token(self, site: str) -> str:
        """The secret a portable site's kiosks present to be given helper data (never stored:
        derived from the master key; ``ownface site kiosk-token NAME`` prints it)."""
        return b64encode(_derived(self.master, "kiosk token", site))

    def ticket_key(self, site: str) -> bytes:
        """The key a site's backend signs enrolment tickets with (never stored: derived from
        the master key; ``ownface site ticket-key NAME`` prints it)."""
        return _derived(self.master, "enrolment ticket key", site)

    def kiosk_ok(self, site: str, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(presented.encode(), self.kiosk_token(site).encode())

    # --- helper data at rest ---------------------------------------------------------------
    def _aead(self) -> AESGCM:
        return AESGCM(_hkdf(self.master, "helper key"))

    @staticmethod
    def _aad(site: str, user: str) -> bytes:
        return b"OwnFace/1 helper\x00" + site.encode() + b"\x00" + user.encode()

    def seal_helper(self, site: str, user: str, helper: bytes, nonce: bytes | None = None
                    ) -> bytes:
        """AES-256-GCM, AAD = site + user: nonce (12) || ciphertext || tag (16)."""
        nonce = os.urandom(_NONCE_BYTES) if nonce is None else nonce
        return nonce + self._aead().encrypt(nonce, helper, self._aad(site, user))

    def open_helper(self, site: str, user: str, sealed: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag

        try:
            return self._aead().decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:],
                                        self._aad(site, user))
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("stored helper data does not decrypt for this account") from exc


def key_path(settings: Settings) -> Path:
    """Where the key file is: ``key_file`` if set, else ``<data_dir>-keys/server-key.json``."""
    configured = settings.extra.get("key_file")
    if configured:
        return Path(str(configured)).expanduser()
    data = Path(settings.data_dir)
    return data.parent / f"{data.name}-keys" / KEY_FILE


def load(settings: Settings) -> ServerKeys:
    """The master secret from the environment, else the key file (created when absent)."""
    given = settings.extra.get("server_key")
    if given:
        try:
            return ServerKeys(b64decode(str(given), "OWNFACE_SERVER_KEY", MASTER_BYTES))
        except ValueError as exc:
            raise SettingsError("OWNFACE_SERVER_KEY must be 32 bytes as unpadded base64url "
                                "(make one with: python -c \"import os,base64;print(base64."
                                "urlsafe_b64encode(os.urandom(32)).rstrip(b'=').decode())\")"
                                ) from exc
    path = key_path(settings).absolute()
    data = Path(settings.data_dir).absolute()
    if path.parent == data or data in path.parents:
        raise SettingsError(f"the key file {path} is inside the data directory {data}: keep it "
                            "apart (OWNFACE_KEY_FILE), so that a copy of the data does not "
                            "carry the key that opens it")
    _move_legacy(data / KEY_FILE, path)
    return ServerKeys(_load_or_create(path))


def _move_legacy(legacy: Path, path: Path) -> None:
    """A key file an earlier version kept in the data directory moves to its own place."""
    if not legacy.exists() or path.exists():
        return
    _private_dir(path.parent)
    try:
        os.link(legacy, path)  # atomic; a racing worker's link fails and it reads this one
        legacy.unlink()
    except FileExistsError:
        pass
    except FileNotFoundError:  # another worker moved it first
        pass
    else:
        print(f"ownface: moved the server key out of the data directory: {legacy} -> {path}",
              file=sys.stderr)


def _private_dir(directory: Path) -> None:
    if not directory.exists():
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)


def _check_private(path: Path) -> None:
    """Refuse key material that others may read, or a directory they may write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SettingsError(f"the server key file {path} has mode {mode:o}: others may read "
                            f"it; run: chmod 600 {path}")
    dir_mode = stat.S_IMODE(path.parent.stat().st_mode)
    if dir_mode & 0o022:
        raise SettingsError(f"the directory {path.parent} of the server key has mode "
                            f"{dir_mode:o}: others may replace the key; run: chmod 700 "
                            f"{path.parent}")


def _load_or_create(path: Path) -> bytes:
    if not path.exists():
        _private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"version": 1, "master": b64encode(os.urandom(MASTER_BYTES))}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic: the first worker wins, the others read its file
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    try:
        _check_private(path)
        data = json.loads(path.read_text())
        return b64decode(data["master"], "master", MASTER_BYTES)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SettingsError(f"the server key file {path} is unreadable or malformed") from exc
