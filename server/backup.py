"""``ownface backup FILE`` and ``ownface backup --restore FILE``: a copy of the database that
holds no biometric data.

Face templates (public keys, and in portable mode the sealed helper data) are left out of
every backup, and so are the short-lived rows (challenges, attempt counters, spent-ticket
digests, desk codes: each a credential or noise). So a template that was withdrawn, erased
or purged by retention can never come back from a backup, and a backup kept for years keeps
no face. After a restore, people verify with the site's alternative (password, one-time
code, staff) or enrol their face again. What it holds: sites and notices, accounts (the
site's opaque ids), consent records, argon2id password hashes, retired-account pseudonyms
and the audit log (docs/compliance.md, "Where data lives").

The file is JSON (one object: table -> rows; bytes as base64url), written with mode 0600.
The server key is not in it (it lives outside the data directory, ``server.keys``): keep the
two apart. ``--restore`` loads a backup into an empty database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, LargeBinary, Table, func, insert, select, text

from pyapp.protocol import b64decode, b64encode
from server import db
from server.settings import Settings
from server.tables import (
    audit,
    consents,
    notices,
    passwords,
    retired_users,
    sites,
    users,
)

FORMAT = "ownface-backup/1"
# in dependency order (restore inserts them in this order)
KEPT: tuple[Table, ...] = (sites, notices, users, retired_users, consents, passwords, audit)
LEFT_OUT = {"templates": "face templates (public keys, sealed helper data): biometric",
            "challenges": "short-lived", "attempts": "short-lived counters",
            "used_tickets": "short-lived", "desk_codes": "credentials (one-time and staff)"}


def _plain(table: Table, row: Any) -> dict[str, Any]:
    out = {}
    for column in table.columns:
        value = getattr(row, column.name)
        if isinstance(column.type, LargeBinary) and value is not None:
            value = b64encode(bytes(value))
        out[column.name] = value
    return out


def dump(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        tables = {t.name: [_plain(t, r) for r in conn.execute(select(t)).all()] for t in KEPT}
        conn.rollback()
    return {"format": FORMAT, "left_out": LEFT_OUT, "tables": tables}


def write(engine: Engine, path: Path) -> dict[str, int]:
    data = dump(engine)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(data, out)
    return {name: len(rows) for name, rows in data["tables"].items()}


def restore(engine: Engine, path: Path) -> dict[str, int]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not an OwnFace backup ({FORMAT})")
    with db.transaction(engine) as conn:
        if conn.execute(select(func.count()).select_from(sites)).scalar():
            raise ValueError("the database is not empty: restore into a new one")
        for table in KEPT:
            rows = data["tables"].get(table.name, [])
            for row in rows:
                for column in table.columns:
                    if isinstance(column.type, LargeBinary) and row.get(column.name):
                        row[column.name] = b64decode(row[column.name], column.name)
            if rows:
                conn.execute(insert(table), rows)
        if engine.dialect.name == "postgresql":  # the id sequences continue after the rows
            for table in (sites, notices, users, audit):
                top = conn.execute(select(func.max(table.c.id))).scalar() or 1
                conn.execute(text("SELECT setval(pg_get_serial_sequence(:t, 'id'), :top)"),
                             {"t": table.name, "top": int(top)})
    return {t.name: len(data["tables"].get(t.name, [])) for t in KEPT}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ownface backup", description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--restore", action="store_true",
                        help="load the backup into an empty database")
    args = parser.parse_args(argv)
    engine = db.make_engine(Settings.from_env().database)
    db.migrate(engine)
    try:
        counts = restore(engine, args.file) if args.restore else write(engine, args.file)
    except (OSError, ValueError) as exc:
        print(f"ownface backup: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(("restored " if args.restore else f"wrote {args.file}: ") + ", ".join(
        f"{n} {name}" for name, n in counts.items()) + " (no face templates: see "
        "docs/compliance.md)")
    return 0
