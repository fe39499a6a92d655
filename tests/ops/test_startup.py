"""Start-up: migrations run before the server answers, and a start on a current database stays cheap."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from program.infra import db
from program.infra.db import alembic_config, create_db_engine, head_revision, migrate, schema_is_current
from program.ops.cli import main
from tests.conftest import ROOT, TEST_COOKIE_KEY, TEST_ENCRYPTION_KEYS
from tests.databases import fresh_database
from tests.therapist.test_caseload_queries import _counting
from tests.ui.helpers import app

HEAD = ScriptDirectory(str(db.MIGRATIONS_DIR)).get_current_head()
OLD_REVISION = "0008"
SERVER_START_LIMIT_S = 60


def _versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())


def _statements(engine: Engine, work: Any) -> list[str]:
    with _counting(engine) as seen:
        work()
    return seen


@pytest.fixture
def old_database(tmp_path: Path) -> Any:
    """A database migrated only to an older revision, as an upgrade of Kindred finds it."""
    with fresh_database(tmp_path) as url:
        engine = create_db_engine(url)
        command.upgrade(alembic_config(engine), OLD_REVISION)
        yield url, engine
        engine.dispose()


def test_the_newest_migration_is_read_from_the_files_as_alembic_reads_it() -> None:
    """The quick check's idea of the newest migration is Alembic's (a new migration file moves both)."""
    assert HEAD is not None and head_revision() == HEAD


def test_two_newest_migrations_leave_the_decision_to_alembic(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a branch (two heads) or a file the quick check cannot read, it never claims the schema current."""
    copy = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, copy)
    for name in ("a", "b"):
        (copy / "versions" / f"9999{name}_branch.py").write_text(
            f'revision: str = "9999{name}"\ndown_revision: str | None = "{HEAD}"\n'
        )
    monkeypatch.setattr(db, "MIGRATIONS_DIR", copy)
    assert head_revision() is None
    assert not schema_is_current(engine)
    merge = 'revision = "9999b"\ndown_revision = ("9999a", "0001")\n'  # a merge: not a plain string
    (copy / "versions" / "9999b_branch.py").write_text(merge)
    assert head_revision() is None


def test_a_current_database_is_checked_with_one_read(engine: Engine) -> None:
    """Migrating a database already at the newest migration reads its version once and changes nothing."""
    statements = _statements(engine, lambda: migrate(engine))
    # SQLite's BEGIN is our own (db._configure_sqlite); PostgreSQL's is not a statement of its own here.
    assert [s for s in statements if s != "BEGIN"] == ["SELECT version_num FROM alembic_version"]
    assert _versions(engine) == [HEAD]


@pytest.mark.usefixtures("tmp_path")
def test_a_current_database_starts_without_importing_alembic(old_database: tuple[str, Engine]) -> None:
    """A fresh process on a migrated database never imports Alembic (about 0.2 s of every cold start).

    On a database of its own: another process opening the suite's shared SQLite file while this one holds
    connections to it left later concurrent writers with "disk I/O error"."""
    database_url, old = old_database
    migrate(old)
    old.dispose()
    probe = (
        "import sys\n"
        "from program.infra.db import create_db_engine, migrate\n"
        f"migrate(create_db_engine({database_url!r}))\n"
        "print('alembic' in sys.modules, 'zxcvbn' in sys.modules, 'icalendar' in sys.modules)\n"
        "import program.ui.gate, program.ui.navigation, program.ui.runtime, program.course.checkins\n"
        "print('alembic' in sys.modules, 'zxcvbn' in sys.modules, 'icalendar' in sys.modules)\n"
    )
    keys = {"KINDRED_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS, "KINDRED_COOKIE_KEY": TEST_COOKIE_KEY}
    env = {**os.environ, **keys}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["False"] * 6, done.stdout


def test_a_new_database_and_an_old_one_are_migrated(old_database: tuple[str, Engine], tmp_path: Path) -> None:
    """The quick check sends an empty database and one at an older revision through Alembic."""
    _url, old = old_database
    assert not schema_is_current(old)
    migrate(old)
    assert schema_is_current(old) and _versions(old) == [HEAD]
    with fresh_database(tmp_path / "new") as url:
        new = create_db_engine(url)
        try:
            assert not schema_is_current(new)
            migrate(new)
            assert _versions(new) == [HEAD]
        finally:
            new.dispose()


def test_plain_streamlit_run_on_an_old_database_migrates_it_first(
    old_database: tuple[str, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`streamlit run app.py` without `serve` still migrates on the first visit, then shows the login form."""
    url, old = old_database
    monkeypatch.setenv("KINDRED_DATABASE_URL", url)
    monkeypatch.setenv("KINDRED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KINDRED_COOKIE_KEY", TEST_COOKIE_KEY)
    monkeypatch.setenv("KINDRED_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    from program.infra.settings import get_settings

    get_settings.cache_clear()
    try:
        at = app().run(timeout=120)
    finally:
        get_settings.cache_clear()
    assert not at.exception
    assert [button.label for button in at.button if button.label == "Log in"] == ["Log in"]
    assert _versions(old) == [HEAD]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_serve_migrates_before_the_server_answers(old_database: tuple[str, Engine], tmp_path: Path) -> None:
    """`python -m program serve` brings an old database to the newest migration before its first answer."""
    url, old = old_database
    port = _free_port()
    env = {
        **os.environ,
        "KINDRED_DATABASE_URL": url,
        "KINDRED_DATA_DIR": str(tmp_path / "data"),
        "KINDRED_COOKIE_KEY": TEST_COOKIE_KEY,
        "KINDRED_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
    }
    command_line = [sys.executable, "-m", "program", "serve", "--server.address", "127.0.0.1",
                    "--server.port", str(port), "--server.headless", "true",
                    "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]  # fmt: skip
    compiled = ROOT / "program" / "infra" / "__pycache__" / f"models.{sys.implementation.cache_tag}.pyc"
    compiled.unlink(missing_ok=True)  # so that only this start can have written it
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command_line, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_LIMIT_S
        while not _healthy(f"http://127.0.0.1:{port}"):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)  # the interval between polls
        # Its first answer: nobody has opened a page yet, and the schema is already the newest.
        assert _versions(old) == [HEAD]
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "Traceback" not in log.read_text(), log.read_text()
    # Kindred's own modules were compiled, so the next process does not compile them again.
    assert compiled.exists()


@pytest.mark.usefixtures("app_env")
def test_streamlit_options_are_refused_by_the_other_commands(capsys: pytest.CaptureFixture[str]) -> None:
    """Only `serve` passes options on; elsewhere an unknown option is an error, and nothing runs."""
    with pytest.raises(SystemExit) as exit_info:
        main(["migrate", "--server.port", "8502"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --server.port 8502" in capsys.readouterr().err
