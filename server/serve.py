"""``ownface serve``: make sure the assets are in place, then run the server with uvicorn.

Settings come from the environment and the config file (see ``server.settings``); the flags
here override them. The default binds 127.0.0.1:8000, keeps its SQLite database under
``./data`` (mode 0700) and the server key apart from it under ``./data-keys``
(``server.keys``). The addresses to open are printed once the server answers, not before.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import urllib.error
import urllib.request

from pyapp.protocol import API_PREFIX
from server import assets
from server.settings import Settings, SettingsError


def first_site(settings: Settings) -> str | None:
    """A fresh install gets the demo site, so the app works at once: its link, or None."""
    from server import db, defaults

    engine = db.make_engine(settings.database)
    try:
        db.migrate(engine)
        # the Example Shop of 'ownface demo' (another origin) may embed the demo site
        token = defaults.ensure_demo_site(engine, [settings.public_origin,
                                                   defaults.DEMO_SHOP_ORIGIN])
    finally:
        engine.dispose()
    if not token:
        return None
    print(f"Created the site '{defaults.DEMO_SITE}'. Its admin token, shown only once "
          f"(audit export, erasure requests): {token}", file=sys.stderr)
    return f"{settings.public_origin}/app/?site={defaults.DEMO_SITE}&user=alice"


def local_url(host: str, port: int) -> str:
    """The address this machine reaches the server at (a wildcard bind: loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce_when_ready(url: str, lines: list[str], timeout: float = 600.0,
                        stop: threading.Event | None = None) -> threading.Thread:
    """Print ``lines`` once ``url`` answers its health check (in a background thread)."""
    stop = stop or threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stop.is_set():
            try:
                with urllib.request.urlopen(f"{url}{API_PREFIX}/health",  # noqa: S310
                                            timeout=2) as answer:
                    if answer.status == 200:
                        print("\n".join(lines), file=sys.stderr, flush=True)
                        return
            except (OSError, urllib.error.URLError):
                pass
            stop.wait(0.2)

    thread = threading.Thread(target=watch, name="ownface-ready", daemon=True)
    thread.start()
    return thread


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ownface serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 8000)")
    parser.add_argument("--workers", type=int, help="worker processes (default 1)")
    parser.add_argument("--data-dir", help="where the database lives (default ./data)")
    parser.add_argument("--key-file", help="the server key file (default: server-key.json in "
                                           "<data-dir>-keys/, never inside the data directory)")
    parser.add_argument("--trusted-proxies",
                        help="reverse proxies whose X-Forwarded-For names the client, e.g. "
                             "'127.0.0.1, 10.0.0.0/8' (default: none)")
    parser.add_argument("--no-setup", action="store_true",
                        help="do not fetch missing assets; fail if they are absent")
    args = parser.parse_args(argv)
    for name in ("host", "port", "workers", "data_dir", "key_file", "trusted_proxies"):
        value = getattr(args, name)
        if value is not None:
            os.environ[f"OWNFACE_{name.upper()}"] = str(value)
    from server import clients, keys

    try:
        settings = Settings.from_env()
        if not settings.public_origin:  # the origin people reach this server at
            os.environ["OWNFACE_PUBLIC_ORIGIN"] = local_url(settings.host, settings.port)
            settings = Settings.from_env()
        if not settings.data_dir.exists():
            settings.data_dir.mkdir(parents=True)
            os.chmod(settings.data_dir, 0o700)
        keys.load(settings)  # here, once: a refused or misplaced key stops the start
        clients.parse_networks(settings.extra.get("trusted_proxies"))
    except SettingsError as exc:
        print(f"ownface serve: {exc}", file=sys.stderr)
        return 2
    demo = first_site(settings)
    try:
        if args.no_setup:
            assets.read_manifest(settings)
        else:
            assets.setup(settings, quiet=True)
    except assets.AssetError as exc:
        print(f"ownface serve: {exc}", file=sys.stderr)
        return 1

    import uvicorn

    lines = [f"OwnFace is ready at {settings.public_origin}/ (data in {settings.data_dir}, "
             f"database {settings.database.split('://')[0]})"]
    if demo:
        lines.append(f"Try it: {demo}")
    announce_when_ready(local_url(settings.host, settings.port), lines)
    uvicorn.run("server.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level=settings.log_level,
                proxy_headers=False, server_header=False, date_header=True)
    return 0
