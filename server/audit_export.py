"""Audit export per site (JSON or CSV), authorised by the site's admin token.

The export holds the append-only event log (time, event, pseudonymous subject, detail: never
a user id, never biometric data) and a summary: events by kind, how many accounts enrolled a
face, how many set a password, and the share of accounts that chose the password
alternative (set a password and never enrolled a face) among all accounts that set up either.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections import Counter
from typing import Any

from sqlalchemy import select
from starlette.responses import JSONResponse, Response

from pyapp.errors import Refused
from server.store import Site, Store
from server.tables import audit

MAX_EVENTS = 100_000


def _authorised(expected_sha256: str, header: str) -> bool:
    if header[:7].lower() != "bearer ":
        return False
    digest = hashlib.sha256(header[7:].encode()).hexdigest()
    return hmac.compare_digest(digest, expected_sha256)


def summarise(events: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = Counter(e["event"] for e in events)
    enrolled = {e["subject"] for e in events if e["event"] == "enrolled"}
    password = {e["subject"] for e in events if e["event"] == "password_set"}
    set_up = enrolled | password
    chose_password = password - enrolled
    # a login's detail is its method, then for a face the liveness check reported
    logins = Counter((e["detail"] or "").split(" ")[0] or None for e in events
                     if e["event"] == "verified")
    total_logins = sum(logins.values())
    return {
        "events": dict(sorted(kinds.items())),
        "accounts_set_up": len(set_up),
        "accounts_enrolled_face": len(enrolled),
        "accounts_with_password": len(password),
        "accounts_password_only": len(chose_password),
        "share_password_alternative": round(len(chose_password) / len(set_up), 4)
        if set_up else 0.0,
        "logins_by_method": dict(sorted(logins.items())),
        "share_logins_password": round(logins.get("pwd", 0) / total_logins, 4)
        if total_logins else 0.0,
    }


def admin_site(store: Store, site_name: str, auth_header: str) -> Site:
    """The site, for a request that carries its admin token (401 without one, 403 wrong)."""
    site = store.site(site_name)
    if not auth_header:
        raise Refused("unauthorized")
    if not _authorised(site.admin_token_sha256, auth_header):
        raise Refused("forbidden")
    return site


def export(store: Store, site_name: str, auth_header: str, fmt: str) -> Response:
    site = admin_site(store, site_name, auth_header)
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit.c.id, audit.c.at, audit.c.event, audit.c.subject,
                                   audit.c.detail).where(audit.c.site_id == site.id)
                            .order_by(audit.c.id).limit(MAX_EVENTS)).all()
        conn.rollback()
    events = [{"id": r.id, "at": r.at, "event": r.event, "subject": r.subject,
               "detail": r.detail} for r in rows]
    summary = summarise(events)
    headers = {"Cache-Control": "no-store"}
    if fmt == "json":
        return JSONResponse({"site": site.name, "summary": summary, "events": events},
                            headers=headers)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "at", "event", "subject", "detail"])
    for e in events:
        writer.writerow([e["id"], f"{e['at']:.3f}", e["event"], e["subject"] or "",
                         e["detail"] or ""])
    for key, value in summary.items():
        if not isinstance(value, dict):
            writer.writerow(["", "", f"summary:{key}", "", value])
    headers["Content-Disposition"] = f'attachment; filename="{site.name}-audit.csv"'
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
