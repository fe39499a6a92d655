"""A broken content file stops the app with a message partners see: it names the file, not server paths."""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.factories import make_person
from tests.ui.helpers import app, as_viewer, texts

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def test_a_broken_operator_instrument_is_named_without_the_servers_path(
    app_env: Engine, tmp_path: Path
) -> None:
    """A partner opening Kindred with a broken operator file sees the file and field, no absolute path."""
    operator = tmp_path / "data" / "instruments"
    operator.mkdir(parents=True)
    broken = operator / "test-instrument.toml"
    shutil.copy(GOLDEN / "test-instrument.toml", broken)
    broken.write_text(broken.read_text().replace("min_answered = 0.75", "min_answered = 1.5"))
    ana = make_person(app_env, "ana", name="Ana")
    at = as_viewer(app(), ana, app_env).run()
    assert not at.exception
    shown = [e.value for e in at.error]
    assert len(shown) == 1, texts(at)
    message = shown[0]
    assert "program content has a problem" in message
    assert "instruments/test-instrument.toml: " in message and "min_answered" in message
    assert str(tmp_path) not in message
    assert " /" not in message and "'/" not in message and "(/" not in message
