"""Settings: safe defaults, a TOML file, the environment on top, secrets that never print."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Secret, Settings, SettingsError


def test_defaults_bind_loopback_and_keep_data_local(tmp_path: Path) -> None:
    s = Settings.from_env({"OWNFACE_DATA_DIR": str(tmp_path)})
    assert s.host == "127.0.0.1" and s.port == 8000
    assert s.database == f"sqlite:///{tmp_path / 'ownface.db'}"


def test_config_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "ownface.toml"
    config.write_text('port = 9000\nhost = "0.0.0.0"\nworkers = 2\n')
    s = Settings.from_env({"OWNFACE_CONFIG": str(config), "OWNFACE_PORT": "9100"})
    assert (s.host, s.port, s.workers) == ("0.0.0.0", 9100, 2)


def test_config_file_in_the_data_dir_is_picked_up(tmp_path: Path) -> None:
    (tmp_path / "ownface.toml").write_text('database_url = "postgresql://db/ownface"\n')
    s = Settings.from_env({"OWNFACE_DATA_DIR": str(tmp_path)})
    assert s.database == "postgresql://db/ownface"


@pytest.mark.parametrize("env", [{"OWNFACE_PORT": "eighty"},
                                 {"OWNFACE_CONFIG": "/nonexistent/ownface.toml"}])
def test_bad_values_are_clear_errors(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(env)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "ownface.toml"
    config.write_text("port = = 1")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.from_env({"OWNFACE_CONFIG": str(config)})


def test_secret_never_shows_its_value() -> None:
    secret = Secret("hunter2-hunter2")
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)
    assert "hunter2" not in f"{[secret]}"
    assert secret.reveal() == "hunter2-hunter2"
