"""program.ui.writes.written: the one way a page writes, so a refusal leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from program.infra import audit
from program.infra.models import AuditEvent
from program.privacy.access import AccessDenied
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
