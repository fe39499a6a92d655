"""Settings: the default database, generated local secrets, and refusal of weak keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import program.infra.settings as settings_module
from program.infra.settings import SettingsError, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No KINDRED_* variables, no secrets file; the data folder in a temp dir."""
    for name in ("KINDRED_DATABASE_URL", "KINDRED_COOKIE_KEY", "KINDRED_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings_module, "STREAMLIT_SECRETS", tmp_path / "absent-secrets.toml")
    data_dir = tmp_path / "data"
    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    return data_dir


def test_default_database_is_sqlite_in_the_data_folder(clean_env: Path) -> None:
    """With nothing configured, Kindred uses an SQLite file in its data folder."""
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{clean_env / 'kindred.db'}"
    assert settings.is_sqlite


def test_first_local_start_generates_an_owner_only_key_that_persists(clean_env: Path) -> None:
    """A first development start writes a strong key, readable by the owner alone, and reuses it."""
    first = load_settings().secret_cookie_key()
    secrets_file = clean_env / "secrets.toml"
    assert len(first) >= 48
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(clean_env.stat().st_mode) == 0o700
    assert load_settings().secret_cookie_key() == first


@pytest.mark.parametrize(
    ("key", "message"),
    [("too-short-key", "at least 32 bytes"), ("changeme-changeme-changeme-changeme-42", "placeholder")],
)
@pytest.mark.usefixtures("clean_env")
def test_weak_cookie_keys_are_refused(monkeypatch: pytest.MonkeyPatch, key: str, message: str) -> None:
    """A short or placeholder key stops the app with a message saying why."""
    monkeypatch.setenv("KINDRED_COOKIE_KEY", key)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_production_without_a_key_refuses_to_start(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In production no key is invented: the operator must set one."""
    monkeypatch.setenv("KINDRED_ENVIRONMENT", "production")
    with pytest.raises(SettingsError, match="KINDRED_COOKIE_KEY"):
        load_settings()
    assert not (clean_env / "secrets.toml").exists()


@pytest.mark.usefixtures("clean_env")
def test_streamlit_secrets_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keys under [kindred] in .streamlit/secrets.toml configure the app; the environment wins over them."""
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text(
        '[kindred]\ncookie_key = "a-real-random-key-from-the-operator-0123456789"\n'
        'database_url = "sqlite:////srv/kindred/kindred.db"\n'
    )
    monkeypatch.setattr(settings_module, "STREAMLIT_SECRETS", secrets_file)
    settings = load_settings()
    assert settings.secret_cookie_key() == "a-real-random-key-from-the-operator-0123456789"
    assert settings.database_url == "sqlite:////srv/kindred/kindred.db"
    monkeypatch.setenv("KINDRED_DATABASE_URL", "postgresql+psycopg://k@db/k")
    assert load_settings().database_url == "postgresql+psycopg://k@db/k"
