"""``ownface serve``: make sure the assets are in place, then run the server with uvicorn.

Settings come from the environment and the config file (see ``server.settings``); the flags
here override them. The default binds 127.0.0.1:8000 and keeps its SQLite database and keys
under ``./data``.
"""

from __future__ import annotations

import argparse
import os
import sys

from server import assets
from server.settings import Settings, SettingsError


def first_site(settings: Settings) -> None:
    """A fresh install gets the demo site, so the app works at once."""
    from server import db, defaults

    engine = db.make_engine(settings.database)
    try:
        db.migrate(engine)
        # the Example Shop of 'ownface demo' (another origin) may embed the demo site
        token = defaults.ensure_demo_site(engine, [settings.public_origin,
                                                   defaults.DEMO_SHOP_ORIGIN])
    finally:
        engine.dispose()
    if token:
        print(f"Created the site '{defaults.DEMO_SITE}'. Its admin token, shown only once "
              f"(audit export, erasure requests): {token}\nTry it: "
              f"{settings.public_origin}/app/?site={defaults.DEMO_SITE}&user=alice",
              file=sys.stderr)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ownface serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 8000)")
    parser.add_argument("--workers", type=int, help="worker processes (default 1)")
    parser.add_argument("--data-dir", help="where the database and keys live (default ./data)")
    parser.add_argument("--no-setup", action="store_true",
                        help="do not fetch missing assets; fail if they are absent")
    args = parser.parse_args(argv)
    for name in ("host", "port", "workers", "data_dir"):
        value = getattr(args, name)
        if value is not None:
            os.environ[f"OWNFACE_{name.upper()}"] = str(value)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"ownface serve: {exc}", file=sys.stderr)
        return 2
    if not settings.public_origin:  # the origin people reach this server at
        origin = f"http://{settings.host}:{settings.port}"
        os.environ["OWNFACE_PUBLIC_ORIGIN"] = origin
        settings = Settings.from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    first_site(settings)
    try:
        if args.no_setup:
            assets.read_manifest(settings)
        else:
            assets.setup(settings, quiet=True)
    except assets.AssetError as exc:
        print(f"ownface serve: {exc}", file=sys.stderr)
        return 1

    import uvicorn

    print(f"OwnFace on http://{settings.host}:{settings.port}/ "
          f"(data in {settings.data_dir}, database {settings.database.split('://')[0]})",
          file=sys.stderr)
    uvicorn.run("server.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level=settings.log_level,
                proxy_headers=False, server_header=False, date_header=True)
    return 0
