"""Free text encrypted at rest: what a copy of the database (file, backup, SQL console) does not show,
the keys that protect it, and rotating them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

import program.infra.settings as settings_module
from program.course import checkins, journey, reflections, safety
from program.infra import crypto
from program.infra.db import alembic_config, create_db_engine, migrate, read_session, write_session
from program.infra.models import (
    CheckIn,
    ExerciseRecord,
    Reflection,
    Role,
    SafetyScreen,
    TherapistNote,
    Visibility,
)
from program.infra.settings import SettingsError, get_settings, load_settings
from program.ops.cli import main as cli
from program.privacy.viewer import Viewer
from tests.conftest import TEST_COOKIE_KEY, TEST_ENCRYPTION_KEYS
from tests.databases import fresh_database
from tests.factories import make_couple, make_person, make_person_before_migrations
from tests.program_helpers import PROGRAM

NOW = datetime(2026, 11, 18, 20, 0, tzinfo=UTC)
TODAY = NOW.date()
STAGE = PROGRAM.stage_by_key["connection"]
LOG = "daily-connection-log"

GOAL = "Stop the silent treatment after the miscarriage"
STRENGTH = "We laugh together in the kitchen, Zephyrine says"
CHECKIN_NOTE = "He threw the plate at the wall on Tuesday"
LOG_TEXT = "Told Marguerite I admired her courage at the tribunal"
THERAPIST_NOTE = "Session 4: disclosed gambling debts of 38,400 to partner"
# None of these may appear anywhere in the stored bytes.
WRITTEN = (GOAL, STRENGTH, CHECKIN_NOTE, LOG_TEXT, THERAPIST_NOTE)
SAFETY_ITEM_KEYS = tuple(item.key for item in PROGRAM.safety.items_for("full"))
# The shape of the JSON columns is private too: which items someone answered, which days they logged.
JSON_MARKERS = ('"entries"', '"turned-toward"', *(f'"{key}"' for key in SAFETY_ITEM_KEYS))


@pytest.fixture
def test_keyring() -> Iterator[None]:
    """Tests here swap this process's keys; every test after them gets the usual test key back."""
    yield
    crypto.configure([TEST_ENCRYPTION_KEYS])


def _write_everything(engine: Engine) -> tuple[Viewer, Viewer, Viewer]:
    """Two partners and their therapist write each kind of free text through the app's own functions."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "kim", Role.THERAPIST)
    couple_id = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        for context, body in (("assessment:goals", GOAL), ("assessment:strengths", STRENGTH)):
            reflections.save_text(
                session=session,
                viewer=ana,
                context=context,
                body=body,
                visibility=Visibility.PARTNER,
                now=NOW,
            )
        checkins.save_checkin(
            session=session,
            viewer=ana,
            ratings=dict.fromkeys(("closeness", "communication", "conflict", "trust", "overall"), 4),
            note=CHECKIN_NOTE,
            today=TODAY,
            now=NOW,
        )
        journey.save_log_entry(
            session=session,
            viewer=ben,
            stage=STAGE,
            exercise=LOG,
            day=1,
            values={"turned-toward": True},
            now=NOW,
        )
        reflections.save_text(
            session=session,
            viewer=ben,
            context=f"{STAGE.key}:{LOG}:day1:appreciation-said",
            body=LOG_TEXT,
            visibility=None,
            now=NOW,
        )
        safety.submit_screen(
            session=session,
            viewer=ana,
            content=PROGRAM.safety,
            answers=dict.fromkeys(SAFETY_ITEM_KEYS, 2),
            now=NOW,
        )
        session.add(TherapistNote(therapist_id=kim.person_id, couple_id=couple_id, body=THERAPIST_NOTE))
    return ana, ben, kim


def _assert_everything_reads_back(engine: Engine, ana: Viewer, ben: Viewer) -> None:
    with read_session(engine) as session:
        texts = reflections.own_texts(session=session, viewer=ana, prefix="assessment:")
        assert {context: row.body for context, row in texts.items()} == {
            "assessment:goals": GOAL,
            "assessment:strengths": STRENGTH,
        }
        this_week = checkins.this_week(session=session, viewer=ana, today=TODAY)
        assert this_week is not None and this_week.note == CHECKIN_NOTE
        assert journey.log_entries(session=session, viewer=ben, stage=STAGE.key, exercise=LOG) == {
            "1": {"turned-toward": True}
        }
        log_texts = reflections.own_texts(session=session, viewer=ben, prefix=f"{STAGE.key}:{LOG}:")
        assert [row.body for row in log_texts.values()] == [LOG_TEXT]
        screen = safety.latest_own_screen(session=session, viewer=ana)
        assert screen is not None and screen.answers == dict.fromkeys(SAFETY_ITEM_KEYS, 2)
        assert session.exec(select(TherapistNote.body)).all() == [THERAPIST_NOTE]


def _stored_bytes(database: Path) -> bytes:
    return b"".join(
        path.read_bytes()
        for suffix in ("", "-wal", "-journal")
        if (path := Path(f"{database}{suffix}")).exists()
    )


def _assert_absent(stored: bytes, needles: tuple[str, ...]) -> None:
    found = [needle for needle in needles if needle.encode() in stored]
    assert found == []


def test_no_written_text_is_in_the_database_file(tmp_path: Path) -> None:
    """Reflections, goals, strengths, a check-in note, practice-log text and days, safety answers and a
    therapist's note are nowhere in the SQLite file or its WAL, open or closed, and read back intact."""
    database = tmp_path / "kindred.db"
    engine = create_db_engine(f"sqlite:///{database}")
    migrate(engine)
    ana, ben, _ = _write_everything(engine)
    with engine.connect() as connection:  # while a connection is open, recent pages live in the WAL
        connection.exec_driver_sql("SELECT 1")
        assert Path(f"{database}-wal").stat().st_size > 0
        _assert_absent(_stored_bytes(database), WRITTEN + JSON_MARKERS)
    engine.dispose()
    _assert_absent(_stored_bytes(database), WRITTEN + JSON_MARKERS)
    reopened = create_db_engine(f"sqlite:///{database}")
    try:
        _assert_everything_reads_back(reopened, ana, ben)
    finally:
        reopened.dispose()


def test_a_raw_select_shows_only_tokens(engine: Engine) -> None:
    """On the backend under test (PostgreSQL with TEST_DATABASE_URL), SQL that bypasses the app sees
    Fernet tokens in every free-text column, and the app reads every text back."""
    ana, ben, _ = _write_everything(engine)
    with engine.connect() as connection:
        stored = [
            value
            for table, column in crypto.encrypted_columns(SQLModel.metadata)
            for (value,) in connection.execute(
                sa.text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
            )
        ]
    # ana's goals and strengths, ben's log text, a check-in note, a log record, a screen, a note
    assert len(stored) == 7
    assert all(isinstance(value, str) and value.startswith("gAAAAA") for value in stored)
    _assert_absent("\n".join(stored).encode(), WRITTEN + JSON_MARKERS)
    _assert_everything_reads_back(engine, ana, ben)


def test_the_same_text_is_stored_differently_each_time(engine: Engine) -> None:
    """Two partners writing the same words leave no equal values to compare (and nothing to sort on)."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    with write_session(engine) as session:
        for viewer in (ana, ben):
            reflections.save_text(
                session=session,
                viewer=viewer,
                context="assessment:goals",
                body="More time",
                visibility=None,
                now=NOW,
            )
    with engine.connect() as connection:
        tokens = connection.execute(sa.text("SELECT body FROM reflection")).scalars().all()
    assert len(set(tokens)) == 2


# ---- keys ---------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("test_keyring")
def test_a_process_without_keys_refuses_to_store_text(engine: Engine) -> None:
    """Code that forgot to set the keyring fails loudly and stores nothing, rather than writing plain text."""
    ana = make_person(engine, "ana")
    crypto.unconfigure()
    with pytest.raises(sa.exc.StatementError, match="no encryption keys are configured"):
        with write_session(engine) as session:
            reflections.save_text(
                session=session, viewer=ana, context="assessment:goals", body=GOAL, visibility=None, now=NOW
            )
    crypto.configure([TEST_ENCRYPTION_KEYS])
    with read_session(engine) as session:
        assert session.exec(select(Reflection)).all() == []


@pytest.mark.usefixtures("test_keyring")
def test_dropping_a_key_before_rotating_fails_clearly(engine: Engine) -> None:
    """Text written under a key that is no longer configured is not silently lost or garbled: reading it
    says which setting and which command are involved."""
    ana, ben, _ = _write_everything(engine)
    crypto.configure([Fernet.generate_key().decode()])
    with pytest.raises(crypto.DecryptionError, match="rotate-keys"), read_session(engine) as session:
        session.exec(select(CheckIn)).all()


@pytest.mark.usefixtures("test_keyring")
def test_rotation_lets_the_old_key_go(engine: Engine, database_url: str,
                                      monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Old key only, then the new key added first, `rotate-keys`, then the old key dropped: every text
    still reads back, and the stored tokens now open with the new key alone."""
    old, new = TEST_ENCRYPTION_KEYS, Fernet.generate_key().decode()
    ana, ben, _ = _write_everything(engine)
    with engine.connect() as connection:
        before = connection.execute(sa.text("SELECT body FROM therapistnote")).scalar_one()
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KINDRED_COOKIE_KEY", TEST_COOKIE_KEY)
    monkeypatch.setenv("KINDRED_ENCRYPTION_KEYS", f"{new},{old}")
    get_settings.cache_clear()
    try:
        assert cli(["rotate-keys"]) == 0
    finally:
        get_settings.cache_clear()
    assert "Re-encrypted 7 stored texts" in capsys.readouterr().out
    crypto.configure([new])
    _assert_everything_reads_back(engine, ana, ben)
    with engine.connect() as connection:
        after = connection.execute(sa.text("SELECT body FROM therapistnote")).scalar_one()
    assert after != before
    assert Fernet(new.encode()).decrypt(after.encode()).decode() == THERAPIST_NOTE


@pytest.mark.usefixtures("test_keyring")
def test_rotation_stops_at_a_text_no_key_opens(engine: Engine) -> None:
    """A token none of the keys opens (the key that made it was dropped) stops the rotation with a message
    naming the table and row, and leaves that batch as it was."""
    ana, ben, _ = _write_everything(engine)
    stray = Fernet(Fernet.generate_key()).encrypt(b"written under a lost key").decode()
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE checkin SET note = :note"), {"note": stray})
    with pytest.raises(crypto.DecryptionError, match=r"checkin\.note of row \d+"):
        crypto.rotate_all(engine, SQLModel.metadata)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT note FROM checkin")).scalar_one() == stray


@pytest.mark.usefixtures("test_keyring")
def test_the_cli_reports_an_unopenable_text_without_a_traceback(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`rotate-keys` run with the old key already dropped says so and exits 1."""
    _write_everything(engine)
    monkeypatch.setenv("KINDRED_DATABASE_URL", database_url)
    monkeypatch.setenv("KINDRED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KINDRED_COOKIE_KEY", TEST_COOKIE_KEY)
    monkeypatch.setenv("KINDRED_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    get_settings.cache_clear()
    try:
        assert cli(["rotate-keys"]) == 1
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().err.startswith("error: ")


# ---- the migration ------------------------------------------------------------------------------------


def test_the_migration_encrypts_existing_text(tmp_path: Path) -> None:
    """A database from before encryption keeps every text: after migrating, the rows hold tokens and the
    app reads the same texts and JSON back."""
    with fresh_database(tmp_path) as url:
        engine = create_db_engine(url)
        try:
            command.upgrade(alembic_config(engine), "0004")
            ana = make_person_before_migrations(engine, "ana")  # Person has no encrypted column
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO reflection (person_id, context, body, visibility, created_at, "
                        "updated_at) VALUES (:p, 'assessment:goals', :body, 'private', :now, :now)"
                    ),
                    {"p": ana.person_id, "body": GOAL, "now": NOW},
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO safetyscreen (person_id, form, answers, flagged, submitted_at) "
                        "VALUES (:p, 'full', :answers, false, :now)"
                    ),
                    {"p": ana.person_id, "answers": '{"afraid": 3}', "now": NOW},
                )
            migrate(engine)
            with engine.connect() as connection:
                raw = connection.execute(sa.text("SELECT body FROM reflection")).scalar_one()
                answers = connection.execute(sa.text("SELECT answers FROM safetyscreen")).scalar_one()
            assert raw.startswith("gAAAAA") and answers.startswith("gAAAAA")
            with read_session(engine) as session:
                assert session.exec(select(Reflection.body)).one() == GOAL
                assert session.exec(select(SafetyScreen.answers)).one() == {"afraid": 3}
        finally:
            engine.dispose()


# ---- settings -----------------------------------------------------------------------------------------


@pytest.fixture
def no_configured_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No KINDRED_* keys set, no secrets files; returns the (not yet created) data folder."""
    for name in (
        "KINDRED_DATABASE_URL",
        "KINDRED_COOKIE_KEY",
        "KINDRED_ENCRYPTION_KEYS",
        "KINDRED_ENVIRONMENT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings_module, "STREAMLIT_SECRETS", tmp_path / "absent-secrets.toml")
    data_dir = tmp_path / "data"
    monkeypatch.setenv("KINDRED_DATA_DIR", str(data_dir))
    return data_dir


@pytest.mark.parametrize(
    ("keys", "complaint"),
    [
        ("changeme", "placeholder"),
        ("your-fernet-key-example", "placeholder"),
        ("", "no empty entry"),
        (f"{TEST_ENCRYPTION_KEYS},", "no empty entry"),
        ("dGhpcyBpcyBub3QgYSBrZXk=", "not a Fernet key"),
        (TEST_ENCRYPTION_KEYS[:-2], "not a Fernet key"),
        ("A" * 43 + "=", "too regular"),
        ("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=", "too regular"),  # "0123...01" as a key
        (f"{TEST_ENCRYPTION_KEYS},{TEST_ENCRYPTION_KEYS}", "twice"),
    ],
)
@pytest.mark.usefixtures("no_configured_keys")
def test_weak_or_malformed_keys_are_refused(
    monkeypatch: pytest.MonkeyPatch, keys: str, complaint: str
) -> None:
    """A key that is not a random Fernet key stops the start with a message, never echoing the key."""
    monkeypatch.setenv("KINDRED_ENCRYPTION_KEYS", keys)
    monkeypatch.setenv("KINDRED_COOKIE_KEY", TEST_COOKIE_KEY)
    with pytest.raises(SettingsError, match=complaint) as refused:
        load_settings()
    assert not (keys and keys in str(refused.value))


def test_production_requires_encryption_keys(
    no_configured_keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In production no key is generated: the operator must supply one, kept outside the database."""
    monkeypatch.setenv("KINDRED_ENVIRONMENT", "production")
    monkeypatch.setenv("KINDRED_COOKIE_KEY", TEST_COOKIE_KEY)
    with pytest.raises(SettingsError, match="KINDRED_ENCRYPTION_KEYS is not set"):
        load_settings()
    assert not (no_configured_keys / "secrets.toml").exists()


def test_a_first_local_start_generates_a_key_it_keeps(no_configured_keys: Path) -> None:
    """The first development start writes a random key beside the cookie key; later starts reuse it."""
    first = load_settings().encryption_key_list()
    again = load_settings().encryption_key_list()
    assert first == again and len(first) == 1
    assert (no_configured_keys / "secrets.toml").stat().st_mode & 0o777 == 0o600
    assert list(no_configured_keys.iterdir()) == [no_configured_keys / "secrets.toml"]


def test_secrets_from_an_older_version_gain_a_key_once(no_configured_keys: Path) -> None:
    """A data folder whose generated secrets hold only the cookie key (Kindred before encryption) gets one
    encryption key added, and every later start agrees on it."""
    no_configured_keys.mkdir(mode=0o700)
    secrets_file = no_configured_keys / "secrets.toml"
    secrets_file.write_text(f'[kindred]\ncookie_key = "{TEST_COOKIE_KEY}"\n')
    keys = {tuple(load_settings().encryption_key_list()) for _ in range(3)}
    assert len(keys) == 1
    assert load_settings().secret_cookie_key() == TEST_COOKIE_KEY
    assert secrets_file.read_text().count("encryption_keys") == 1


@pytest.mark.usefixtures("test_keyring")
def test_the_keyring_encrypts_with_the_newest_key() -> None:
    """New text is encrypted with the first key of the list; older keys only decrypt."""
    old, new = TEST_ENCRYPTION_KEYS, Fernet.generate_key().decode()
    crypto.configure([new, old])
    token = crypto.encrypt("hello")
    assert Fernet(new.encode()).decrypt(token.encode()) == b"hello"
    assert crypto.decrypt(Fernet(old.encode()).encrypt(b"older").decode()) == "older"


def test_exercise_record_data_is_a_token(engine: Engine) -> None:
    """Conversation notes and log days (ExerciseRecord.data) are stored as a token, read as the dict."""
    ana = make_person(engine, "ana")
    with write_session(engine) as session:
        session.add(
            ExerciseRecord(person_id=ana.person_id, stage="connection", exercise="talk", data={"notes": GOAL})
        )
    with engine.connect() as connection:
        assert (
            connection.execute(sa.text("SELECT data FROM exerciserecord")).scalar_one().startswith("gAAAAA")
        )
    with read_session(engine) as session:
        assert session.exec(select(ExerciseRecord.data)).one() == {"notes": GOAL}


@pytest.mark.usefixtures("test_keyring")
def test_an_upgraded_and_rotated_file_holds_no_plain_text(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database upgraded from plain text, then rotated: the file holds none of the old text (SQLite
    zeroes freed pages, and `rotate-keys` ends with a VACUUM), and the text reads back."""
    database = tmp_path / "kindred.db"
    engine = create_db_engine(f"sqlite:///{database}")
    command.upgrade(alembic_config(engine), "0004")
    ana = make_person_before_migrations(engine, "ana")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO reflection (person_id, context, body, visibility, created_at, updated_at) "
                "VALUES (:p, 'assessment:goals', :body, 'private', :now, :now)"
            ),
            {"p": ana.person_id, "body": GOAL * 400, "now": NOW},
        )
    migrate(engine)
    engine.dispose()
    monkeypatch.setenv("KINDRED_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("KINDRED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KINDRED_COOKIE_KEY", TEST_COOKIE_KEY)
    monkeypatch.setenv("KINDRED_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    get_settings.cache_clear()
    try:
        assert cli(["rotate-keys"]) == 0
    finally:
        get_settings.cache_clear()
    _assert_absent(_stored_bytes(database), (GOAL,))
    reopened = create_db_engine(f"sqlite:///{database}")
    try:
        with read_session(reopened) as session:
            assert session.exec(select(Reflection.body)).one() == GOAL * 400
    finally:
        reopened.dispose()
