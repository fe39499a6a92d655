"""Demo data: one command loads a couple with weeks of history and their therapist, who has four more couples
on her caseload; real databases refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from program.auth import accounts
from program.course import checkins, journey, outcomes, questionnaires, scoring
from program.course.curriculum import Instrument, Program, load_program
from program.course.questionnaires import BASELINE
from program.infra.models import (
    FEEDBACK_ITEMS,
    AuditEvent,
    CheckIn,
    Couple,
    HomeworkAssignment,
    HomeworkCompletion,
    Person,
    QuestionnaireSubmission,
    SafetyScreen,
    SessionFeedback,
    SubmissionStatus,
    TherapistNote,
    TherapySession,
    Visibility,
)
from program.infra.settings import Settings
from program.ops.cli import main
from program.ops.demo import (
    CASELOAD,
    DEMO_PASSWORD,
    SESSION_NOTE,
    DemoAccounts,
    DemoError,
    full_weeks,
    load_demo,
)
from program.privacy import access, grants
from program.privacy.access import AccessDenied
from program.privacy.tables import CoupleMembership, TherapistGrant
from program.privacy.viewer import Viewer
from program.therapist import caseload, homework, session_notes
from tests.factories import make_person

TODAY = date(2026, 3, 18)  # a Wednesday
# Sam skipped one week in the middle and hasn't checked in this week yet.
SAM_CHECKINS = 10
# The therapist's four other couples: eight more partners, and their check-ins in a 12-week demo.
OTHER_PARTNERS = 8
OTHER_CHECKINS = 5 + 5 + 8 + 8 + 5 + 5 + 1 + 1


@pytest.fixture(scope="module")
def program() -> Program:
    """The shipped program content."""
    return load_program()


@pytest.fixture
def demo(engine: Engine, program: Program) -> DemoAccounts:
    """The demo, loaded into an empty database: 12 weeks, so the couple are in the middle of the program."""
    return load_demo(engine=engine, program=program, weeks=12, today=TODAY, bcrypt_rounds=4)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session for looking at what was loaded."""
    with Session(engine) as session:
        yield session


def viewer(session: Session, username: str) -> Viewer:
    """The demo person with this username, as a viewer."""
    person = session.exec(select(Person).where(Person.username == username)).one()
    return Viewer.of(person)


def checkin_weeks(session: Session, username: str) -> list[date]:
    """The weeks this person checked in, oldest first."""
    return list(
        session.exec(
            select(col(CheckIn.week_start))
            .join(Person, col(Person.id) == CheckIn.person_id)
            .where(Person.username == username)
            .order_by(col(CheckIn.week_start))
        )
    )


def count(session: Session, table: type[object]) -> int:
    """How many rows a table has."""
    return session.exec(select(func.count()).select_from(table)).one()


@pytest.mark.usefixtures("demo")
def test_loads_twelve_weeks_of_check_ins_ending_this_week(db: Session) -> None:
    """Alex checked in every one of the 12 weeks (this one too); Sam missed one and hasn't done this week."""
    this_week = checkins.week_start(TODAY)
    alex = checkin_weeks(db, "demo-alex")
    assert alex == [this_week - timedelta(weeks=11 - n) for n in range(12)]
    sam = checkin_weeks(db, "demo-sam")
    assert len(sam) == SAM_CHECKINS
    assert sam[0] == alex[0] and this_week not in sam
    rows = db.exec(select(CheckIn)).all()
    assert all(row.created_at <= datetime.combine(TODAY, datetime.max.time(), tzinfo=UTC) for row in rows)
    assert {row.note_visibility for row in rows if row.note} >= {Visibility.PRIVATE, Visibility.PARTNER}


@pytest.mark.usefixtures("demo")
def test_ratings_improve_gently_and_differ_between_partners(db: Session) -> None:
    """Each partner's every rating ends above where it began, with ups and downs, on lines of their own."""
    by_person: dict[int, list[CheckIn]] = {}
    for row in db.exec(select(CheckIn).order_by(col(CheckIn.week_start))):
        by_person.setdefault(row.person_id, []).append(row)
    alex, sam = (by_person[viewer(db, name).person_id] for name in ("demo-alex", "demo-sam"))
    for series in (alex, sam):
        for rating in ("closeness", "communication", "conflict", "trust", "overall"):
            values = [getattr(row, rating) for row in series]
            assert values[-1] > values[0], (rating, values)
        overall = [row.overall for row in series]
        assert any(later < earlier for earlier, later in zip(overall, overall[1:], strict=False))
    assert [r.overall for r in alex[:SAM_CHECKINS]] != [r.overall for r in sam]


def test_both_baselines_are_sent_with_answers_that_differ(demo: DemoAccounts, db: Session) -> None:
    """Both partners sent the baseline, and they answered enough items differently for a perception gap."""
    alex = viewer(db, "demo-alex")
    sent = db.exec(
        select(QuestionnaireSubmission).where(
            QuestionnaireSubmission.couple_id == demo.couple_id,
            QuestionnaireSubmission.occasion == BASELINE,
            QuestionnaireSubmission.status == SubmissionStatus.SUBMITTED,
        )
    ).all()
    assert len(sent) == 2
    answers = access.readable_answers(
        session=db, viewer=alex, couple_id=demo.couple_id, instrument="kindred-baseline", occasion=BASELINE
    )
    assert len(answers) == 2
    mine, theirs = answers.values()
    assert len(mine) == 25
    assert sum(abs((mine[item] or 0) - (theirs[item] or 0)) >= 2 for item in mine) >= 3


def test_the_therapist_sees_the_couple_and_a_view_is_recorded(demo: DemoAccounts, db: Session) -> None:
    """Both partners granted the demo therapist access, and one earlier view is in the couple's record."""
    therapist = viewer(db, demo.therapist)
    assert demo.couple_id in access.couples_visible_to_therapist(session=db, viewer=therapist)
    record = grants.view_record(session=db, viewer=viewer(db, "demo-sam"))
    assert {view.therapist_name for view in record} == {"Dr Rivera"}
    views = [view for view in record if view.action == grants.VIEWED]
    assert len(views) == 1 and views[0].at.date() < checkins.week_start(TODAY)


def test_the_therapist_has_a_caseload_of_five_couples_each_letting_her_in(
    demo: DemoAccounts, db: Session
) -> None:
    """Dr Rivera sees the demo couple and four more, each pair of partners as named, and each couple by both
    partners' standing grants (one partner's would not let her in)."""
    therapist = viewer(db, demo.therapist)
    visible = access.couples_visible_to_therapist(session=db, viewer=therapist)
    assert sorted(visible) == sorted([demo.couple_id, *demo.other_couple_ids])
    assert len(set(visible)) == 1 + len(CASELOAD) == 5
    for couple_id, couple in zip(demo.other_couple_ids, CASELOAD, strict=True):
        names = db.exec(
            select(Person.display_name)
            .join(CoupleMembership, col(CoupleMembership.person_id) == Person.id)
            .where(CoupleMembership.couple_id == couple_id, col(CoupleMembership.left_at).is_(None))
        ).all()
        assert sorted(names) == sorted(name for _, name in couple.partners)
        granted_by = db.exec(
            select(TherapistGrant.partner_id).where(
                TherapistGrant.couple_id == couple_id,
                TherapistGrant.therapist_id == therapist.person_id,
                col(TherapistGrant.revoked_at).is_(None),
            )
        ).all()
        assert len(set(granted_by)) == 2
    # No partner of one couple sees another's: each sees only their own couple.
    for username in demo.other_partners:
        own = access.current_couple_id(session=db, viewer=viewer(db, username))
        assert own in demo.other_couple_ids and own != demo.couple_id


def _caseload_checkins(db: Session, username: str) -> list[int]:
    return [
        row.overall
        for row in db.exec(
            select(CheckIn)
            .join(Person, col(Person.id) == CheckIn.person_id)
            .where(Person.username == username)
            .order_by(col(CheckIn.week_start))
        )
    ]


@pytest.mark.usefixtures("demo")
def test_one_couple_drops_one_goes_quiet_and_one_is_steady(db: Session) -> None:
    """Priya's overall check-in falls by 3 or more points against the weeks before; Morgan and Lee have done
    nothing for over three weeks; Jordan and Casey end level with each other, a point or more up."""
    priya = _caseload_checkins(db, "demo-priya")
    assert sum(priya[-4:-1]) / 3 - priya[-1] >= 2.5 and max(priya[:-2]) - priya[-1] >= 3
    tom = _caseload_checkins(db, "demo-tom")
    assert tom[-1] - priya[-1] >= 3
    for username in ("demo-morgan", "demo-lee"):
        last = db.exec(
            select(func.max(CheckIn.created_at))
            .join(Person, col(Person.id) == CheckIn.person_id)
            .where(Person.username == username)
        ).one()
        assert last is not None and (TODAY - last.date()).days > 20
    jordan, casey = _caseload_checkins(db, "demo-jordan"), _caseload_checkins(db, "demo-casey")
    assert jordan[-1] == casey[-1] and jordan[-1] > jordan[0] and casey[-1] > casey[0]


def test_the_caseload_explains_each_couples_alerts(demo: DemoAccounts, db: Session, program: Program) -> None:
    """Through the caseload the therapist reads: Alex and Sam's overdue homework and split session, Priya's
    drop and the gap to Tom, Morgan and Lee each quiet for over three weeks, and nothing for Jordan and
    Casey or for Zoë and Mateo, who have just begun. Each alert names the partner it is about."""
    rows = caseload.load_caseload(
        session=db,
        viewer=viewer(db, demo.therapist),
        program=program,
        settings=Settings.model_construct(),
        today=TODAY,
    )
    by_names = {tuple(p.name for p in row.partners): row for row in rows}
    assert set(by_names) == {("Alex", "Sam"), *(tuple(n for _, n in c.partners) for c in CASELOAD)}
    kinds = {names: sorted(a.kind for a in row.alerts) for names, row in by_names.items()}
    assert kinds == {
        ("Alex", "Sam"): ["feedback-split", "homework-overdue"],
        ("Priya", "Tom"): ["checkin-drop", "partner-gap"],
        ("Morgan", "Lee"): ["inactive", "inactive"],
        ("Jordan", "Casey"): [],
        ("Zoë", "Mateo"): [],
    }
    drop = next(a for a in by_names["Priya", "Tom"].alerts if a.kind == "checkin-drop")
    assert "Priya" in drop.text and drop.person_id == viewer(db, "demo-priya").person_id
    overdue = next(a for a in by_names["Alex", "Sam"].alerts if a.kind == "homework-overdue")
    assert "Plan a money talk" in overdue.text
    assert {a.text.split(":")[0] for a in by_names["Morgan", "Lee"].alerts} == {"Morgan", "Lee"}


def test_the_demo_couple_has_homework_from_their_therapist(demo: DemoAccounts, db: Session) -> None:
    """Three homeworks Dr Rivera set: one for Sam alone (done), one for both that is overdue (done by
    neither), one for both not yet due that Alex has done; each partner sees theirs, Alex never Sam's own."""
    therapist, alex, sam = (viewer(db, name) for name in (demo.therapist, "demo-alex", "demo-sam"))
    rows = homework.couple_homework(session=db, viewer=therapist, couple_id=demo.couple_id)
    assert len(rows) == 3
    for_sam, overdue, this_week = sorted(rows, key=lambda row: row.due_on)
    assert for_sam.for_person_id == sam.person_id and set(for_sam.done) == {sam.person_id}
    assert overdue.for_person_id is None and overdue.done == {} and overdue.due_on < TODAY
    assert this_week.for_person_id is None and set(this_week.done) == {alex.person_id}
    assert this_week.due_on >= TODAY
    assigned = db.exec(select(HomeworkAssignment)).all()
    assert {(row.stage, row.assigned_by_id) for row in assigned} == {(None, therapist.person_id)}
    alex_sees = homework.for_partner(session=db, viewer=alex, today=TODAY)
    assert for_sam.title not in {item.title for item in alex_sees}
    assert [item.title for item in alex_sees if item.overdue] == [overdue.title]
    sam_sees = {item.title: item for item in homework.for_partner(session=db, viewer=sam, today=TODAY)}
    assert sam_sees[overdue.title].overdue and sam_sees[this_week.title].done_at is None


def test_sessions_are_rated_and_the_middle_one_split_the_couple(demo: DemoAccounts, db: Session) -> None:
    """Three sessions held: both rated the first alike, the second split them (a rating of 5 or less and
    a gap of 3 or more), and the last is not rated yet. Each partner reads only their own ratings."""
    therapist, alex, sam = (viewer(db, name) for name in (demo.therapist, "demo-alex", "demo-sam"))
    held = db.exec(select(TherapySession).order_by(col(TherapySession.held_on))).all()
    assert len(held) == 3 and all(row.therapist_id == therapist.person_id for row in held)
    assert held[-1].held_on < checkins.week_start(TODAY)
    ratings = access.readable_session_feedback(session=db, viewer=therapist, couple_id=demo.couple_id)
    by_session: dict[int, dict[int, dict[str, int]]] = {}
    for row in ratings:
        by_session.setdefault(row.session_id, {})[row.person_id] = {
            i: getattr(row, i) for i in FEEDBACK_ITEMS
        }
    assert list(by_session) == [held[0].id, held[1].id]
    first, split = (by_session[row.id] for row in held[:2])  # type: ignore[index]
    assert all(abs(first[alex.person_id][i] - first[sam.person_id][i]) < 3 for i in FEEDBACK_ITEMS)
    assert min(split[sam.person_id].values()) <= 5
    assert max(split[alex.person_id][i] - split[sam.person_id][i] for i in FEEDBACK_ITEMS) >= 3
    for partner in (alex, sam):
        own = access.readable_session_feedback(session=db, viewer=partner, couple_id=demo.couple_id)
        assert {row.person_id for row in own} == {partner.person_id} and len(own) == 2


def test_the_session_note_is_the_therapists_alone(demo: DemoAccounts, db: Session) -> None:
    """One note, read back by Dr Rivera; refused to both partners; stored encrypted; and the audit trail
    the couple reads says a note was written, never what it says."""
    therapist = viewer(db, demo.therapist)
    notes = session_notes.notes(session=db, viewer=therapist, couple_id=demo.couple_id)
    assert [note.body for note in notes] == [SESSION_NOTE]
    for name in ("demo-alex", "demo-sam"):
        with pytest.raises(AccessDenied):
            access.readable_session_notes(session=db, viewer=viewer(db, name), couple_id=demo.couple_id)
    stored = db.connection().exec_driver_sql("SELECT body FROM therapistnote").scalar_one()
    assert "Money" not in stored
    record = grants.view_record(session=db, viewer=viewer(db, "demo-alex"))
    assert "wrote a session note" in {view.what for view in record}
    assert "assigned homework" in {view.what for view in record}
    assert "marked a session held" in {view.what for view in record}
    details = db.exec(select(AuditEvent.detail).where(AuditEvent.couple_id == demo.couple_id)).all()
    assert not any("Money" in detail or "speaker-listener" in detail for detail in details)


@pytest.mark.usefixtures("demo")
def test_communication_and_conflict_are_finished_and_trust_is_started(db: Session, program: Program) -> None:
    """Both partners finished the first two stages, sent Trust's start check and did one Trust exercise."""
    progress = journey.load_journey(session=db, viewer=viewer(db, "demo-alex"), program=program)
    assert progress.partner is not None
    for partner in (progress.me, progress.partner):
        for stage in (journey.ASSESSMENT, "communication", "conflict"):
            assert partner.finished_at(stage) is not None, (partner.name, stage)
        assert partner.did("trust", "check-start")
        assert partner.finished_at("trust") is None
        trust_exercises = [e.key for e in program.stage_by_key["trust"].exercises]
        assert sum(partner.did("trust", key) for key in trust_exercises) == 1
    assert progress.current_stage() == "trust"
    communication, conflict = (progress.me.finished_at(stage) for stage in ("communication", "conflict"))
    assert communication is not None and conflict is not None and communication < conflict


def test_goals_and_strengths_are_written_one_shared_one_private(demo: DemoAccounts, db: Session) -> None:
    """Each partner shares one of their goals and strengths with the other and keeps one private."""
    alex, sam = viewer(db, "demo-alex"), viewer(db, "demo-sam")
    shared = access.readable_reflections(session=db, viewer=sam, couple_id=demo.couple_id)
    assert "assessment:goals" in {r.context for r in shared if r.person_id == alex.person_id}
    assert "assessment:strengths" not in {r.context for r in shared if r.person_id == alex.person_id}


@pytest.mark.usefixtures("demo")
def test_no_safety_screen_is_made_for_the_demo(db: Session) -> None:
    """The demo leaves the private safety screen to whoever tries it out."""
    assert count(db, SafetyScreen) == 0


def test_the_demo_password_logs_everyone_in(demo: DemoAccounts, db: Session) -> None:
    """One published passphrase, good enough for the password rules, opens each demo account, the other
    couples' partners too."""
    assert demo.password == DEMO_PASSWORD
    assert len(demo.other_partners) == OTHER_PARTNERS
    for username in (*demo.usernames, *demo.other_partners):
        person = accounts.find_person(session=db, username=username)
        assert person is not None and accounts.verify_password(DEMO_PASSWORD, person.password_hash)
        accounts.check_password(DEMO_PASSWORD, known=[person.username, person.display_name])


def test_refuses_a_database_with_real_accounts_and_says_how_to_force(
    engine: Engine, program: Program, db: Session
) -> None:
    """With someone real registered, nothing is loaded and the message names --force."""
    make_person(engine, "ana")
    with pytest.raises(DemoError, match="--force"):
        load_demo(engine=engine, program=program, today=TODAY, bcrypt_rounds=4)
    assert [p.username for p in db.exec(select(Person))] == ["ana"]
    assert count(db, Couple) == 0


def test_force_loads_beside_real_accounts(engine: Engine, program: Program, db: Session) -> None:
    """Forced, the demo is added and the real account is left as it was."""
    ana = make_person(engine, "ana")
    loaded = load_demo(engine=engine, program=program, today=TODAY, force=True, bcrypt_rounds=4)
    demo_people = sorted([*loaded.usernames, *loaded.other_partners])
    assert sorted(p.username for p in db.exec(select(Person))) == ["ana", *demo_people]
    assert db.get(Person, ana.person_id) is not None


def test_running_twice_refreshes_instead_of_duplicating(
    engine: Engine, program: Program, db: Session
) -> None:
    """A second run replaces the demo: five couples, eleven demo people, the same history (check-ins,
    session ratings, homework), no stray rows."""

    def history() -> list[object]:
        return [
            [(r.week_start, r.overall) for r in db.exec(select(CheckIn).order_by(col(CheckIn.id)))],
            [tuple(getattr(r, i) for i in FEEDBACK_ITEMS) for r in db.exec(select(SessionFeedback))],
            [(r.title, r.due_on) for r in db.exec(select(HomeworkAssignment))],
        ]

    first = load_demo(engine=engine, program=program, weeks=12, today=TODAY, bcrypt_rounds=4)
    before = history()
    db.rollback()
    second = load_demo(engine=engine, program=program, weeks=12, today=TODAY, bcrypt_rounds=4)
    assert count(db, Couple) == 5 and count(db, Person) == 11 and count(db, CoupleMembership) == 10
    assert sorted(c.id or 0 for c in db.exec(select(Couple))) == sorted(
        [second.couple_id, *second.other_couple_ids]
    )
    assert count(db, CheckIn) == 12 + SAM_CHECKINS + OTHER_CHECKINS
    assert count(db, TherapistGrant) == 10 and count(db, TherapistNote) == 1
    assert count(db, TherapySession) == 3 and count(db, HomeworkCompletion) == 2
    assert history() == before
    assert first.usernames == second.usernames and first.other_partners == second.other_partners


def test_refreshing_a_forced_demo_keeps_the_real_accounts(engine: Engine, program: Program) -> None:
    """Refreshing deletes only the demo accounts, never someone real."""
    make_person(engine, "ana")
    load_demo(engine=engine, program=program, today=TODAY, force=True, bcrypt_rounds=4)
    load_demo(engine=engine, program=program, today=TODAY, force=True, bcrypt_rounds=4)
    with Session(engine) as session:
        assert accounts.find_person(session=session, username="ana") is not None
        assert count(session, Person) == 1 + 3 + OTHER_PARTNERS


def test_weeks_sets_the_length_of_history(engine: Engine, program: Program, db: Session) -> None:
    """A shorter history has as many weeks of check-ins, and an impossible length is refused. The shortest
    still holds the whole caseload, leaving out the sessions from before its first week."""
    load_demo(engine=engine, program=program, weeks=5, today=TODAY, bcrypt_rounds=4)
    assert len(checkin_weeks(db, "demo-alex")) == 5
    assert count(db, TherapySession) == 2  # five and three weeks ago would be in week 0 and week 2
    db.rollback()
    shortest = load_demo(engine=engine, program=program, weeks=2, today=TODAY, bcrypt_rounds=4)
    assert count(db, Couple) == 5 and count(db, TherapySession) == 1 and count(db, HomeworkAssignment) == 1
    assert len(checkin_weeks(db, "demo-priya")) == 1
    therapist = viewer(db, shortest.therapist)
    assert len(access.couples_visible_to_therapist(session=db, viewer=therapist)) == 5
    for weeks in (1, 53):
        with pytest.raises(DemoError, match="weeks"):
            load_demo(engine=engine, program=program, weeks=weeks, today=TODAY, bcrypt_rounds=4)


def test_demo_command_prints_the_accounts_and_password(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m program demo` loads the demo and says who to log in as, with which password."""
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for username in ("demo-alex", "demo-sam", "demo-therapist", "demo-priya", "demo-mateo", DEMO_PASSWORD):
        assert username in out
    with Session(app_env) as session:
        assert count(session, Couple) == 5


def test_demo_command_refuses_a_real_database_with_a_failing_exit(
    app_env: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused, the command exits 1 and tells the operator about --force; --force then loads it."""
    make_person(app_env, "ana")
    assert main(["demo"]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["demo", "--force", "--weeks", "4"]) == 0
    assert "4 weeks" in capsys.readouterr().out


def _outcome_status(
    db: Session, program: Program, username: str, settings: Settings
) -> outcomes.OutcomeStatus:
    now = datetime.combine(TODAY, datetime.max.time(), tzinfo=UTC)
    return outcomes.status(
        session=db, viewer=viewer(db, username), program=program, settings=settings, now=now
    )


def _overall(instrument: Instrument, answers: dict[str, int | None]) -> float:
    """A partner's mean position over the subscales, 0 (worst end) to 1 (best end)."""
    positions = []
    for subscale in instrument.subscales:
        score = scoring.score(instrument, answers)[subscale.key].score
        low, high = scoring.score_range(instrument, subscale.key)
        assert score is not None
        position = (score - low) / (high - low)
        positions.append(position if subscale.direction == "higher is better" else 1 - position)
    return sum(positions) / len(positions)


@pytest.mark.parametrize("instrument_key", ["kindred-baseline", "trust-check"])
def test_by_default_the_demo_holds_every_outcome_occasion(
    engine: Engine, program: Program, db: Session, instrument_key: str
) -> None:
    """With no --weeks, the history holds the whole program and its follow-up: both partners sent every
    outcome occasion (through the outcome rules, so none early), nothing is due, and Alex improved by a
    fifth of the scale or more while Sam stayed within a tenth of where they began. With an operator's
    own measure (here a shipped check standing in), its start is sent beside the assessment's baseline."""
    settings = Settings.model_construct(outcome_instrument=instrument_key)
    loaded = load_demo(engine=engine, program=program, today=TODAY, bcrypt_rounds=4, settings=settings)
    assert loaded.weeks == full_weeks(program, 12) == 30
    instrument = program.instruments[instrument_key]
    for username in ("demo-alex", "demo-sam"):
        status = _outcome_status(db, program, username, settings)
        assert list(status.sent) == outcomes.occasions(program) and status.due == []
        sent = status.sent
        assert sent[outcomes.FOLLOW_UP] - sent[outcomes.PROGRAM_END] >= timedelta(weeks=12)
        history = {
            h.occasion: h.answers
            for h in questionnaires.own_history(
                session=db, viewer=viewer(db, username), instrument=instrument_key
            )
        }
        path = [_overall(instrument, history[occasion]) for occasion in outcomes.occasions(program)]
        change = path[-2] - path[0]
        if username == "demo-alex":
            assert change >= 0.2, path
        else:
            assert abs(change) <= 0.1, path


@pytest.mark.usefixtures("demo")
def test_a_shorter_demo_sends_the_occasions_of_the_stages_it_finished(db: Session, program: Program) -> None:
    """Twelve weeks in, both partners sent the start and the ends of the two stages they finished, and
    nothing else is due yet."""
    settings = Settings.model_construct()
    for username in ("demo-alex", "demo-sam"):
        status = _outcome_status(db, program, username, settings)
        assert list(status.sent) == outcomes.occasions(program)[:3]
        assert status.due == [] and status.upcoming == outcomes.stage_end_occasion("trust")
