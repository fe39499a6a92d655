"""The safety screen in the flow: full then short forms in one's own "Due now", consent to tell the
therapist (never the answers, revocable, audited), a short idle time after a flag, localisable help."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.auth import login_sessions
from program.course import reminders, safety
from program.course.curriculum import ContentError, load_program
from program.infra.db import read_session, write_session
from program.infra.models import AuditEvent, Role, SafetyScreen
from program.infra.settings import CONTENT_DIR, Settings
from program.privacy import access, grants
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from tests.course.test_pauses import _journey
from tests.factories import grant, make_couple, make_person, start_login_session
from tests.program_helpers import PROGRAM, T0, finish_assessment

CONTENT = PROGRAM.safety
TODAY = date(2026, 11, 3)


def _screen(engine: Engine, viewer: Viewer, *, flag: bool, form: str = "full", now: datetime = T0) -> None:
    items = CONTENT.items_for(form)
    answers = {item.key: (item.flag_at if flag and item.key == "hurt" else 0) for item in items}
    with write_session(engine) as session:
        safety.submit_screen(
            session=session, viewer=viewer, content=CONTENT, answers=answers, now=now, form=form
        )


def _due(engine: Engine, viewer: Viewer) -> list[reminders.Reminder]:
    progress = _journey(engine, viewer)
    with read_session(engine) as session:
        due = safety.screen_due(
            session=session, viewer=viewer, opened_at=progress.opened_at(progress.current_stage())
        )
    return reminders.due_now(progress, checkin_done=True, today=TODAY, safety_due=due)


def test_the_screen_asks_about_ones_own_violence_choking_weapons_watching_and_drink_or_drugs() -> None:
    """The items the issue asks for are there, and the short form is a subset of the full one."""
    keys = {item.key for item in CONTENT.items}
    assert {"own-aggression", "choking-weapons", "watched", "own-watching", "drink-drugs"} <= keys
    short = [item.key for item in CONTENT.items_for("short")]
    assert set(short) < keys and {"hurt", "choking-weapons", "self-harm"} <= set(short)


def test_the_full_check_is_due_first_then_a_short_one_at_each_stage_start(engine: Engine) -> None:
    """Before any joint work the full screen heads "Due now"; once done, it comes back (short) only when a
    new stage opens after the latest screen."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    assert _due(engine, ana)[0] == reminders.SAFETY_FULL
    _screen(engine, ana, flag=False)
    assert reminders.SAFETY_FULL not in _due(engine, ana) and reminders.SAFETY_SHORT not in _due(engine, ana)
    finish_assessment(engine, ana, now=T0 + timedelta(days=1))
    finish_assessment(engine, ben, now=T0 + timedelta(days=2))  # Communication opens now, after the screen
    assert _due(engine, ana)[0] == reminders.SAFETY_SHORT
    assert _due(engine, ben)[0] == reminders.SAFETY_FULL  # Ben's own reminders depend on Ben's screens only
    _screen(engine, ana, flag=False, form="short", now=T0 + timedelta(days=3))
    assert reminders.SAFETY_SHORT not in _due(engine, ana)


def test_a_short_screen_stores_only_its_items_and_flags_from_them(engine: Engine) -> None:
    """The short form keeps its own answers under form "short"; a missing answer is refused, nothing saved."""
    ana = make_person(engine, "ana")
    with pytest.raises(safety.SafetyError, match="still open"), write_session(engine) as session:
        safety.submit_screen(session=session, viewer=ana, content=CONTENT, answers={}, now=T0, form="short")
    with pytest.raises(safety.SafetyError), write_session(engine) as session:
        safety.submit_screen(session=session, viewer=ana, content=CONTENT, answers={}, now=T0, form="tiny")
    _screen(engine, ana, flag=True, form="short")
    with read_session(engine) as session:
        [row] = session.exec(select(SafetyScreen)).all()
    assert row.form == "short" and row.flagged
    assert set(row.answers) == {item.key for item in CONTENT.items_for("short")}


def _therapist_couple(engine: Engine) -> tuple[Viewer, Viewer, Viewer, int]:
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    kim = make_person(engine, "dr.kim", Role.THERAPIST)
    couple = make_couple(engine, ana, ben)
    grant(engine, couple, kim, ana)
    grant(engine, couple, kim, ben)
    return ana, ben, kim, couple


def _share(engine: Engine, viewer: Viewer, therapist: Viewer, share: bool) -> None:
    with write_session(engine) as session:
        safety.share_attention(session=session, viewer=viewer, therapist_id=therapist.person_id, share=share)


def _attention(engine: Engine, therapist: Viewer, couple: int) -> list[int]:
    with read_session(engine) as session:
        return [
            f.person_id for f in access.safety_attention(session=session, viewer=therapist, couple_id=couple)
        ]


def test_the_therapist_learns_of_attention_only_with_consent_and_loses_it_on_revoke(engine: Engine) -> None:
    """Flagged alone tells the therapist nothing; consent tells "needs attention" (ids only, no answers);
    withdrawing consent, withdrawing access or a clear re-screen each take it away."""
    ana, ben, kim, couple = _therapist_couple(engine)
    _screen(engine, ana, flag=True)
    assert _attention(engine, kim, couple) == []
    _share(engine, ana, kim, True)
    assert _attention(engine, kim, couple) == [ana.person_id]
    with read_session(engine) as session:  # the therapist's list names whom to ask after
        (flag,) = access.safety_attention(session=session, viewer=kim, couple_id=couple)
    assert flag.name == "Ana"
    _share(engine, ana, kim, False)
    assert _attention(engine, kim, couple) == []
    _share(engine, ana, kim, True)
    _screen(engine, ana, flag=False, now=T0 + timedelta(days=1))
    assert _attention(engine, kim, couple) == []
    _screen(engine, ana, flag=True, now=T0 + timedelta(days=2))
    assert _attention(engine, kim, couple) == [ana.person_id]
    with write_session(engine) as session:
        grants.revoke_access(session=session, viewer=ana, therapist_id=kim.person_id, now=T0)
    with pytest.raises(AccessDenied), read_session(engine) as session:
        access.safety_attention(session=session, viewer=kim, couple_id=couple)


def test_only_a_flagged_person_shares_only_their_own_and_the_partner_cannot_ask(engine: Engine) -> None:
    """Ben (not flagged) cannot share; nobody but a therapist reads attention; another therapist gets none."""
    ana, ben, kim, couple = _therapist_couple(engine)
    other = make_person(engine, "dr.lee", Role.THERAPIST)
    _screen(engine, ben, flag=False)
    with pytest.raises(safety.SafetyError, match="nothing to share"):
        _share(engine, ben, kim, True)
    _screen(engine, ana, flag=True)
    with pytest.raises(safety.SafetyError, match="given access"):
        _share(engine, ana, other, True)
    _share(engine, ana, kim, True)
    for who in (ana, ben):
        with pytest.raises(AccessDenied), read_session(engine) as session:
            access.safety_attention(session=session, viewer=who, couple_id=couple)
    with pytest.raises(AccessDenied), read_session(engine) as session:
        access.safety_attention(session=session, viewer=other, couple_id=couple)


def test_each_consent_change_leaves_one_audit_row_outside_the_couples_record(engine: Engine) -> None:
    """Share, withdraw, share: three rows, actor the partner, subject the therapist, no couple (the partner
    reads couple rows), and repeating a choice writes nothing."""
    ana, _, kim, _ = _therapist_couple(engine)
    _screen(engine, ana, flag=True)
    for share in (True, True, False, True):
        _share(engine, ana, kim, share)
    with read_session(engine) as session:
        rows = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).startswith("safety."))
            .order_by(col(AuditEvent.id))
        ).all()
    assert [(r.action, r.actor_id, r.subject_id, r.couple_id) for r in rows] == [
        (safety.ATTENTION_SHARED, ana.person_id, kim.person_id, None),
        (safety.ATTENTION_WITHDRAWN, ana.person_id, kim.person_id, None),
        (safety.ATTENTION_SHARED, ana.person_id, kim.person_id, None),
    ]


POLICIES = login_sessions.Policies.from_settings(
    Settings(cookie_key=None, database_url="sqlite://", flagged_idle_minutes=15)
)


def _alive(engine: Engine, login: int, minutes: float) -> bool:
    with read_session(engine) as session:
        now = T0 + timedelta(minutes=minutes)
        return (
            login_sessions.resume(session=session, session_id=login, now=now, policies=POLICIES) is not None
        )


def test_after_a_flag_the_login_ends_after_15_idle_minutes(engine: Engine) -> None:
    """A flagged partner's login dies after 15 idle minutes; an unflagged one lives on; a clear screen
    restores the usual time."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    _screen(engine, ana, flag=True)
    _screen(engine, ben, flag=False)
    ana_login, ben_login = (start_login_session(engine, who, now=T0) for who in (ana, ben))
    assert _alive(engine, ana_login, 14) and not _alive(engine, ana_login, 15)
    assert _alive(engine, ben_login, 60 * 24)
    _screen(engine, ana, flag=False, now=T0 + timedelta(seconds=1))
    assert _alive(engine, ana_login, 60)


def test_the_flagged_idle_time_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """KINDRED_FLAGGED_IDLE_MINUTES sets it; 15 minutes by default; nonsense is refused."""
    assert Settings(cookie_key=None).flagged_idle_minutes == 15
    monkeypatch.setenv("KINDRED_FLAGGED_IDLE_MINUTES", "5")
    assert login_sessions.Policies.from_settings(Settings(cookie_key=None)).flagged_idle == timedelta(
        minutes=5
    )
    monkeypatch.setenv("KINDRED_FLAGGED_IDLE_MINUTES", "0")
    with pytest.raises(ValueError):
        Settings(cookie_key=None)


def test_the_help_list_serves_lgbtq_people_men_and_people_who_want_to_stop() -> None:
    """Kindred's own list names these services and says operators should localise it."""
    names = " ".join(r.name for r in CONTENT.resources).lower()
    assert "lgbtq+" in names and "for men" in names and "stop hurting" in names
    assert "replace it with services in your own area" in CONTENT.resources_note


def test_an_operator_localises_the_help_list_from_the_data_folder(tmp_path: Path) -> None:
    """A safety-resources.toml in the data folder replaces Kindred's; a broken one is named plainly."""
    (tmp_path / "safety-resources.toml").write_text(
        'note = "Services in Ghent."\n[[resources]]\nname = "Hulplijn 1712"\ndetail = "Bel 1712."\n'
    )
    local = load_program(CONTENT_DIR, operator_dir=tmp_path).safety
    assert [r.name for r in local.resources] == [
        "Hulplijn 1712"
    ] and local.resources_note == "Services in Ghent."
    (tmp_path / "safety-resources.toml").write_text("note = 'x'\n")
    with pytest.raises(ContentError, match=r"safety-resources\.toml: resources"):
        load_program(CONTENT_DIR, operator_dir=tmp_path)


def test_a_therapist_told_of_attention_still_never_reads_the_answers(engine: Engine) -> None:
    """Consent to "needs attention" opens no answers: the screens stay readable by their person alone."""
    ana, ben, kim, couple = _therapist_couple(engine)
    _screen(engine, ana, flag=True)
    _share(engine, ana, kim, True)
    assert _attention(engine, kim, couple) == [ana.person_id]
    with read_session(engine) as session:
        assert [
            s.person_id
            for s in access.readable_safety_screens(session=session, viewer=ana, person_id=ana.person_id)
        ] == [ana.person_id]
        for reader in (kim, ben):
            with pytest.raises(AccessDenied):
                access.readable_safety_screens(session=session, viewer=reader, person_id=ana.person_id)
