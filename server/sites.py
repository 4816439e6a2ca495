"""``ownface site ...``: create and edit sites (one business's deployment).

    ownface site add NAME --origin https://shop.example [--origin ...] [--mode device|portable]
                          [--open-enrolment] [--liveness off|passive|passive+active]
    ownface site list
    ownface site show NAME
    ownface site set-origins NAME --origin ... [--origin ...]
    ownface site set-notice NAME --lang en --file notice.txt [--version N]
    ownface site set-mode NAME device|portable [--drop-helpers]
    ownface site set-liveness NAME off|passive|passive+active
                                          (the presentation-attack check the app must run;
                                           stores a notice version that says so)
    ownface site rotate-key NAME          (new assertion-signing key generation)
    ownface site new-admin-token NAME     (replaces the audit/erase admin token)
    ownface site set-tickets NAME on|off  (new accounts need an enrolment ticket, or not)
    ownface site ticket-key NAME          (the key the site's backend makes tickets with)
    ownface site reopen NAME USER         (a user id that had a face or password may be set
                                           up again without a ticket: after checking who asks)
    ownface site set-retention NAME --days N   (templates unused this long are erased;
                                                default 365)
    ownface site set-kiosk NAME [--identity room|code] [--alternative code|staff]
    ownface site issue-code NAME USER [--hours H]   (a person's one-time code for the kiosk)
    ownface site staff-code NAME --label WHO [--days D]   (a staff code: confirms people and
                                                           allows enrolment at the kiosk)
    ownface site revoke-staff NAME --label WHO
    ownface site signage NAME [--out DIR] [--base URL]   (A4, A3 signs and a counter card,
                                                          en and zh, with a QR code)
    ownface site report NAME [--json]     (people with a template, consents, alternatives,
                                           PAD policy, retention, the CAC filing threshold)

``add`` and ``new-admin-token`` print the site's admin token once; only its sha256 is stored.
A new site's liveness policy is ``passive`` (``passive+active`` for portable-mode kiosk
sites) unless ``--liveness`` says otherwise; its notice texts carry a paragraph saying so
(server/notices.py). A site made by ``add`` requires enrolment tickets unless
``--open-enrolment`` is given: then whoever names a new user id could give it the first
face or password. Running workers notice site changes within a few seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from pyapp.errors import ProtocolError, Refused
from pyapp.protocol import (
    DESK_CODE_TTL_SECONDS,
    KIOSK_ALTERNATIVES,
    KIOSK_IDENTITIES,
    LIVENESS_POLICIES,
    MAX_NOTICE_CHARS,
    STORAGE_MODES,
    b64encode,
    check_id,
    check_origin,
    default_liveness,
    notice_sha256,
)
from server import db, notices
from server.settings import Settings
from server.tables import notices as notice_rows
from server.tables import sites, templates, users


class SiteError(Exception):
    """An admin command cannot be carried out; the message says why."""


def _origins(values: list[str]) -> list[str]:
    try:
        return sorted({check_origin(v.rstrip("/"), "origin") for v in values})
    except ProtocolError as exc:
        raise SiteError(f"{exc}") from exc


def _site_id(conn: Any, name: str) -> int:
    found = conn.execute(select(sites.c.id).where(sites.c.name == name)).scalar()
    if found is None:
        raise SiteError(f"no site named {name!r}")
    return int(found)


def add_site(engine: Engine, name: str, origins: list[str], mode: str = "device",
             enrol_tickets: bool = False, liveness: str | None = None) -> str:
    """Create a site; returns its admin token (shown once)."""
    liveness = liveness or default_liveness(mode)
    if liveness not in LIVENESS_POLICIES:
        raise SiteError(f"liveness must be one of {', '.join(LIVENESS_POLICIES)}")
    try:
        check_id(name, "site")
    except ProtocolError as exc:
        raise SiteError(str(exc)) from exc
    if mode not in STORAGE_MODES:
        raise SiteError(f"mode must be one of {', '.join(STORAGE_MODES)}")
    token = b64encode(os.urandom(32))
    with db.transaction(engine) as conn:
        if conn.execute(select(sites.c.id).where(sites.c.name == name)).first():
            raise SiteError(f"a site named {name!r} exists")
        conn.execute(insert(sites).values(
            name=name, origins=json.dumps(_origins(origins)), storage_mode=mode,
            admin_token_sha256=hashlib.sha256(token.encode()).hexdigest(), key_generation=1,
            created_at=time.time(), enrol_tickets=enrol_tickets, liveness=liveness))
    return token


def set_tickets(engine: Engine, name: str, required: bool) -> None:
    """Whether a new account's first credential needs an enrolment ticket."""
    with db.transaction(engine) as conn:
        conn.execute(update(sites).where(sites.c.id == _site_id(conn, name)).values(
            enrol_tickets=required))


def reopen(engine: Engine, name: str, user: str) -> str:
    """Admin action: the account's first credential may be created again without a ticket."""
    from server import accounts, keys

    try:
        check_id(user, "user")
    except ProtocolError as exc:
        raise SiteError(str(exc)) from exc
    with engine.connect() as conn:
        site_id = _site_id(conn, name)
        conn.rollback()
    done = accounts.reopen(engine, keys.load(Settings.from_env()), site_id, name, user,
                           time.time())
    return (f"{user} at {name} may be set up again (the next face or password needs no ticket)"
            if done else f"{user} at {name} was not closed: nothing to do")


def set_origins(engine: Engine, name: str, origins: list[str]) -> None:
    with db.transaction(engine) as conn:
        conn.execute(update(sites).where(sites.c.id == _site_id(conn, name)).values(
            origins=json.dumps(_origins(origins))))


def set_notice(engine: Engine, name: str, language: str, text: str,
               version: int | None = None) -> int:
    """Store a notice text, with the paragraph that tells the site's liveness policy added or
    replaced (server/notices.py); returns its version (default: the next one)."""
    if not text.strip() or len(text) > MAX_NOTICE_CHARS:
        raise SiteError(f"a notice is 1 to {MAX_NOTICE_CHARS} characters")
    with db.transaction(engine) as conn:
        sid = _site_id(conn, name)
        policy = conn.execute(select(sites.c.liveness).where(sites.c.id == sid)).scalar_one()
        text = notices.with_liveness(text, language, policy) or text
        if len(text) > MAX_NOTICE_CHARS:
            raise SiteError(f"a notice with its liveness paragraph is more than "
                            f"{MAX_NOTICE_CHARS} characters")
        if version is None:
            newest = conn.execute(select(func.max(notice_rows.c.version)).where(
                notice_rows.c.site_id == sid, notice_rows.c.language == language)).scalar()
            version = int(newest or 0) + 1
        if conn.execute(select(notice_rows.c.id).where(
                notice_rows.c.site_id == sid, notice_rows.c.version == version,
                notice_rows.c.language == language)).first():
            raise SiteError(f"notice version {version} ({language}) exists; texts that people "
                            "consented to are never changed, add a new version")
        conn.execute(insert(notice_rows).values(site_id=sid, version=version, language=language,
                                            text=text, sha256=notice_sha256(text),
                                            created_at=time.time()))
    return version


def set_mode(engine: Engine, name: str, mode: str, drop_helpers: bool = False) -> None:
    if mode not in STORAGE_MODES:
        raise SiteError(f"mode must be one of {', '.join(STORAGE_MODES)}")
    with db.transaction(engine) as conn:
        sid = _site_id(conn, name)
        if mode == "device":
            held = conn.execute(select(func.count()).select_from(templates).join(
                users, users.c.id == templates.c.user_id).where(
                users.c.site_id == sid, templates.c.helper_sealed.is_not(None))).scalar()
            if held and not drop_helpers:
                raise SiteError(f"{held} templates hold helper data on the server; pass "
                                "--drop-helpers to erase it (those users re-enrol)")
            conn.execute(update(templates).where(templates.c.user_id.in_(
                select(users.c.id).where(users.c.site_id == sid))).values(helper_sealed=None))
        conn.execute(update(sites).where(sites.c.id == sid).values(storage_mode=mode))


def set_liveness(engine: Engine, name: str, policy: str) -> list[str]:
    """Change the site's liveness policy and store, per language, a notice version whose
    paragraph says so (people consent again to the new text). Returns what was done, one
    line per language."""
    if policy not in LIVENESS_POLICIES:
        raise SiteError(f"liveness must be one of {', '.join(LIVENESS_POLICIES)}")
    with db.transaction(engine) as conn:
        sid = _site_id(conn, name)
        conn.execute(update(sites).where(sites.c.id == sid).values(liveness=policy))
        rows = conn.execute(select(notice_rows.c.language, notice_rows.c.version,
                                   notice_rows.c.text).where(notice_rows.c.site_id == sid)
                            ).all()
        newest = {r.language: r for r in sorted(rows, key=lambda r: r.version)}
        done = []
        for language, row in sorted(newest.items()):
            text = notices.with_liveness(row.text, language, policy)
            if text is None:
                done.append(f"{language}: no liveness paragraph for this language: "
                            "say it in the text yourself (set-notice)")
            elif text == row.text:
                done.append(f"{language}: notice version {row.version} already says so")
            else:
                conn.execute(insert(notice_rows).values(
                    site_id=sid, version=row.version + 1, language=language, text=text,
                    sha256=notice_sha256(text), created_at=time.time()))
                done.append(f"{language}: notice version {row.version + 1} stored")
    return done


def rotate_key(engine: Engine, name: str) -> int:
    with db.transaction(engine) as conn:
        sid = _site_id(conn, name)
        conn.execute(update(sites).where(sites.c.id == sid).values(
            key_generation=sites.c.key_generation + 1))
        return int(conn.execute(select(sites.c.key_generation).where(sites.c.id == sid)
                                ).scalar_one())


def new_admin_token(engine: Engine, name: str) -> str:
    token = b64encode(os.urandom(32))
    with db.transaction(engine) as conn:
        conn.execute(update(sites).where(sites.c.id == _site_id(conn, name)).values(
            admin_token_sha256=hashlib.sha256(token.encode()).hexdigest()))
    return token


def describe(engine: Engine, name: str | None = None) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(sites).order_by(sites.c.name)
        if name is not None:
            query = query.where(sites.c.name == name)
        rows = conn.execute(query).all()
        if name is not None and not rows:
            raise SiteError(f"no site named {name!r}")
        out = []
        for r in rows:
            texts = conn.execute(select(notice_rows.c.language, notice_rows.c.version,
                                        notice_rows.c.sha256)
                                 .where(notice_rows.c.site_id == r.id)
                                 .order_by(notice_rows.c.language, notice_rows.c.version)
                                 ).all()
            count = conn.execute(select(func.count()).select_from(users).where(
                users.c.site_id == r.id)).scalar()
            out.append({"name": r.name, "origins": json.loads(r.origins),
                        "storage_mode": r.storage_mode, "key_generation": r.key_generation,
                        "enrol_tickets": bool(r.enrol_tickets), "liveness": r.liveness,
                        "users": count, "notices": [
                            {"language": t.language, "version": t.version, "sha256": t.sha256}
                            for t in texts]})
        conn.rollback()
    return out


def set_retention(engine: Engine, name: str, days: int) -> None:
    if not 1 <= days <= 36_500:
        raise SiteError("retention is 1 to 36500 days")
    with db.transaction(engine) as conn:
        conn.execute(update(sites).where(sites.c.id == _site_id(conn, name)).values(
            retention_days=days))


DESK_COMMANDS = ("set-retention", "set-kiosk", "issue-code", "staff-code", "revoke-staff",
                 "report", "signage")


def desk_command(engine: Engine, args: argparse.Namespace) -> str:
    """The front-desk commands (server.desk, server.report); returns what to print."""
    from server import desk, keys, report
    from server.store import Store

    if args.cmd == "set-retention":
        set_retention(engine, args.name, args.days)
        return f"templates of {args.name} are kept {args.days} days after their last use"
    store = Store(engine=engine, keys=keys.load(Settings.from_env()), issuer="ownface")
    try:
        site = store.site(args.name)
    except Refused as exc:
        raise SiteError(f"no site named {args.name!r}") from exc
    if args.cmd == "set-kiosk":
        desk.set_kiosk(engine, site.id, args.identity, args.alternative)
        now = desk.settings(engine, site.id)
        return f"kiosks of {site.name}: identity by {now.identity}, alternative {now.alternative}"
    if args.cmd == "issue-code":
        check(args.user, "user")
        code, expires = desk.issue(store, site, "otp", user=args.user, ttl=args.hours * 3600)
        return (f"one-time code for {args.user} at {site.name} (shown once, valid until "
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(expires))}):\n"
                f"{desk.shown(code)}")
    if args.cmd == "staff-code":
        code, expires = desk.issue(store, site, "staff", label=args.label,
                                   ttl=args.days * 86_400)
        return (f"staff code {args.label!r} at {site.name} (shown once; confirms people and "
                f"allows enrolment at the kiosk until "
                f"{time.strftime('%Y-%m-%d', time.gmtime(expires))}):\n{desk.shown(code)}")
    if args.cmd == "signage":
        from server import signage

        try:
            files = signage.main(site.name, args.out, args.base)
        except (ValueError, OSError) as exc:
            raise SiteError(str(exc)) from exc
        return "\n".join(["signs (print from a browser, portrait, no scaling):",
                          *(f"  {f}" for f in files)])
    if args.cmd == "revoke-staff":
        return f"{desk.revoke_staff(engine, site.id, args.label)} staff codes revoked"
    found = report.site_report(store, site)
    return json.dumps(found, indent=2) if args.json else report.render(found)


def check(value: str, what: str) -> str:
    try:
        return check_id(value, what)
    except ProtocolError as exc:
        raise SiteError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ownface site", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("add")
    a.add_argument("name")
    a.add_argument("--origin", action="append", default=[], required=True)
    a.add_argument("--mode", choices=STORAGE_MODES, default="device")
    a.add_argument("--liveness", choices=LIVENESS_POLICIES,
                   help="the presentation-attack check the app must run (default: passive; "
                        "passive+active for portable-mode kiosk sites)")
    a.add_argument("--open-enrolment", action="store_true",
                   help="let anyone create a new account's first credential without an "
                        "enrolment ticket from the site's backend (demos only)")
    sub.add_parser("list")
    for cmd in ("show", "rotate-key", "new-admin-token", "kiosk-token", "ticket-key"):
        sub.add_parser(cmd).add_argument("name")
    o = sub.add_parser("set-origins")
    o.add_argument("name")
    o.add_argument("--origin", action="append", default=[], required=True)
    n = sub.add_parser("set-notice")
    n.add_argument("name")
    n.add_argument("--lang", required=True)
    n.add_argument("--file", type=Path, required=True)
    n.add_argument("--version", type=int)
    r = sub.add_parser("reopen")
    r.add_argument("name")
    r.add_argument("user")
    t = sub.add_parser("set-tickets")
    t.add_argument("name")
    t.add_argument("required", choices=("on", "off"))
    sr = sub.add_parser("set-retention")
    sr.add_argument("name")
    sr.add_argument("--days", type=int, required=True)
    sk = sub.add_parser("set-kiosk")
    sk.add_argument("name")
    sk.add_argument("--identity", choices=KIOSK_IDENTITIES)
    sk.add_argument("--alternative", choices=KIOSK_ALTERNATIVES)
    ic = sub.add_parser("issue-code")
    ic.add_argument("name")
    ic.add_argument("user")
    ic.add_argument("--hours", type=float, default=DESK_CODE_TTL_SECONDS / 3600)
    sc = sub.add_parser("staff-code")
    sc.add_argument("name")
    sc.add_argument("--label", required=True)
    sc.add_argument("--days", type=float, default=90.0)
    rs = sub.add_parser("revoke-staff")
    rs.add_argument("name")
    rs.add_argument("--label", required=True)
    sg = sub.add_parser("signage")
    sg.add_argument("name")
    sg.add_argument("--out", type=Path, default=Path("signs"))
    sg.add_argument("--base", help="the server's public address, where the QR code leads "
                                   "(default: the public_origin setting)")
    rp = sub.add_parser("report")
    rp.add_argument("name")
    rp.add_argument("--json", action="store_true")
    m = sub.add_parser("set-mode")
    m.add_argument("name")
    m.add_argument("mode", choices=STORAGE_MODES)
    m.add_argument("--drop-helpers", action="store_true")
    v = sub.add_parser("set-liveness")
    v.add_argument("name")
    v.add_argument("policy", choices=LIVENESS_POLICIES)
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    engine = db.make_engine(Settings.from_env().database)
    db.migrate(engine)
    try:
        if args.cmd == "add":
            token = add_site(engine, args.name, args.origin, args.mode,
                             enrol_tickets=not args.open_enrolment, liveness=args.liveness)
            if not args.open_enrolment:
                print("New accounts need an enrolment ticket from your backend (docs/api.md); "
                      f"its key: ownface site ticket-key {args.name}")
            print(f"site {args.name} created. Admin token (shown once, keep it secret):\n{token}")
        elif args.cmd == "list":
            for s in describe(engine):
                print(f"{s['name']:<24} {s['storage_mode']:<9} {s['liveness']:<14} "
                      f"{s['users']:>6} users  "
                      f"{' '.join(s['origins'])}")
        elif args.cmd == "show":
            print(json.dumps(describe(engine, args.name)[0], indent=2))
        elif args.cmd == "set-origins":
            set_origins(engine, args.name, args.origin)
        elif args.cmd == "set-notice":
            version = set_notice(engine, args.name, args.lang,
                                 args.file.read_text(encoding="utf-8"), args.version)
            print(f"notice version {version} ({args.lang}) stored")
        elif args.cmd == "reopen":
            print(reopen(engine, args.name, args.user))
        elif args.cmd == "set-tickets":
            set_tickets(engine, args.name, args.required == "on")
        elif args.cmd in DESK_COMMANDS:
            print(desk_command(engine, args))
        elif args.cmd == "set-mode":
            set_mode(engine, args.name, args.mode, args.drop_helpers)
        elif args.cmd == "set-liveness":
            for line in set_liveness(engine, args.name, args.policy):
                print(line)
        elif args.cmd == "rotate-key":
            print(f"assertion key generation is now {rotate_key(engine, args.name)}")
        elif args.cmd == "new-admin-token":
            print(new_admin_token(engine, args.name))
        elif args.cmd == "kiosk-token":
            from server import keys

            describe(engine, args.name)  # the site must exist
            token = keys.load(Settings.from_env()).kiosk_token(args.name)
            print(f"Kiosk token of {args.name} (give it only to this site's kiosks; open "
                  f"/app/?site={args.name}&user=...#kiosk=<token> on each kiosk once):\n{token}")
        elif args.cmd == "ticket-key":
            from server import keys

            describe(engine, args.name)  # the site must exist
            key = keys.load(Settings.from_env()).ticket_key(args.name)
            print(f"Enrolment ticket key of {args.name} (for its backend only; a ticket is "
                  f"pyapp.protocol.make_ticket(key, site, user, expires_at)):\n"
                  f"{b64encode(key)}")
    except SiteError as exc:
        print(f"ownface site: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0
