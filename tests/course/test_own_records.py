"""journey.own_records: the one condition for "the viewer's own exercise records in their current couple",
used by the journey, the booster review and the appreciation log, probed with a couple that ended and a
partner who re-formed with someone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import journey
from program.infra.db import read_session, write_session
from program.infra.models import ExerciseRecord
from program.privacy import access, couples
from program.privacy.viewer import Viewer
from tests.factories import make_person

KEY = b"k" * 32
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
STAGE = "communication"


def _form(engine: Engine, first: Viewer, second: Viewer, at: datetime) -> int:
    with write_session(engine) as session:
        invite = couples.create_couple(session=session, viewer=first, key=KEY, now=at)
    with write_session(engine) as session:
        return couples.join_couple(
            session=session, viewer=second, code=invite.code, key=KEY, now=at + timedelta(hours=1)
        )


def _record(engine: Engine, who: Viewer, couple_id: int, stage: str, exercise: str) -> None:
    with write_session(engine) as session:
        session.add(
            ExerciseRecord(
                person_id=who.person_id,
                couple_id=couple_id,
                stage=stage,
                exercise=exercise,
                started_at=START,
                updated_at=START,
            )
        )


def _own(engine: Engine, viewer: Viewer, stage: str) -> list[tuple[int, int | None, str]]:
    with read_session(engine) as session:
        couple_id = access.current_couple_id(session=session, viewer=viewer)
        rows = session.exec(select(ExerciseRecord).where(journey.own_records(viewer, couple_id, stage)))
        return sorted((r.person_id, r.couple_id, r.exercise) for r in rows)


def test_only_the_viewers_own_records_of_the_stage_in_the_current_couple(engine: Engine) -> None:
    ana, ben, cai = (make_person(engine, name) for name in ("ana", "ben", "cai"))
    first = _form(engine, ana, ben, START)
    _record(engine, ana, first, STAGE, "with-ben")
    _record(engine, ben, first, STAGE, "bens")
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=START + timedelta(days=1))
    second = _form(engine, cai, ana, START + timedelta(days=2))
    _record(engine, ana, second, STAGE, "with-cai")
    _record(engine, ana, second, "trust", "other-stage")
    _record(engine, cai, second, STAGE, "cais")
    # Ana's record with Ben stays that couple's; Cai's and Ben's are never Ana's; another stage is not this.
    assert _own(engine, ana, STAGE) == [(ana.person_id, second, "with-cai")]
    assert _own(engine, cai, STAGE) == [(cai.person_id, second, "cais")]
    assert _own(engine, ana, "trust") == [(ana.person_id, second, "other-stage")]
