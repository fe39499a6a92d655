"""program.ui.writes.written: the one way a page writes, so a refusal leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from program.infra import audit
from program.infra.models import AuditEvent, Role
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.ui import runtime, writes


class Refused(ValueError):
    pass


@pytest.fixture
def page_engine(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setattr(runtime, "engine", lambda: engine)
    return engine


def _actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent.action)))


def _write_then(error: Exception | None) -> Callable[[Session], object]:
    def write(session: Session) -> None:
        audit.record(session, action="test.written")
        if error is not None:
            raise error

    return write


def test_a_write_that_goes_through_is_committed(page_engine: Engine) -> None:
    assert writes.written(_write_then(None), Refused) is True
    assert _actions(page_engine) == ["test.written"]


def test_a_refusal_in_its_own_words_or_in_given_words_saves_nothing(page_engine: Engine) -> None:
    assert writes.written(_write_then(Refused("no")), Refused) is False
    denied: dict[type[Exception], str] = {AccessDenied: "This couple no longer gives you access."}
    assert writes.written(_write_then(AccessDenied("gone")), Refused, said=denied) is False
    assert _actions(page_engine) == []


def test_an_error_that_is_no_refusal_goes_on_up_and_saves_nothing(page_engine: Engine) -> None:
    with pytest.raises(AccessDenied):
        writes.written(_write_then(AccessDenied("gone")), Refused)
    with pytest.raises(KeyError):
        writes.written(_write_then(KeyError("bug")), Refused, said={AccessDenied: "words"})
    assert _actions(page_engine) == []


def test_a_step_is_given_the_session_viewer_running_program_and_now(
    page_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = object()
    monkeypatch.setattr(runtime, "program", lambda: program)
    given: dict[str, object] = {}

    def step(*, session: Session, **values: object) -> None:
        given.update(values)
        audit.record(session, action="test.step")

    viewer = Viewer(person_id=7, username="ana", display_name="Ana", role=Role.PARTNER)
    assert writes.step_written(step, viewer, Refused, said={AccessDenied: "gone"}, rating=4) is True
    assert given.keys() == {"viewer", "program", "now", "rating"}
    assert (given["viewer"], given["program"], given["rating"]) == (viewer, program, 4)
    assert _actions(page_engine) == ["test.step"]
