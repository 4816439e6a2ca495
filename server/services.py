"""What the server-rendered pages need from the core, built on the API's Store.

The password path of the app page posts an HTML form (so it works before, or without, any
script); these functions give it the same checks, limits and answers as the JSON API.
"""

from __future__ import annotations

from pyapp import protocol
from pyapp.errors import Refused
from server import accounts, consent, passwords
from server.pages import Services
from server.store import Store


def build(store: Store) -> Services:
    def check_origin(site: str, origin: str) -> None:
        if origin:
            store.check_origin(store.site(site), origin)

    def password_verify(req: protocol.PasswordVerify, address: str, origin: str
                        ) -> protocol.Verified | None:
        check_origin(req.site, origin)
        generation = passwords.verify_password(store, req, address)
        if generation is None:
            return None
        return accounts.login(store, store.site(req.site), req.user, "pwd", generation)

    def password_set(req: protocol.PasswordSet, address: str, origin: str
                     ) -> protocol.PasswordSaved:
        check_origin(req.site, origin)
        return passwords.set_password(store, req, address)

    def origins(site: str) -> list[str]:
        try:
            return list(store.site(site).origins)
        except Refused:
            return []

    def has_site(site: str) -> bool:
        try:
            store.site(site)
        except Refused:
            return False
        return True

    return Services(notice=lambda site, lang: consent.notice(store, site, lang),
                    origins=origins, has_site=has_site, password_verify=password_verify,
                    password_set=password_set)
