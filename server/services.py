"""What the server-rendered pages need from the core, built on the API's Store.

The password path of the app page posts an HTML form (so it works before, or without, any
script); these functions give it the same checks, limits and answers as the JSON API.
"""

from __future__ import annotations

from pyapp import protocol
from pyapp.errors import Refused
from server import consent, passwords
from server.assertions import issue, mint_session
from server.pages import Services
from server.store import Store


def verified(store: Store, site_name: str, user: str, method: str) -> protocol.Verified:
    """A success: the signed assertion for the business and a session for the widget."""
    site = store.site(site_name)
    now = store.clock()
    token, expires = issue(store.keys.signing_key(site.name, site.key_generation),
                           store.issuer, site.name, user, method, now)
    session = mint_session(store.keys.session_mac_key(), site.name, user, method, now)
    return protocol.Verified(method=method, assertion=token, session=session,
                             expires_at=expires)


def build(store: Store) -> Services:
    def check_origin(site: str, origin: str) -> None:
        if origin:
            store.check_origin(store.site(site), origin)

    def password_verify(req: protocol.PasswordVerify, address: str, origin: str
                        ) -> protocol.Verified | None:
        check_origin(req.site, origin)
        if passwords.verify_password(store, req, address):
            return verified(store, req.site, req.user, "pwd")
        return None

    def password_set(req: protocol.PasswordSet, address: str, origin: str
                     ) -> protocol.PasswordSaved:
        check_origin(req.site, origin)
        return passwords.set_password(store, req)

    def origins(site: str) -> list[str]:
        try:
            return list(store.site(site).origins)
        except Refused:
            return []

    return Services(notice=lambda site, lang: consent.notice(store, site, lang),
                    origins=origins, password_verify=password_verify,
                    password_set=password_set)
