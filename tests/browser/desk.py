"""A front-desk site for the kiosk and sign tests: portable mode, enrolment tickets on, in
the live server's database (the server sees a new site at once)."""

from __future__ import annotations

from dataclasses import dataclass

from server import db, desk, keys, sites
from server.defaults import NOTICES
from server.settings import Settings
from server.store import Store


@dataclass(frozen=True)
class DeskSite:
    name: str
    admin: str  # the site's admin token
    kiosk: str  # the site's kiosk token
    staff: str  # a staff code


def desk_site(settings: Settings, name: str, alternative: str = "code") -> DeskSite:
    engine = db.make_engine(settings.database)
    try:
        admin = sites.add_site(engine, name, [settings.public_origin], "portable",
                               enrol_tickets=True)
        for language, text in NOTICES.items():
            sites.set_notice(engine, name, language, text)
        server_keys = keys.load(settings)
        store = Store(engine=engine, keys=server_keys, issuer="ownface")
        site = store.site(name)
        desk.set_kiosk(engine, site.id, "room", alternative)
        staff, _ = desk.issue(store, site, "staff", label="front desk")
        return DeskSite(name, admin, server_keys.kiosk_token(name), staff)
    finally:
        engine.dispose()
