"""The device's own storage of protected templates (device-bound mode).

The helper-data blob (never an image, an embedding or its bits) is kept in the browser's
``localStorage`` of the OwnFace origin, under one key per site and user. Withdrawing
consent deletes it here as well as on the server. A kiosk of a portable site also keeps its
kiosk token here (set once by opening the app with ``#kiosk=<token>``).
"""

from __future__ import annotations

import json
from typing import Any

from pyapp import protocol
from pyapp.browser import dom
from pyapp.errors import ProtocolError

KIOSK_PREFIX = "ownface/1/kiosk"
CONSENT_PREFIX = "ownface/1/consent"
_key = protocol.device_template_key


def _consent_key(site: str, user: str) -> str:
    return f"{CONSENT_PREFIX}/{protocol.check_id(site, 'site')}/{protocol.check_id(user, 'user')}"


class TemplateStore:
    def __init__(self, storage: Any = None) -> None:
        self._storage = storage if storage is not None else dom.window.localStorage

    def load(self, site: str, user: str) -> bytes | None:
        text = self._storage.getItem(_key(site, user))
        if text is None:
            return None
        try:
            return protocol.b64decode(str(text), "template", max_size=protocol.MAX_HELPER_BYTES)
        except ProtocolError:
            self.erase(site, user)  # damaged: useless, and must not linger
            return None

    def save(self, site: str, user: str, template: bytes) -> None:
        self._storage.setItem(_key(site, user), protocol.b64encode(template))

    def erase(self, site: str, user: str) -> bool:
        """Delete the template (and the consent noted with it); True if there was one."""
        key = _key(site, user)
        had = self._storage.getItem(key) is not None
        self._storage.removeItem(key)
        self._storage.removeItem(_consent_key(site, user))
        return had

    # --- the consent this person gave on this device (for the returning screen) -----------
    def save_consent(self, site: str, user: str, version: int, sha256: str, date: str) -> None:
        """Note which notice this person agreed to here, and when (their own record is on
        the server; this only lets the app greet them without asking again)."""
        self._storage.setItem(_consent_key(site, user), json.dumps(
            {"version": version, "sha256": sha256, "date": date}))

    def consent(self, site: str, user: str) -> tuple[int, str, str] | None:
        """(notice version, its sha256, date) of the consent noted here, if any."""
        text = self._storage.getItem(_consent_key(site, user))
        try:
            data = json.loads(str(text)) if text is not None else None
            return (int(data["version"]), str(data["sha256"]), str(data["date"])) \
                if data is not None else None
        except (ValueError, TypeError, KeyError):
            self._storage.removeItem(_consent_key(site, user))
            return None

    # --- portable sites: the kiosk's own credential ----------------------------------------
    def kiosk_token(self, site: str) -> str | None:
        token = self._storage.getItem(f"{KIOSK_PREFIX}/{protocol.check_id(site, 'site')}")
        return None if token is None else str(token)

    def save_kiosk_token(self, site: str, token: str) -> None:
        self._storage.setItem(f"{KIOSK_PREFIX}/{protocol.check_id(site, 'site')}", token)


def take_kiosk_token(site: str) -> None:
    """``#kiosk=<token>`` provisions this browser as one of a portable site's kiosks: the
    token moves from the address into storage (a fragment never reaches the server)."""
    fragment = str(dom.window.location.hash)
    if fragment.startswith("#kiosk="):
        TemplateStore().save_kiosk_token(site, fragment[len("#kiosk="):])
        dom.window.history.replaceState(None, "", str(dom.window.location.pathname)
                                        + str(dom.window.location.search))
