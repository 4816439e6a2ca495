"""The per-site report for the operator (``ownface site report NAME``, and
``GET /api/v1/sites/{site}/report`` with the site's admin token).

What an operator needs for its own obligations (docs/compliance.md, "the operator's part"):
how many people hold a face template here (the CAC/MPS rules require a filing with the
cyberspace authority once a site stores the facial data of more than 100,000 people; the
report warns from 80,000 on), consents given and withdrawn, the alternatives people used,
the site's PAD policy and retention, and what retention erased. Counts only: no user id, no
pseudonym, nothing biometric.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from server import desk
from server.store import Site, Store
from server.tables import audit, consents, passwords, sites, templates, users

FILING_THRESHOLD = 100_000  # people whose facial data a site stores (CAC/MPS rules)
FILING_NEAR = 0.8  # the report warns from this share of the threshold on


def filing(people: int) -> dict[str, Any]:
    if people > FILING_THRESHOLD:
        status, say = "over", ("over the threshold: the CAC/MPS rules require a filing with "
                               "the cyberspace authority at or above the city level")
    elif people >= FILING_NEAR * FILING_THRESHOLD:
        status, say = "near", (f"{FILING_THRESHOLD - people} people below the threshold: "
                               "prepare the filing with the cyberspace authority now")
    else:
        status, say = "below", "below the threshold"
    return {"threshold": FILING_THRESHOLD, "people": people, "status": status,
            "message": say}


def pad_policy(conn: Any, site: Site) -> str:
    """The site's PAD policy (``sites.liveness`` once the site policy is in the schema;
    before that every site runs the default: passive, and kiosks passive+active)."""
    if "liveness" in sites.c:
        return str(conn.execute(select(sites.c["liveness"]).where(sites.c.id == site.id))
                   .scalar_one())
    return "passive+active" if site.storage_mode == "portable" else "passive"


def site_report(store: Store, site: Site) -> dict[str, Any]:
    kiosk = desk.settings(store.engine, site.id)
    with store.engine.connect() as conn:
        mine = users.c.site_id == site.id
        faces = conn.execute(select(func.count(), func.count(templates.c.helper_sealed),
                                    func.min(func.coalesce(templates.c.last_used_at,
                                                           templates.c.created_at)))
                             .select_from(templates.join(users)).where(mine)).one()
        accounts = conn.execute(select(func.count()).select_from(users).where(mine)).scalar()
        with_password = conn.execute(select(func.count()).select_from(passwords.join(users))
                                     .where(mine)).scalar()
        active = conn.execute(select(func.count()).select_from(consents.join(users)).where(
            mine, consents.c.withdrawn_at.is_(None))).scalar()
        here = audit.c.site_id == site.id
        events: dict[str, int] = dict(conn.execute(  # type: ignore[arg-type]
            select(audit.c.event, func.count()).where(here).group_by(audit.c.event)).all())
        methods: dict[str | None, int] = {}
        for detail, count in conn.execute(  # a face login's detail also names its liveness
                select(audit.c.detail, func.count()).where(here, audit.c.event == "verified")
                .group_by(audit.c.detail)).all():
            method = (detail or "").split(" ")[0] or None
            methods[method] = methods.get(method, 0) + int(count)
        pad = pad_policy(conn, site)
        conn.rollback()
    people = int(faces[0])
    oldest = faces[2]
    return {
        "site": site.name,
        "storage_mode": site.storage_mode,
        "people_with_face_template": people,
        "helpers_on_server": int(faces[1]),
        "accounts": int(accounts or 0),
        "accounts_with_password": int(with_password or 0),
        "consents": {"given": int(events.get("consent_granted", 0)),
                     "withdrawn": int(events.get("consent_withdrawn", 0)),
                     "active": int(active or 0),
                     "ended_by_retention": int(events.get("retention_erased", 0))},
        "verifications": {str(k or "face"): int(v) for k, v in sorted(methods.items(),
                                                                        key=str)},
        "alternatives_used": sum(v for k, v in methods.items() if k not in ("face", None)),
        "erasures": int(events.get("erased", 0)),
        "pad_policy": pad,
        "retention_days": kiosk.retention_days,
        "oldest_last_use": None if oldest is None else int(oldest),
        "kiosk": {"identity": kiosk.identity, "alternative": kiosk.alternative},
        "filing": filing(people),
    }


def render(report: dict[str, Any]) -> str:
    """The report as text for the terminal."""
    c, f = report["consents"], report["filing"]
    lines = [
        f"Site {report['site']} ({report['storage_mode']} mode)",
        f"  people holding a face template: {report['people_with_face_template']}"
        f" (helper data on the server: {report['helpers_on_server']})",
        f"  accounts: {report['accounts']}, with a password: "
        f"{report['accounts_with_password']}",
        f"  consents: {c['given']} given, {c['withdrawn']} withdrawn, {c['active']} active, "
        f"{c['ended_by_retention']} ended by retention",
        "  verifications by method: " + (", ".join(
            f"{k} {v}" for k, v in report["verifications"].items()) or "none"),
        f"  alternatives used: {report['alternatives_used']}",
        f"  PAD policy: {report['pad_policy']}",
        f"  retention: {report['retention_days']} days after last use",
        f"  kiosk: identity by {report['kiosk']['identity']}, alternative: "
        f"{report['kiosk']['alternative']}",
        f"  CAC filing threshold ({f['threshold']} people): {f['status']}: {f['message']}",
    ]
    return "\n".join(lines)
