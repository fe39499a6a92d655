"""Deleting an account: every row of the person is gone, the couple ends, the partner keeps their own data."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, col, select

from program.auth import accounts, login_sessions
from program.course import checkins, reflections
from program.course.curriculum import CHECKIN_KEYS
from program.infra.db import read_session, write_session
from program.infra.models import (
    AuditEvent,
    CheckIn,
    Couple,
    HomeworkAssignment,
    HomeworkCompletion,
    LoginThrottle,
    Reflection,
    Role,
    SafetyScreen,
    TherapistNote,
    Visibility,
    utcnow,
)
from program.privacy import couples, grants
from program.privacy.tables import CoupleMembership, TherapistGrant
from program.privacy.viewer import Viewer
from program.your_data import deletion, export
from tests.factories import PASSWORD, TEST_POLICIES, make_person, start_login_session
from tests.program_helpers import PROGRAM, T0, finish_assessment

KEY = b"k" * 32
BASELINE = PROGRAM.assessment.overview.questionnaire
# Names and texts that occur nowhere else, so finding one anywhere in the database is a leftover.
ZU = "zuzanna"
ZU_TEXTS = ("Zuzanna-secret-reflection", "Zuzanna-shared-reflection", "Zuzanna-checkin-note", "Zuzanna-log")


def _pair(engine: Engine, first: Viewer, second: Viewer) -> int:
    with write_session(engine) as session:
        code = couples.create_couple(session=session, viewer=first, key=KEY, now=T0).code
    with write_session(engine) as session:
        return couples.join_couple(session=session, viewer=second, code=code, key=KEY, now=T0)


def _write(engine: Engine, viewer: Viewer, context: str, body: str, visibility: Visibility) -> None:
    with write_session(engine) as session:
        reflections.save_text(
            session=session, viewer=viewer, context=context, body=body, visibility=visibility, now=T0
        )


def _checkin(engine: Engine, viewer: Viewer, note: str) -> None:
    with write_session(engine) as session:
        checkins.save_checkin(
            session=session, viewer=viewer, ratings=dict.fromkeys(CHECKIN_KEYS, 6), note=note,
            note_visibility=Visibility.PARTNER, today=T0.date(), now=T0,
        )  # fmt: skip


@dataclass(frozen=True)
class Story:
    zu: Viewer
    ben: Viewer
    kim: Viewer
    couple: int
    other_couple: int


def _zuzanna_with_ben_and_dr_kim(engine: Engine) -> Story:
    """Zuzanna and Ben work through the assessment, write, check in, do homework, give Dr Kim access (who
    opens the couple and keeps notes); Zuzanna has a safety screen, logins, a reset code and failed logins.
    Dr Kim also sees another couple, Eve and Fay, and keeps a note on them."""
    zu = make_person(engine, ZU, name="Zuzanna")
    ben = make_person(engine, "ben", name="Ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, name="Dr Kim")
    eve, fay = make_person(engine, "eve"), make_person(engine, "fay")
    couple = _pair(engine, zu, ben)
    other_couple = _pair(engine, eve, fay)
    for partner in (zu, ben):
        finish_assessment(engine, partner)
        _checkin(engine, partner, f"{partner.display_name}-checkin-note")
    _write(engine, zu, "assessment:private", "Zuzanna-secret-reflection", Visibility.PRIVATE)
    _write(engine, zu, "assessment:shared", "Zuzanna-shared-reflection", Visibility.PARTNER)
    _write(engine, ben, "assessment:shared", "Ben-shared-reflection", Visibility.PARTNER)
    with write_session(engine) as session:
        homework = HomeworkAssignment(
            couple_id=couple, title="Walk", due_on=T0.date(), assigned_by_id=zu.person_id
        )
        session.add(homework)
        session.flush()
        assert homework.id is not None
        for partner in (zu, ben):
            session.add(HomeworkCompletion(assignment_id=homework.id, person_id=partner.person_id))
        session.add(SafetyScreen(person_id=zu.person_id, answers={"fear": 3, "Zuzanna-log": 1}, flagged=True))
        for couple_id, partners in ((couple, (zu, ben)), (other_couple, (eve, fay))):
            for partner in partners:
                session.add(
                    TherapistGrant(
                        couple_id=couple_id, therapist_id=kim.person_id, partner_id=partner.person_id,
                        share_safety_screen=True,
                    )
                )  # fmt: skip
        session.add(
            TherapistNote(therapist_id=kim.person_id, couple_id=couple, body="note on Zuzanna and Ben")
        )
        session.add(
            TherapistNote(therapist_id=kim.person_id, couple_id=other_couple, body="note on Eve and Fay")
        )
    with write_session(engine) as session:
        grants.open_couple(session=session, viewer=kim, couple_id=couple, what="progress charts")
        accounts.issue_reset_code(session=session, username=ZU, key=KEY, now=utcnow())
    start_login_session(engine, zu)
    with pytest.raises(accounts.LoginRefused):
        accounts.attempt_login(
            engine=engine, username=ZU, password="wrong guess!", key=KEY, rounds=4, now=utcnow()
        )
    return Story(zu, ben, kim, couple, other_couple)


def _person_columns() -> list[tuple[sa.Table, sa.Column[Any]]]:
    """Every column of every table that points at a person."""
    return [
        (table, column)
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if any(fk.column.table.name == "person" for fk in column.foreign_keys)
        or (table.name == "person" and column.name == "id")
    ]


def _leftovers(engine: Engine, person_id: int, texts: tuple[str, ...]) -> list[str]:
    """Where in the whole database this person's id (in any person column) or any of their texts remain."""
    found: list[str] = []
    with engine.connect() as connection:
        for table, column in _person_columns():
            count = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(column == person_id)
            ).scalar_one()
            if count:
                found.append(f"{table.name}.{column.name}: {count} row(s)")
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                flat = repr(tuple(row)).lower()
                found += [f"{table.name}: {text!r}" for text in texts if text.lower() in flat]
    return found


def test_a_person_column_check_covers_every_table_that_names_people() -> None:
    """The leftover check looks at every person column the schema has (logins, audit, grants, ...)."""
    names = {f"{table.name}.{column.name}" for table, column in _person_columns()}
    assert {
        "loginsession.person_id", "auditevent.actor_id", "auditevent.subject_id", "reflection.person_id",
        "therapistgrant.partner_id", "safetyscreen.person_id", "couple.created_by_id",
    } <= names  # fmt: skip


def test_deleting_leaves_no_row_pointer_or_text_of_the_person_in_any_table(engine: Engine) -> None:
    """After Zuzanna deletes her account, no table holds her id in a person column, her username, her
    display name or anything she wrote; the trail records that an account was deleted, not whose."""
    story = _zuzanna_with_ben_and_dr_kim(engine)
    assert _leftovers(engine, story.zu.person_id, (ZU, *ZU_TEXTS))  # the check sees them before
    deletion.delete_own_account(
        engine=engine, viewer=story.zu, typed_username=" Zuzanna ", password=PASSWORD, key=KEY, now=utcnow()
    )
    assert _leftovers(engine, story.zu.person_id, (ZU, *ZU_TEXTS)) == []
    with read_session(engine) as session:
        deleted = session.exec(select(AuditEvent).where(AuditEvent.action == deletion.DELETED)).one()
        assert (deleted.actor_id, deleted.subject_id) == (None, None)
        assert session.exec(select(LoginThrottle)).all() == []


def test_the_couple_ends_and_the_partner_keeps_all_of_his_own_data(engine: Engine) -> None:
    """Ben sees the couple ended, as after leaving; his texts, check-ins, answers and homework stay."""
    story = _zuzanna_with_ben_and_dr_kim(engine)

    def bens() -> list[int]:
        with read_session(engine) as session:
            return [
                len(session.exec(select(model).where(col(model.person_id) == story.ben.person_id)).all())
                for model in (Reflection, CheckIn, HomeworkCompletion, CoupleMembership)
            ] + [
                len(
                    session.exec(
                        select(TherapistGrant).where(TherapistGrant.partner_id == story.ben.person_id)
                    ).all()
                )
            ]

    before = bens()
    deletion.delete_own_account(
        engine=engine, viewer=story.zu, typed_username=ZU, password=PASSWORD, key=KEY, now=utcnow()
    )
    assert bens() == before and all(before)
    with read_session(engine) as session:
        assert couples.partner_status(session=session, viewer=story.ben) == couples.PartnerStatus(None, None)
        assert session.get(Couple, story.couple) is not None
        ben_grant = session.exec(
            select(TherapistGrant).where(TherapistGrant.partner_id == story.ben.person_id)
        )
        assert all(g.revoked_at is not None for g in ben_grant)
        assert [r.body for r in session.exec(select(Reflection))] == ["Ben-shared-reflection"]


def test_the_therapist_s_notes_about_the_couple_go_and_other_couples_notes_stay(engine: Engine) -> None:
    """Dr Kim's notes on Zuzanna and Ben are deleted with her account; the notes on Eve and Fay are not."""
    story = _zuzanna_with_ben_and_dr_kim(engine)
    result = deletion.delete_own_account(
        engine=engine, viewer=story.zu, typed_username=ZU, password=PASSWORD, key=KEY, now=utcnow()
    )
    with read_session(engine) as session:
        assert [n.body for n in session.exec(select(TherapistNote))] == ["note on Eve and Fay"]
    assert (result.couples_ended, result.notes_deleted) == (1, 1)


def test_notes_about_a_former_couple_go_too(engine: Engine) -> None:
    """Leaving first and deleting later still deletes the notes about that couple."""
    story = _zuzanna_with_ben_and_dr_kim(engine)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=story.zu, now=utcnow())
    deletion.delete_own_account(
        engine=engine, viewer=story.zu, typed_username=ZU, password=PASSWORD, key=KEY, now=utcnow()
    )
    with read_session(engine) as session:
        assert [n.body for n in session.exec(select(TherapistNote))] == ["note on Eve and Fay"]


def test_the_deleted_person_cannot_log_in_and_their_logins_end_at_once(engine: Engine) -> None:
    """Her live login no longer resumes, and her password no longer opens anything."""
    story = _zuzanna_with_ben_and_dr_kim(engine)
    login = start_login_session(engine, story.zu)
    deletion.delete_own_account(
        engine=engine, viewer=story.zu, typed_username=ZU, password=PASSWORD, key=KEY, now=utcnow()
    )
    with read_session(engine) as session:
        assert (
            login_sessions.resume(session=session, session_id=login, now=utcnow(), policies=TEST_POLICIES)
            is None
        )
    with pytest.raises(accounts.LoginRefused):
        accounts.attempt_login(engine=engine, username=ZU, password=PASSWORD, key=KEY, rounds=4, now=utcnow())


@pytest.mark.parametrize(
    ("typed", "password", "message"),
    [
        ("ben", PASSWORD, "type your username exactly"),
        ("", PASSWORD, "type your username exactly"),
        (ZU, "not the password at all", "password is not right"),
        (ZU, "", "password is not right"),
        (ZU, "x" * 100, "password is not right"),
    ],
)
def test_a_wrong_confirmation_deletes_nothing(
    engine: Engine, typed: str, password: str, message: str
) -> None:
    """Another name, nothing, or a wrong password: a clear message and every row still there."""
    story = _zuzanna_with_ben_and_dr_kim(engine)
    before = _leftovers(engine, story.zu.person_id, (ZU, *ZU_TEXTS))
    with pytest.raises(deletion.DeletionError, match=message):
        deletion.delete_own_account(
            engine=engine, viewer=story.zu, typed_username=typed, password=password, key=KEY, now=utcnow()
        )
    assert _leftovers(engine, story.zu.person_id, (ZU, *ZU_TEXTS)) == before


def test_a_therapist_deleting_takes_their_notes_and_grants_and_the_couples_keep_everything(
    engine: Engine,
) -> None:
    """Dr Kim's account goes with all her notes and grants; the partners' own rows stay."""
    story = _zuzanna_with_ben_and_dr_kim(engine)
    deletion.delete_own_account(
        engine=engine, viewer=story.kim, typed_username="dr.kim", password=PASSWORD, key=KEY, now=utcnow()
    )
    assert _leftovers(engine, story.kim.person_id, ("dr.kim", "Dr Kim", "note on")) == []
    with read_session(engine) as session:
        assert couples.partner_status(session=session, viewer=story.zu).partner_name == "Ben"
        assert len(session.exec(select(Reflection)).all()) == 3


def test_a_couple_nobody_joined_goes_with_its_only_partner(engine: Engine) -> None:
    """Waiting alone for a partner: the couple and its invite code are deleted too."""
    zu = make_person(engine, ZU, name="Zuzanna")
    with write_session(engine) as session:
        couples.create_couple(session=session, viewer=zu, key=KEY, now=utcnow())
    deletion.delete_by_username(engine=engine, username=ZU, key=KEY, now=utcnow())
    with read_session(engine) as session:
        assert session.exec(select(Couple)).all() == []
    assert _leftovers(engine, zu.person_id, (ZU,)) == []


def test_the_operator_is_told_about_unknown_usernames(engine: Engine) -> None:
    """A typo deletes nothing and says so."""
    with pytest.raises(deletion.DeletionError, match="no account named 'nobody'"):
        deletion.delete_by_username(engine=engine, username="nobody", key=KEY, now=utcnow())


def test_the_partner_s_later_export_shows_nothing_of_her(engine: Engine) -> None:
    """Ben's own export after the deletion names neither Zuzanna nor anything she shared with him."""
    story = _zuzanna_with_ben_and_dr_kim(engine)
    deletion.delete_own_account(
        engine=engine,
        viewer=story.zu,
        typed_username=ZU,
        password=PASSWORD,
        key=KEY,
        now=utcnow() + timedelta(1),
    )
    with read_session(engine) as session:
        data = export.export_zip(session=session, viewer=story.ben, program=PROGRAM, now=utcnow())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        everything = "\n".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    assert "Zuzanna" not in everything and ZU not in everything


def test_confirming_with_the_password_cannot_be_used_to_guess_it(engine: Engine) -> None:
    """Someone at a borrowed, logged-in device gets five tries; after that even the right password waits,
    and nothing is deleted."""
    story = _zuzanna_with_ben_and_dr_kim(engine)
    for attempt in range(deletion.CONFIRM_TRIES):
        with pytest.raises(deletion.DeletionError, match="password is not right"):
            deletion.delete_own_account(
                engine=engine, viewer=story.zu, typed_username=ZU, password=f"guess {attempt}", key=KEY,
                now=utcnow(),
            )  # fmt: skip
    with pytest.raises(deletion.DeletionError, match="Too many tries"):
        deletion.delete_own_account(
            engine=engine, viewer=story.zu, typed_username=ZU, password=PASSWORD, key=KEY, now=utcnow()
        )
    with read_session(engine) as session:
        assert couples.partner_status(session=session, viewer=story.ben).partner_name == "Zuzanna"
    later = utcnow() + deletion.CONFIRM_WINDOW
    deletion.delete_own_account(
        engine=engine, viewer=story.zu, typed_username=ZU, password=PASSWORD, key=KEY, now=later
    )
    with read_session(engine) as session:
        assert session.exec(select(LoginThrottle)).all() == []
