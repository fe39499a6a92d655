"""Kindred's settings: one typed object, read from KINDRED_* variables and the secrets files."""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import secrets
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from typing_extensions import override

from program.infra import crypto

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The program's shipped content (stages, questionnaires, safety screen), read by program.course.curriculum.
CONTENT_DIR = PROJECT_ROOT / "program" / "course" / "content"
STREAMLIT_SECRETS = PROJECT_ROOT / ".streamlit" / "secrets.toml"
GENERATED_SECRETS_NAME = "secrets.toml"
MIN_KEY_BYTES = 32
# Values people paste from examples; a key containing one of these is refused whatever its length.
PLACEHOLDER_MARKERS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "example",
    "some_key",
    "secret-key",
)


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says what to change."""


class Settings(BaseSettings):
    """Everything an operator can configure, each as KINDRED_<NAME> or under [kindred] in secrets.toml."""

    model_config = SettingsConfigDict(env_prefix="KINDRED_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = PROJECT_ROOT / "data"
    database_url: str = ""
    cookie_key: SecretStr | None = None
    cookie_name: str = "kindred_session"
    # Fernet keys for the free text encrypted at rest, comma-separated, newest first (see README: rotating).
    encryption_keys: SecretStr | None = None
    # How long a login lasts, and how long it survives without use; therapists' are shorter because
    # their screens show several couples' data, often on shared clinic machines.
    partner_session_hours: float = Field(default=14 * 24, gt=0)
    partner_idle_minutes: float = Field(default=3 * 24 * 60, gt=0)
    therapist_session_hours: float = Field(default=12, gt=0)
    therapist_idle_minutes: float = Field(default=30, gt=0)
    # After a safety screen asks for attention, that person's logins end after this long unused, so a
    # shared device does not keep them signed in.
    flagged_idle_minutes: float = Field(default=15, gt=0)
    # 12 is bcrypt's usual cost; tests lower it to keep the suite fast.
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    # "open": anyone may create an account; "invite": only with a partner's invite code (which also links
    # the couple) or a therapist's code, checked before any password is hashed.
    registration: Literal["open", "invite"] = "open"
    # Sign-ups cost a bcrypt hash each; these limits keep a flood of them from starving everyone else.
    registrations_per_client_per_hour: int = Field(default=10, ge=1)
    registrations_per_hour: int = Field(default=100, ge=1)
    # Where the Quick exit button sends a person: a neutral site that looks like everyday browsing.
    quick_exit_url: str = "https://www.bbc.com/weather"
    # The program's outcome measure, given at the start, after each stage, at the end and at a follow-up:
    # an instrument key, Kindred's own baseline questionnaire or an operator's from data/instruments/.
    outcome_instrument: str = "kindred-baseline"
    # How many weeks after the end-of-program occasion the follow-up comes due.
    follow_up_weeks: int = Field(default=12, ge=1)
    # The therapist's caseload alerts (see program/therapist/caseload.py). A partner's overall check-in
    # this many points below their average of the three weeks before:
    alert_checkin_drop: float = Field(default=2.0, gt=0, le=10)
    # The partners' latest overall check-ins this many points apart:
    alert_partner_gap: float = Field(default=3.0, gt=0, le=10)
    # No check-in, questionnaire, exercise or homework from a partner for this many days:
    alert_inactive_days: int = Field(default=14, ge=1)
    # A session rating (0-10) at or below this, or the partners' ratings of one item this far apart:
    alert_feedback_low: int = Field(default=5, ge=0, le=10)
    alert_feedback_gap: int = Field(default=3, ge=1, le=10)

    @classmethod
    @override
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first, then Streamlit's secrets file, then the keys generated on a first local start.
        data_dir = Path(os.environ.get("KINDRED_DATA_DIR", PROJECT_ROOT / "data"))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, STREAMLIT_SECRETS, toml_table_header=("kindred",)),
            TomlConfigSettingsSource(
                settings_cls, data_dir / GENERATED_SECRETS_NAME, toml_table_header=("kindred",)
            ),
        )

    @field_validator("cookie_key")
    @classmethod
    def _refuse_weak_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None:
            return None
        value = key.get_secret_value()
        if len(value.encode()) < MIN_KEY_BYTES:
            raise ValueError(f"the cookie key must be at least {MIN_KEY_BYTES} bytes long")
        if any(marker in value.lower() for marker in PLACEHOLDER_MARKERS):
            raise ValueError("the cookie key looks like a placeholder; generate a random one")
        return key

    @field_validator("encryption_keys")
    @classmethod
    def _refuse_weak_encryption_keys(cls, keys: SecretStr | None) -> SecretStr | None:
        if keys is None:
            return None
        value = keys.get_secret_value()
        if any(marker in value.lower() for marker in PLACEHOLDER_MARKERS):
            raise ValueError("the encryption keys look like a placeholder; generate random ones")
        crypto.parse_keys(value)  # raises ValueError naming the bad key's position, never its value
        return keys

    @field_validator("quick_exit_url")
    @classmethod
    def _plain_web_address(cls, url: str) -> str:
        parts = urlsplit(url)
        # Never javascript: or data: (the browser would run it in Kindred's page), never a relative path.
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the quick exit URL must be a plain http:// or https:// web address")
        return url

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'kindred.db'}"
        return self

    @model_validator(mode="after")
    def _known_outcome_instrument(self) -> Settings:
        # Checked here, so a typo stops start-up with a message instead of the first outcome page failing.
        # Instrument files are named after their keys (curriculum.load_instruments insists).
        known = sorted(
            {path.stem for path in (CONTENT_DIR / "instruments").glob("*.toml")}
            | {path.stem for path in self.instruments_dir.glob("*.toml")}
        )
        if self.outcome_instrument not in known:
            raise ValueError(
                f"outcome_instrument (KINDRED_OUTCOME_INSTRUMENT) is {self.outcome_instrument!r}, which is "
                f"not an instrument Kindred knows; known instruments: {', '.join(known)} (an operator's "
                "own go in the instruments folder of the data directory)"
            )
        return self

    @property
    def instruments_dir(self) -> Path:
        """Where an operator drops licensed questionnaires (TOML files, see README)."""
        return self.data_dir / "instruments"

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    def secret_cookie_key(self) -> str:
        """The cookie signing key; load_settings guarantees it is set."""
        if self.cookie_key is None:
            raise SettingsError("no cookie key configured")
        return self.cookie_key.get_secret_value()

    def encryption_key_list(self) -> list[str]:
        """The encryption keys, newest first; load_settings guarantees they are set."""
        if self.encryption_keys is None:
            raise SettingsError("no encryption keys configured (KINDRED_ENCRYPTION_KEYS)")
        return crypto.parse_keys(self.encryption_keys.get_secret_value())

    def code_key(self) -> bytes:
        """The key for digests of codes and throttled usernames, derived from the cookie key."""
        return hmac.new(self.secret_cookie_key().encode(), b"kindred codes", hashlib.sha256).digest()

    def cookie_lifetime_days(self) -> float:
        """The browser cookie lasts as long as the longest login; the server ends shorter ones itself."""
        return max(self.partner_session_hours, self.therapist_session_hours) / 24


def _owner_only_folder(data_dir: Path) -> None:
    """Kindred's data folder (database, secrets) exists and is the owner's alone, whatever the umask."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)


def _write_generated_secrets(data_dir: Path) -> None:
    """Create owner-only strong secrets in the data folder for a local first start."""
    _owner_only_folder(data_dir)
    path = data_dir / GENERATED_SECRETS_NAME
    if path.exists():
        _add_generated_encryption_key(path)
        return
    body = f'[kindred]\ncookie_key = "{secrets.token_urlsafe(48)}"\nencryption_keys = "{crypto.new_key()}"\n'
    # Written whole to a private file, then linked into place: two processes starting at once must not
    # both write (and then disagree on) the keys, and neither may read a half-written file.
    draft = data_dir / f".{GENERATED_SECRETS_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(body)
    try:
        os.link(draft, path)
    except FileExistsError:
        _add_generated_encryption_key(path)
    finally:
        draft.unlink()


def _add_generated_encryption_key(path: Path) -> None:
    """Give secrets generated by an older Kindred (a cookie key only) an encryption key, exactly once.

    Two processes starting at once must agree on the key, or each would encrypt text the other cannot
    read: the file is locked while it is read and extended.
    """
    with path.open("r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        text = handle.read()
        kindred = tomllib.loads(text).get("kindred", {})
        if "encryption_keys" in kindred:
            return
        headers = [line.strip() for line in text.splitlines() if line.strip().startswith("[")]
        if headers != ["[kindred]"]:
            raise SettingsError(
                f"{path} has no encryption_keys; add one under [kindred] (see README, Configuration)"
            )
        handle.write(("" if text.endswith("\n") else "\n") + f'encryption_keys = "{crypto.new_key()}"\n')


def load_settings() -> Settings:
    """Read the settings, generating local secrets on a first development start."""
    try:
        settings = Settings()
        if settings.cookie_key is None or settings.encryption_keys is None:
            if settings.environment == "production":
                missing = "KINDRED_COOKIE_KEY" if settings.cookie_key is None else "KINDRED_ENCRYPTION_KEYS"
                raise SettingsError(
                    f"{missing} is not set. In production set KINDRED_COOKIE_KEY (at least 32 random "
                    "bytes) and KINDRED_ENCRYPTION_KEYS (Fernet keys, newest first) in the environment "
                    "or under [kindred] in .streamlit/secrets.toml."
                )
            _write_generated_secrets(settings.data_dir)
            settings = Settings()
    except ValidationError as error:
        # Never the input: a refused value may be a real key, and this message reaches logs and pages.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'settings'}: {problem['msg']}"
            for problem in error.errors(include_url=False, include_input=False, include_context=False)
        )
        raise SettingsError(f"Kindred's configuration is not usable: {problems}") from error
    except ValueError as error:
        raise SettingsError(f"Kindred's configuration is not usable: {error}") from error
    if settings.cookie_key is None or settings.encryption_keys is None:
        generated = settings.data_dir / GENERATED_SECRETS_NAME
        raise SettingsError(f"could not read the generated secrets in {generated}")
    if settings.is_sqlite:
        _owner_only_folder(settings.data_dir)
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
