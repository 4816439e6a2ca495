"""Server settings: safe defaults, overridden by a TOML config file and then the environment.

Order of precedence (last wins): defaults < ``ownface.toml`` (path in ``OWNFACE_CONFIG``, or
``<data_dir>/ownface.toml`` when present) < ``OWNFACE_*`` environment variables. Secrets are
held in :class:`Secret`, whose repr never shows the value.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyapp.protocol import PIPELINES

ROOT = Path(__file__).resolve().parents[1]


class SettingsError(Exception):
    """A setting has a value that cannot be used."""


class Secret:
    """A string that never shows up in logs or reprs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __str__(self) -> str:
        return "**********"

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = ROOT / "data"
    database_url: str = ""  # empty: sqlite:///<data_dir>/ownface.db
    web_dir: Path = ROOT / "web"
    assets_dir: Path = ROOT / "web" / "assets"
    models_dir: Path = ROOT / "models"
    workers: int = 1
    # A public origin the app is reached at, e.g. https://verify.example.com (for CSP/CORS).
    public_origin: str = ""
    log_level: str = "info"
    # The face pipeline new templates are made with (models/manifest.json; pyapp.protocol
    # PIPELINES). Older templates keep verifying with their own pipeline and are offered a
    # renewal to this one after a successful verification.
    face_pipeline: str = "v2"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.face_pipeline not in PIPELINES:
            raise SettingsError(f"face_pipeline must be one of {', '.join(PIPELINES)}, not "
                                f"{self.face_pipeline!r}")

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ownface.db'}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config = env.get("OWNFACE_CONFIG")
        data_dir = Path(env.get("OWNFACE_DATA_DIR", str(cls.data_dir)))
        path = Path(config) if config else data_dir / "ownface.toml"
        if config and not path.is_file():
            raise SettingsError(f"OWNFACE_CONFIG points to {path}, which does not exist")
        if path.is_file():
            with path.open("rb") as fh:
                try:
                    values.update(tomllib.load(fh))
                except tomllib.TOMLDecodeError as exc:
                    raise SettingsError(f"{path} is not valid TOML: {exc}") from exc
        prefix = "OWNFACE_"
        for key, value in env.items():
            if key.startswith(prefix) and key != "OWNFACE_CONFIG":
                values[key[len(prefix):].lower()] = value
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known or key == "extra":
                extra[key] = value
                continue
            kwargs[key] = _coerce(key, known[key].type, value)
        return cls(**kwargs, extra=extra)


def _coerce(key: str, kind: object, value: Any) -> Any:
    try:
        if kind in (int, "int"):
            return int(value)
        if kind in (Path, "Path"):
            return Path(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {key!r} has an unusable value") from exc
