"""What every flow step works with: the database, the server's keys, the policy and the
clock (one :class:`Store`, made by ``server.api.build``), the sites, and the audit log.

The flows live beside it: ``server.faces`` (challenge, evaluate, enrol, verify),
``server.passwords``, ``server.consent``; accounts, sessions and tickets in
``server.accounts``; counters in ``server.limits``. Refusals raise ``pyapp.errors.Refused``
with a code from ``pyapp.protocol.ERRORS``.

Sites are cached for a few seconds (every request names one), in a bounded cache of sites
that exist: a name that is no site is looked up every time and never remembered, so
requests naming random sites cannot grow the server.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from pyapp.errors import ProtocolError, Refused
from pyapp.protocol import check_id
from server import clients, limits
from server import statements as q
from server.hashing import Hasher
from server.keys import ServerKeys
from server.rawdb import Raw, Tx, sql
from server.settings import ROOT


def scheme_file(models_dir: Path, pipeline: str) -> Path:
    """The binarisation scheme of a face pipeline (models/binarise-<pipeline>.json): the
    shape of a decoy helper on a site without templates yet."""
    served = models_dir / f"binarise-{pipeline}.json"
    return served if served.is_file() else ROOT / "models" / served.name


_SITE_CACHE_SECONDS = 5.0
SITE_CACHE_SIZE = 1024  # sites kept in memory per process (all of them on most servers)
_SITE = ('SELECT id, name, origins, storage_mode, admin_token_sha256, key_generation, '
         'enrol_tickets, liveness FROM sites WHERE name = :name')


@functools.lru_cache(maxsize=4096)
def _client_tag(key: bytes, address: str) -> str:
    return hmac.new(key, clients.bucket(address).encode(), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Site:
    id: int
    name: str
    origins: tuple[str, ...]
    storage_mode: str
    admin_token_sha256: str
    key_generation: int
    enrol_tickets: bool = False  # a new account's first credential needs a ticket
    liveness: str = "passive"  # the liveness check the app must run (LIVENESS_POLICIES)


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
    face_pipeline: str = "v2"  # the pipeline new templates use (Settings.face_pipeline)
    scheme_file: Path = ROOT / "models" / "binarise-v2.json"
    _sites: OrderedDict[str, tuple[float, Site]] = field(default_factory=OrderedDict,
                                                         repr=False)
    _sites_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _chores: dict[str, float] = field(default_factory=dict, repr=False)
    raw: Raw = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.raw = Raw(self.engine)

    # --- sites -------------------------------------------------------------------------------
    def site(self, name: str) -> Site:
        now = time.monotonic()
        with self._sites_lock:
            cached = self._sites.get(name)
            if cached is not None and now - cached[0] <= _SITE_CACHE_SECONDS:
                self._sites.move_to_end(name)
                return cached[1]
        try:
            check_id(name, "site")
        except ProtocolError as exc:
            raise Refused("unknown_site") from exc
        with self.raw.read() as conn:
            row = sql(conn, _SITE, {"name": name}).fetchone()
        with self._sites_lock:
            if row is None:
                self._sites.pop(name, None)  # misses are never remembered
                raise Refused("unknown_site")
            found = Site(int(row[0]), str(row[1]), tuple(json.loads(row[2])), str(row[3]),
                         str(row[4]), int(row[5]), bool(row[6]), str(row[7]))
            self._sites[name] = (now, found)
            self._sites.move_to_end(name)
            while len(self._sites) > SITE_CACHE_SIZE:
                self._sites.popitem(last=False)
        return found

    def due(self, chore: str, every: float) -> bool:
        """True at most once per ``every`` seconds per chore and process (housekeeping)."""
        now = time.monotonic()
        with self._sites_lock:
            if now - self._chores.get(chore, -1e18) < every:
                return False
            self._chores[chore] = now
        return True

    def forget_sites(self) -> None:
        with self._sites_lock:
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

    # --- clients and the audit log -----------------------------------------------------------
    def limit_keys(self, method: str, site: Site, user: str, address: str) -> limits.Keys:
        """The counters of one attempt; the client appears in them only as a keyed hash of
        its address (or /64), never as the address itself."""
        return limits.Keys.of(method, site.name, user,
                              _client_tag(self.keys.derived("client tag"), address))

    def log(self, conn: Tx, site: Site, event: str, user: str | None = None,
            detail: str | None = None) -> None:
        subject = None if user is None else self.keys.pseudonym(site.name, user)
        sql(conn, q.AUDIT, {"site": site.id, "at": self.clock(), "event": event,
                            "subject": subject, "detail": detail})
