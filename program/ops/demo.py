"""Demo data: a couple with weeks of plausible history and their therapist, so every chart shows at once,
and four more couples on the therapist's caseload with shorter histories, each showing something else.

The history is made through the functions the pages call (registering, the invite code, the therapist's
code and both grants, questionnaires, steps, check-ins), each given a `now` in the past, and it is seeded:
the same `today` and `weeks` always give the same history. The therapist's own work with the demo couple
(sessions held, their ratings, homework and its completions, a session note) is written as rows, with the
audit events the workspace records for it. The demo password is printed by the command and
written in the README, so demo accounts are for trying Kindred out, never for real use. That is why loading
refuses a database that has anyone else in it unless forced.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import event, func, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete, select

from program.auth import accounts
from program.course import checkins, journey, outcomes, questionnaires, reflections
from program.course.curriculum import ConversationExercise, Instrument, Program, Stage
from program.infra import audit
from program.infra.db import write_session
from program.infra.models import (
    AuditEvent,
    Couple,
    HomeworkAssignment,
    HomeworkCompletion,
    Person,
    Role,
    SessionFeedback,
    TherapistNote,
    TherapySession,
    Visibility,
)
from program.infra.settings import Settings
from program.privacy import couples, grants, membership
from program.privacy.viewer import Viewer

# Demo only: it is printed by the command and written in the README, so anyone can log in with it.
DEMO_PASSWORD = "harbour lantern maple seventeen"
ALEX = ("demo-alex", "Alex")
SAM = ("demo-sam", "Sam")
THERAPIST = ("demo-therapist", "Dr Rivera")
MAIN_USERNAMES = (ALEX[0], SAM[0], THERAPIST[0])
MIN_WEEKS, MAX_WEEKS = 2, 52
SEED = 7
# The assessment takes the first week; then a skill stage every four weeks, in the program's order.
STAGE_WEEKS = 4
# A stage's end check comes in the last of its weeks.
END_CHECK_WEEK = 3
LOADED = "demo.loaded"
# The contexts the assessment page saves goals and strengths under (program.ui.assessment).

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


class DemoError(ValueError):
    """The demo cannot be loaded; the message says why and what to do."""


@dataclass(frozen=True)
class DemoAccounts:
    """Who to log in as after loading the demo."""

    partners: tuple[str, str]
    therapist: str
    password: str
    couple_id: int
    weeks: int
    # The therapist's other couples: their ids (in CASELOAD's order) and their partners' usernames.
    other_couple_ids: tuple[int, ...] = ()
    other_partners: tuple[str, ...] = ()

    @property
    def usernames(self) -> tuple[str, str, str]:
        """The main three demo usernames, partners first."""
        return (*self.partners, self.therapist)


# ---- what the demo couple are like ----------------------------------------------------------------

# Baseline answers around these levels (0 = worst, 1 = best end of each subscale): Sam sees most things
# a little less rosily than Alex, so the perception gap has something to show.
BASELINE_LEVELS = {
    ALEX[0]: {"communication": 0.45, "conflict": 0.4, "trust": 0.7, "connection": 0.55, "satisfaction": 0.6},
    SAM[0]: {"communication": 0.3, "conflict": 0.35, "trust": 0.6, "connection": 0.4, "satisfaction": 0.5},
}
# Each stage check: (level at the start, level at the end).
CHECK_LEVELS = {ALEX[0]: (0.42, 0.68), SAM[0]: (0.32, 0.6)}
# The outcome questionnaire over its occasions: Alex improves reliably, by about this much of the scale at
# the end of the program (most of it by the last stage, a little given back at the follow-up); Sam stays
# where they began, so the charts show one partner changing and one not. An operator's own outcome
# questionnaire (not Kindred's baseline) starts each subscale at one level per partner.
OUTCOME_GAIN = {ALEX[0]: 0.35, SAM[0]: 0.0}
OUTCOME_START = {ALEX[0]: 0.4, SAM[0]: 0.45}
# How much of the gain each occasion after the start shows: each stage's end, the program's end, follow-up.
OUTCOME_PATH = (0.25, 0.5, 0.7, 1.0, 0.95)
# Weekly ratings: (first week, last week) per rating, and how the path bends (below 1 Alex improves early,
# above 1 Sam is slow to start and catches up). Noise of at most a point either way keeps the lines lived-in;
# every rating climbs at least 3 points, so each partner's latest week is still better than their first.
CHECKIN_TRENDS: dict[str, tuple[dict[str, tuple[float, float]], float]] = {
    ALEX[0]: (
        {
            "closeness": (5, 8),
            "communication": (4, 7),
            "conflict": (4, 7),
            "trust": (5, 8),
            "overall": (4, 7),
        },
        0.7,
    ),
    SAM[0]: (
        {
            "closeness": (4, 7),
            "communication": (2, 6),
            "conflict": (3, 6),
            "trust": (4, 7),
            "overall": (3, 6),
        },
        1.5,
    ),
}
HARD_WEEK, HARD_WEEK_DIP = 6, 1.5
CHECKIN_NOISE, MAX_NOISE = 0.7, 1.0

CHECKIN_NOTES: dict[str, dict[int, tuple[str, Visibility]]] = {
    ALEX[0]: {
        1: ("First week. A bit nervous about doing this, but glad we started.", Visibility.PRIVATE),
        4: (
            "Used the speaker-listener steps when we talked about my mum's visit. "
            "Slow, but nobody walked off.",
            Visibility.PARTNER,
        ),
        8: (
            "We called a time-out on Tuesday and actually came back to it an hour later. A first!",
            Visibility.PARTNER,
        ),
        11: ("Trust feels like the big one. I want to keep the small promises I make.", Visibility.THERAPIST),
    },
    SAM[0]: {
        2: ("I didn't expect listening without answering back to feel so awkward.", Visibility.PRIVATE),
        6: ("Hard week. Work was a lot and I was short with Alex more than once.", Visibility.THERAPIST),
        9: ("Felt heard this week, properly heard.", Visibility.PARTNER),
    },
}

GOALS_AND_STRENGTHS: dict[str, dict[str, tuple[str, Visibility]]] = {
    ALEX[0]: {
        journey.GOALS_CONTEXT: (
            "Talk about money without it turning into a row.\n"
            "One evening a week that is just ours, phones away.",
            Visibility.PARTNER,
        ),
        journey.STRENGTHS_CONTEXT: (
            "We make each other laugh, even on bad days. We got through Sam losing their job together.",
            Visibility.PRIVATE,
        ),
    },
    SAM[0]: {
        journey.GOALS_CONTEXT: (
            "Say what I need instead of going quiet and waiting to be noticed.\n"
            "Argue less about small things like the dishes.",
            Visibility.PRIVATE,
        ),
        journey.STRENGTHS_CONTEXT: (
            "Alex is kind to everyone, me included. We look after each other well when one of us is ill.",
            Visibility.PARTNER,
        ),
    },
}

# Some written answers to exercises: (stage, exercise context suffix) -> text and who may read it.
EXERCISE_TEXTS: dict[str, dict[tuple[str, str], tuple[str, Visibility]]] = {
    ALEX[0]: {
        ("communication", "how-i-talk-and-listen:1"): (
            "Planning the holidays last Sunday. Sam asked what mattered most to me and really waited for the "
            "answer, and I slowed down too.",
            Visibility.PARTNER,
        ),
        ("conflict", "my-part-in-the-pattern:2"): (
            "On the outside I explain, and then explain again. Inside I'm worried we're drifting apart and "
            "that it's my fault.",
            Visibility.PRIVATE,
        ),
        ("trust", "what-trust-looks-like:1"): (
            "Sam always texts when the train is late. It's small, but I never have to wonder.",
            Visibility.PRIVATE,
        ),
    },
    SAM[0]: {
        ("communication", "how-i-talk-and-listen:3"): (
            "I go quiet and hope Alex will notice. Written down, I can see how hard that must be to read.",
            Visibility.PRIVATE,
        ),
        ("communication", "taking-turns:takeaway"): (
            "Reflecting back felt silly at first, but I liked hearing my own words come back kindly.",
            Visibility.PARTNER,
        ),
        ("conflict", "my-part-in-the-pattern:1"): (
            "Money, and who decides what we spend it on. It comes back every month when the bills arrive.",
            Visibility.THERAPIST,
        ),
    },
}

# What each partner did for a stage's homework (a note, so homework counts as done whatever its due day).
HOMEWORK_NOTES = {
    ALEX[0]: "Two short talks this week, on Tuesday and Saturday, using the same steps.",
    SAM[0]: "We did it twice. The second time felt much easier than the first.",
}


# ---- the therapist's work with the demo couple ------------------------------------------------------

# Dr Rivera sees Alex and Sam every other Tuesday evening in the last weeks: (weeks before the current one,
# each partner's ratings of the session by FEEDBACK_ITEMS, None: not rated yet). The middle session split
# them: Sam felt unheard (a low rating, 4 points under Alex's), which the caseload flags (it reads the
# latest session rated). Neither has rated last week's session yet, so it is due in both their panels.
SESSIONS: tuple[tuple[int, dict[str, tuple[int, int, int, int] | None]], ...] = (
    (5, {ALEX[0]: (8, 7, 8, 8), SAM[0]: (7, 7, 6, 7)}),
    (3, {ALEX[0]: (8, 8, 7, 8), SAM[0]: (4, 5, 4, 4)}),
    (1, {ALEX[0]: None, SAM[0]: None}),
)


@dataclass(frozen=True)
class DemoHomework:
    """Homework Dr Rivera set in a session (SESSIONS' index), for one partner or both (None), due a number
    of weeks after it on a Sunday, and who marked it done on which day of which week (weeks before now)."""

    session: int
    title: str
    instructions: str
    for_person: str | None
    due_weeks_later: int
    done: dict[str, tuple[int, int]]


HOMEWORK = (
    DemoHomework(
        0,
        "Say one thing you need each day",
        "Once a day, tell Alex one small thing you need, in one sentence, before going quiet.",
        SAM[0],
        1,
        {SAM[0]: (4, FRI)},
    ),
    # Set two sessions ago, due last Sunday and done by neither: overdue.
    DemoHomework(
        1,
        "Plan a money talk with the speaker-listener steps",
        "Choose a calm evening, take turns with the floor, and agree on one spending rule.",
        None,
        1,
        {},
    ),
    # Set last week, due this Sunday: Alex has done it, Sam not yet.
    DemoHomework(
        2,
        "Ten minutes a day, phones away",
        "Sit together for ten minutes each evening with both phones in another room.",
        None,
        1,
        {ALEX[0]: (1, SAT)},
    ),
)
# Written after the session that split them; only Dr Rivera ever reads it.
SESSION_NOTE = (
    "Money came up again. Sam went quiet while Alex explained the budget; Sam's rating afterwards was low. "
    "Next session: ask Sam first, slow the pace, revisit the speaker-listener steps."
)
NOTE_AFTER_SESSION = 1


# ---- the therapist's other couples -----------------------------------------------------------------


@dataclass(frozen=True)
class CaseloadCouple:
    """Another couple Dr Rivera sees, with a short history of its own.

    `overall` is each partner's weekly overall rating for the weeks before the current one, the last week
    last (None: no check-in that week); the couple began on the Monday of the first of those weeks (or of
    the demo's first week, in a shorter demo). `assessed` says whether each partner sent the baseline and
    named their goals in their first week. `shows` is what the therapist sees in the caseload.
    """

    partners: tuple[tuple[str, str], tuple[str, str]]
    overall: tuple[tuple[int | None, ...], tuple[int | None, ...]]
    assessed: tuple[bool, bool]
    shows: str


CASELOAD = (
    CaseloadCouple(
        (("demo-jordan", "Jordan"), ("demo-casey", "Casey")),
        ((5, 5, 6, 6, 7), (5, 6, 6, 7, 7)),
        (True, True),
        "steady progress, no alerts",
    ),
    # Priya's check-ins fall by 4 points in the last two weeks (and end 3 under Tom's).
    CaseloadCouple(
        (("demo-priya", "Priya"), ("demo-tom", "Tom")),
        ((6, 6, 7, 7, 7, 7, 3, 3), (5, 6, 6, 6, 6, 6, 6, 6)),
        (True, True),
        "a check-in drop",
    ),
    # Both stopped after their fifth week: nothing for more than three weeks.
    CaseloadCouple(
        (("demo-morgan", "Morgan"), ("demo-lee", "Lee")),
        ((5, 5, 6, 5, 6, None, None, None), (4, 5, 5, 5, 4, None, None, None)),
        (True, True),
        "no activity for three weeks",
    ),
    # Began last week: Zoë has sent the baseline, Mateo not yet.
    CaseloadCouple(
        (("demo-zoe", "Zoë"), ("demo-mateo", "Mateo")),
        ((6,), (5,)),
        (True, False),
        "just starting the assessment",
    ),
)
CASELOAD_USERNAMES = tuple(person[0] for couple in CASELOAD for person in couple.partners)
DEMO_USERNAMES = (*MAIN_USERNAMES, *CASELOAD_USERNAMES)
# How far each of a caseload partner's other four ratings strays from their overall one, at most.
CASELOAD_SPREAD = 1


# ---- loading ---------------------------------------------------------------------------------------


def full_weeks(program: Program, follow_up_weeks: int) -> int:
    """Weeks of history that hold the whole program and the outcome follow-up after it (at most
    MAX_WEEKS): the last stage ends in its last week, the follow-up comes follow_up_weeks later, and the
    current week comes after that."""
    last_stage_ends = 2 + (len(program.stages) - 1) * STAGE_WEEKS + END_CHECK_WEEK
    return min(MAX_WEEKS, last_stage_ends + follow_up_weeks + 1)


def load_demo(
    *,
    engine: Engine,
    program: Program,
    weeks: int | None = None,
    force: bool = False,
    today: date,
    bcrypt_rounds: int = 12,
    settings: Settings | None = None,
) -> DemoAccounts:
    """Load (or refresh) the demo couple and therapist, with `weeks` weeks of history ending this week
    (by default, long enough for the whole program and the outcome follow-up). `settings` names the outcome
    questionnaire and the follow-up's delay (default: Kindred's own)."""
    # Defaults only, never the environment: the caller passes the operator's settings.
    settings = settings or Settings.model_construct()
    weeks = full_weeks(program, settings.follow_up_weeks) if weeks is None else weeks
    # One transaction: a refusal or a failure leaves the database as it was, and a refresh is all or nothing.
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise DemoError(f"The demo history can be {MIN_WEEKS} to {MAX_WEEKS} weeks long (not {weeks}).")
    with write_session(engine) as session:
        others = session.exec(
            select(func.count()).select_from(Person).where(col(Person.username).not_in(DEMO_USERNAMES))
        ).one()
        if others and not force:
            raise DemoError(
                f"This database already has {others} real account{'s' if others != 1 else ''}, so the demo "
                "was not loaded: its accounts share a published password. To add it anyway, run "
                "`python -m program demo --force`."
            )
        _remove_old_demo(session)
        couple_id, caseload = _History(session, program, weeks, today, bcrypt_rounds, settings).make()
        # The one true event of the demo: an operator loaded it (kept when the demo is refreshed).
        audit.record(session, action=LOADED, detail=f"{weeks} weeks of demo history")
    return DemoAccounts(
        (ALEX[0], SAM[0]), THERAPIST[0], DEMO_PASSWORD, couple_id, weeks, caseload, CASELOAD_USERNAMES
    )


def _remove_old_demo(session: Session) -> None:
    """Delete the demo people, their couple and their made-up audit trail (their rows go by cascade)."""
    people = list(session.exec(select(Person.id).where(col(Person.username).in_(DEMO_USERNAMES))))
    if not people:
        return
    couple_ids = membership.couples_ever(session, [p for p in people if p is not None])
    # The history's events are invented; only the record that a demo was loaded is worth keeping.
    session.exec(
        delete(AuditEvent).where(
            col(AuditEvent.action) != LOADED,
            or_(
                col(AuditEvent.actor_id).in_(people),
                col(AuditEvent.subject_id).in_(people),
                col(AuditEvent.couple_id).in_(couple_ids),
            ),
        )
    )
    session.exec(delete(Couple).where(col(Couple.id).in_(couple_ids)))
    session.exec(delete(Person).where(col(Person.id).in_(people)))


class _Clock:
    """The demo's "now" for rows that register and audit.record stamp with the real time."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.now: datetime | None = None

    def set(self, moment: datetime) -> datetime:
        """Move the clock (rows added so far keep the time they were added at); returns the moment."""
        self.session.flush()
        self.now = moment
        return moment

    def stamp(self, session: Session, _context: Any, _instances: Any) -> None:
        """Before a flush, give new people and audit events the demo's time."""
        if self.now is None:
            return
        for row in session.new:
            if isinstance(row, AuditEvent):
                row.at = self.now
            elif isinstance(row, Person):
                row.created_at = self.now


@contextmanager
def _backdated(session: Session) -> Iterator[_Clock]:
    """A clock whose time new people and audit events get, while the history is being made."""
    clock = _Clock(session)
    event.listen(session, "before_flush", clock.stamp)
    try:
        yield clock
        session.flush()
    finally:
        event.remove(session, "before_flush", clock.stamp)


Action = Callable[[datetime], None]


@dataclass
class _History:
    """The demo couple's weeks, made in time order through the functions the pages call."""

    # Week 1 is the first week; week `weeks` is the current one, in which only Alex has checked in so far.
    # Nothing else happens in it, so the history is the same whatever weekday `today` is.
    session: Session
    program: Program
    weeks: int
    today: date
    rounds: int
    settings: Settings
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    # The outcome answers draw on their own generator, so the rest of the history stays as it was.
    outcome_rng: random.Random = field(default_factory=lambda: random.Random(SEED + 1))
    # Codes made here are used at once and never shown; a throwaway key leaves them worthless.
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    plan: list[tuple[datetime, Action]] = field(default_factory=list)
    # The other couples draw on their own generator too, and reuse the therapist's hash of the demo password.
    caseload_rng: random.Random = field(default_factory=lambda: random.Random(SEED + 2))
    caseload_hash: str | None = None

    def at(self, week: int, weekday: int, hour: int, minute: int = 0) -> datetime:
        """A moment of the history, in UTC."""
        first_monday = checkins.week_start(self.today) - timedelta(weeks=self.weeks - 1)
        day = first_monday + timedelta(weeks=week - 1, days=weekday)
        return datetime.combine(day, time(hour, minute), tzinfo=UTC)

    def then(self, moment: datetime, action: Action) -> None:
        """Plan an action, if it falls before the current week."""
        if moment < self.at(self.weeks, MON, 0):
            self.plan.append((moment, action))

    def make(self) -> tuple[int, tuple[int, ...]]:
        """Make the whole history; returns the demo couple's id and the ids of the therapist's others."""
        with _backdated(self.session) as clock:
            therapist, alex, sam, couple_id = self._first_evening(clock)
            self._assessment(alex, sam)
            for number, stage in enumerate(self.program.stages):
                self._stage(stage, 2 + number * STAGE_WEEKS, alex, sam)
            self._outcomes(alex, sam)
            self._checkins(alex, sam)
            self.then(self.at(self.weeks - 1, THU, 17), self._session_view(therapist, couple_id))
            self._therapist_work(therapist, {alex.username: alex, sam.username: sam}, couple_id)
            others = [self._caseload_couple(therapist, couple, n) for n, couple in enumerate(CASELOAD)]
            # A stable sort: things planned for the same moment happen in the order they were planned.
            for moment, action in sorted(self.plan, key=lambda planned: planned[0]):
                action(clock.set(moment))
            # This week so far: Alex checked in this morning; Sam hasn't yet.
            self._checkin(alex, self.weeks, clock.set(datetime.combine(self.today, time(7, 30), tzinfo=UTC)))
        return couple_id, tuple(other.couple_id for other in others)

    def _register(self, person: tuple[str, str], role: Role) -> Viewer:
        account = accounts.NewAccount(person[0], person[1], DEMO_PASSWORD, DEMO_PASSWORD, role)
        return Viewer.of(accounts.register(session=self.session, account=account, bcrypt_rounds=self.rounds))

    def _first_evening(self, clock: _Clock) -> tuple[Viewer, Viewer, Viewer, int]:
        """Dr Rivera suggests Kindred in a session; the couple sign up, pair and let her in that night."""
        session, key = self.session, self.key
        clock.set(self.at(1, MON, 9))
        therapist = self._register(THERAPIST, Role.THERAPIST)
        now = clock.set(self.at(1, MON, 9, 30))
        grants.approve_therapist(session=session, username=THERAPIST[0], operator="demo", now=now)
        now = clock.set(self.at(1, MON, 12))
        code = grants.issue_therapist_code(session=session, viewer=therapist, key=key, now=now).code
        clock.set(self.at(1, MON, 19))
        alex = self._register(ALEX, Role.PARTNER)
        now = clock.set(self.at(1, MON, 19, 10))
        invite = couples.create_couple(session=session, viewer=alex, key=key, now=now)
        clock.set(self.at(1, MON, 21, 20))
        sam = self._register(SAM, Role.PARTNER)
        now = clock.set(self.at(1, MON, 21, 30))
        couple_id = couples.join_couple(session=session, viewer=sam, code=invite.code, key=key, now=now)
        checkins.set_checkin_time(session=session, viewer=sam, weekday=SUN, at=time(20))
        for partner, minute in ((alex, 45), (sam, 50)):
            now = clock.set(self.at(1, MON, 21, minute))
            grants.grant_access(session=session, viewer=partner, code=code, key=key, now=now)
        return therapist, alex, sam, couple_id

    def _session_view(self, therapist: Viewer, couple_id: int) -> Action:
        def view(_moment: datetime) -> None:
            grants.open_couple(
                session=self.session, viewer=therapist, couple_id=couple_id, what="progress charts"
            )

        return view

    # ---- the therapist's work with the demo couple ---------------------------------------------------

    def _therapist_work(self, therapist: Viewer, partners: Mapping[str, Viewer], couple_id: int) -> None:
        """Sessions held and rated, homework set in them and marked done, and a note after the one that
        split the couple; a session (and what hangs on it) before the demo's first week is left out."""
        held: dict[int, int] = {}  # SESSIONS' index -> the TherapySession's id, once it is made
        assignments: dict[int, int] = {}  # HOMEWORK's index -> the assignment's id
        for number, (ago, ratings) in enumerate(SESSIONS):
            week = self.weeks - ago
            if week < 1:
                continue
            self.then(self.at(week, TUE, 18), self._hold_session(therapist, couple_id, number, held))
            for late, (username, given) in enumerate(ratings.items()):
                if given is not None:
                    moment = self.at(week, WED + late, 21)
                    self.then(moment, self._rate_session(partners[username], number, given, held))
            if number == NOTE_AFTER_SESSION:
                self.then(self.at(week, TUE, 19, 30), self._write_note(therapist, couple_id))
        for number, homework in enumerate(HOMEWORK):
            week = self.weeks - SESSIONS[homework.session][0]
            if week < 1:
                continue
            assign = self._assign(therapist, couple_id, partners, number, homework, week, assignments)
            self.then(self.at(week, TUE, 19), assign)
            for username, (ago, weekday) in homework.done.items():
                done = self._homework_done(partners[username], number, assignments)
                self.then(self.at(self.weeks - ago, weekday, 21, 15), done)

    def _hold_session(self, therapist: Viewer, couple_id: int, number: int, held: dict[int, int]) -> Action:
        def hold(moment: datetime) -> None:
            row = TherapySession(
                couple_id=couple_id,
                therapist_id=therapist.person_id,
                held_on=moment.date(),
                created_at=moment,
            )
            held[number] = self._added(row)
            self._therapist_did(therapist, couple_id, "therapist.session_held", "marked a session held")

        return hold

    def _added(self, row: TherapySession | HomeworkAssignment) -> int:
        """Add a row and return the id the database gave it."""
        self.session.add(row)
        self.session.flush()
        assert row.id is not None
        return row.id

    def _therapist_did(self, therapist: Viewer, couple_id: int, action: str, detail: str) -> None:
        audit.record(
            self.session, action=action, actor_id=therapist.person_id, couple_id=couple_id, detail=detail
        )

    def _rate_session(
        self, partner: Viewer, number: int, ratings: tuple[int, int, int, int], held: Mapping[int, int]
    ) -> Action:
        def rate(moment: datetime) -> None:
            heard, goals, approach, overall = ratings
            self.session.add(
                SessionFeedback(
                    session_id=held[number],
                    person_id=partner.person_id,
                    heard=heard,
                    goals=goals,
                    approach=approach,
                    overall=overall,
                    submitted_at=moment,
                )
            )

        return rate

    def _write_note(self, therapist: Viewer, couple_id: int) -> Action:
        def write(moment: datetime) -> None:
            self.session.add(
                TherapistNote(
                    therapist_id=therapist.person_id,
                    couple_id=couple_id,
                    body=SESSION_NOTE,
                    created_at=moment,
                    updated_at=moment,
                )
            )
            self._therapist_did(therapist, couple_id, "therapist.note_written", "wrote a session note")

        return write

    def _assign(
        self,
        therapist: Viewer,
        couple_id: int,
        partners: Mapping[str, Viewer],
        number: int,
        homework: DemoHomework,
        week: int,
        assignments: dict[int, int],
    ) -> Action:
        def assign(moment: datetime) -> None:
            row = HomeworkAssignment(
                couple_id=couple_id,
                stage=None,
                title=homework.title,
                instructions=homework.instructions,
                due_on=self.at(week + homework.due_weeks_later, SUN, 12).date(),
                assigned_by_id=therapist.person_id,
                for_person_id=None
                if homework.for_person is None
                else partners[homework.for_person].person_id,
                created_at=moment,
            )
            assignments[number] = self._added(row)
            self._therapist_did(therapist, couple_id, "therapist.homework_assigned", "assigned homework")

        return assign

    def _homework_done(self, partner: Viewer, number: int, assignments: Mapping[int, int]) -> Action:
        def done(moment: datetime) -> None:
            self.session.add(
                HomeworkCompletion(
                    assignment_id=assignments[number], person_id=partner.person_id, completed_at=moment
                )
            )

        return done

    # ---- the therapist's other couples --------------------------------------------------------------

    def _caseload_couple(self, therapist: Viewer, couple: CaseloadCouple, number: int) -> _CaseloadCouple:
        """Plan one more couple's weeks: their first evening (sign-up, pairing, Dr Rivera's code and both
        grants), the assessment where they did it, and their weekly check-ins."""
        made = _CaseloadCouple()
        length = min(self.weeks - 1, max(len(levels) for levels in couple.overall))
        first_week = self.weeks - length
        # Each on a weekday of its own: a couple's grants use the code Dr Rivera gave them that evening.
        first_evening = self.at(first_week, MON + number, 19)
        steps: tuple[Action, ...] = (
            lambda now: self._caseload_first(couple.partners[0], made, now),
            lambda now: self._caseload_second(couple.partners[1], made, now),
            lambda now: self._caseload_code(therapist, made, now),
            lambda now: self._caseload_grant(0, made, now),
            lambda now: self._caseload_grant(1, made, now),
        )
        for minute, step in enumerate(steps):
            self.then(first_evening + timedelta(minutes=10 * minute), step)
        baseline = self.program.instruments[self.program.assessment.overview.questionnaire]
        for side, (assessed, levels) in enumerate(zip(couple.assessed, couple.overall, strict=True)):
            recent = levels[len(levels) - length :] if length < len(levels) else levels
            start = next((level for level in recent if level is not None), 5)
            if assessed:
                answers = _answers(
                    self.caseload_rng, baseline, {s.key: start / 10 for s in baseline.subscales}
                )
                sent = self.at(first_week, TUE + number + side, 20, 30)
                self.then(sent, self._caseload_assessment(made, side, baseline, answers))
            week = first_week + length - len(recent)
            for offset, level in enumerate(recent):
                if level is not None:
                    ratings = self._caseload_ratings(level)
                    moment = self.at(week + offset, SUN, 19 + side, self.caseload_rng.randint(0, 50))
                    self.then(moment, self._caseload_checkin(made, side, ratings))
        return made

    def _caseload_register(self, person: tuple[str, str]) -> Viewer:
        """A caseload partner's account, checked as any is, with the hash of the (public) demo password that
        Dr Rivera's account has: hashing it afresh for each of eight people would add seconds at the
        default cost, for a password everyone knows anyway."""
        if self.caseload_hash is None:
            therapist = self.session.exec(select(Person).where(Person.username == THERAPIST[0])).one()
            self.caseload_hash = therapist.password_hash
        prepared = accounts.PreparedAccount(
            accounts.check_username(person[0]),
            accounts.check_display_name(person[1]),
            Role.PARTNER,
            self.caseload_hash,
        )
        return Viewer.of(accounts.add_person(session=self.session, prepared=prepared))

    def _caseload_first(self, person: tuple[str, str], made: _CaseloadCouple, now: datetime) -> None:
        partner = self._caseload_register(person)
        made.partners.append(partner)
        made.invite = couples.create_couple(session=self.session, viewer=partner, key=self.key, now=now).code

    def _caseload_second(self, person: tuple[str, str], made: _CaseloadCouple, now: datetime) -> None:
        partner = self._caseload_register(person)
        made.partners.append(partner)
        made.couple_id = couples.join_couple(
            session=self.session, viewer=partner, code=made.invite, key=self.key, now=now
        )

    def _caseload_code(self, therapist: Viewer, made: _CaseloadCouple, now: datetime) -> None:
        issued = grants.issue_therapist_code(session=self.session, viewer=therapist, key=self.key, now=now)
        made.code = issued.code

    def _caseload_grant(self, side: int, made: _CaseloadCouple, now: datetime) -> None:
        grants.grant_access(
            session=self.session, viewer=made.partners[side], code=made.code, key=self.key, now=now
        )

    def _caseload_assessment(
        self, made: _CaseloadCouple, side: int, baseline: Instrument, answers: Mapping[str, int]
    ) -> Action:
        def assess(sent: datetime) -> None:
            partner = made.partners[side]
            self._questionnaire(partner, baseline, questionnaires.BASELINE, answers)(sent)
            self._complete(partner, journey.ASSESSMENT, journey.GOALS, sent + timedelta(minutes=15))

        return assess

    def _caseload_ratings(self, level: int) -> dict[str, int]:
        """A week's five ratings: the overall one as given, the others within CASELOAD_SPREAD of it."""
        ratings = {
            key: _clamp(level + self.caseload_rng.randint(-CASELOAD_SPREAD, CASELOAD_SPREAD), 0, 10)
            for key in ("closeness", "communication", "conflict", "trust")
        }
        return {**ratings, "overall": level}

    def _caseload_checkin(self, made: _CaseloadCouple, side: int, ratings: Mapping[str, int]) -> Action:
        def check_in(moment: datetime) -> None:
            checkins.save_checkin(
                session=self.session,
                viewer=made.partners[side],
                ratings=ratings,
                note=None,
                today=moment.date(),
                now=moment,
            )

        return check_in

    # ---- the program ------------------------------------------------------------------------------

    def _assessment(self, alex: Viewer, sam: Viewer) -> None:
        """Both baselines and both partners' goals and strengths, in the first week."""
        baseline = self.program.instruments[self.program.assessment.overview.questionnaire]
        for viewer, sent, named in (
            (alex, self.at(1, TUE, 20), self.at(1, THU, 20, 30)),
            (sam, self.at(1, WED, 21), self.at(1, FRI, 19, 45)),
        ):
            answers = _answers(self.rng, baseline, BASELINE_LEVELS[viewer.username])
            self.then(sent, self._questionnaire(viewer, baseline, questionnaires.BASELINE, answers))
            self.then(named, self._goals_and_strengths(viewer))

    def _stage(self, stage: Stage, week: int, alex: Viewer, sam: Viewer) -> None:
        """Start check; the first exercise a week later, the rest the week after; homework; end check."""
        instrument = self.program.instruments[stage.check]
        for viewer, late in ((alex, 0), (sam, 1)):
            start, end = CHECK_LEVELS[viewer.username]
            for when, level, moment in (
                ("start", start, self.at(week, MON + late, 20)),
                ("end", end, self.at(week + END_CHECK_WEEK, THU + late, 20)),
            ):
                answers = _answers(self.rng, instrument, {s.key: level for s in instrument.subscales})
                occasion = questionnaires.stage_occasion(stage.key, when)
                self.then(moment, self._questionnaire(viewer, instrument, occasion, answers))
            for number, exercise in enumerate(stage.exercises):
                # Sam does solo work a day after Alex; what they do together, both mark done that evening.
                solo = late if exercise.kind == "reflection" else 0
                if number == 0:
                    done = self.at(week + 1, WED + solo, 21, 5 * late)
                else:
                    done = self.at(week + 2, min(SUN, TUE + 2 * (number - 1) + solo), 20, 5 * late)
                if exercise.kind == "practice_log":
                    for day in range(1, exercise.days + 1):
                        values: dict[str, int | bool] = {
                            f.key: self.rng.randint(4, 9) if f.type == "rating" else self.rng.random() < 0.75
                            for f in exercise.fields
                            if f.type != "text"
                        }
                        entry = done - timedelta(days=exercise.days - day, minutes=30)
                        self.then(entry, self._log_entry(viewer, stage, exercise.key, day, values))
                self.then(done, self._step(viewer, stage.key, exercise.key))
            self.then(self.at(week + 3, TUE, 20, 5 * late), self._step(viewer, stage.key, journey.HOMEWORK))

    def _outcomes(self, alex: Viewer, sam: Viewer) -> None:
        """Every outcome occasion, each sent soon after it came due: the start (the baseline itself when
        the measure is Kindred's own), after each stage's end check but the last, the program's end two
        days after the last stage's, and the follow-up on the evening of the day it comes due."""
        instrument = outcomes.outcome_instrument(self.program, self.settings)
        baseline = instrument.key == self.program.assessment.overview.questionnaire
        last = 2 + (len(self.program.stages) - 1) * STAGE_WEEKS + END_CHECK_WEEK
        for viewer, late in ((alex, 0), (sam, 1)):
            moments = [self.at(1, TUE + late, 20, 40)]
            moments += [
                self.at(2 + number * STAGE_WEEKS + END_CHECK_WEEK, THU + late, 20, 30)
                for number in range(len(self.program.stages) - 1)  # the last stage's end is the program's
            ]
            ended = self.at(last, SAT + late, 10)
            follow_up = ended + timedelta(weeks=self.settings.follow_up_weeks)
            moments += [ended, follow_up.replace(hour=19)]
            for index, (occasion, moment) in enumerate(
                zip(outcomes.occasions(self.program), moments, strict=True)
            ):
                if occasion == questionnaires.BASELINE and baseline:
                    continue  # the assessment's own filling-in (see _assessment)
                share = 0.0 if index == 0 else OUTCOME_PATH[index - 1]
                levels = self._outcome_levels(viewer, instrument, baseline, share)
                answers = _answers(self.outcome_rng, instrument, levels)
                self.then(moment, self._outcome(viewer, instrument, occasion, answers))

    def _outcome_levels(
        self, viewer: Viewer, instrument: Instrument, baseline: bool, share: float
    ) -> dict[str, float]:
        """Where a partner's answers sit on each subscale (0 to 1 of its range) after `share` of their gain;
        a subscale on which lower is better moves down the scale as the partner improves."""
        levels: dict[str, float] = {}
        for subscale in instrument.subscales:
            start = (
                BASELINE_LEVELS[viewer.username].get(subscale.key, 0.5)
                if baseline
                else OUTCOME_START[viewer.username]
            )
            better = min(0.9, start + OUTCOME_GAIN[viewer.username] * share)
            levels[subscale.key] = better if subscale.direction == "higher is better" else 1 - better
        return levels

    def _outcome(
        self, viewer: Viewer, instrument: Instrument, occasion: str, answers: Mapping[str, int]
    ) -> Action:
        def fill_in(sent: datetime) -> None:
            self._save_answers(viewer, instrument, occasion, answers, sent - timedelta(minutes=10))
            # Through the outcome rules: an occasion sent before it came due would be a bug in the demo.
            outcomes.submit(
                session=self.session,
                viewer=viewer,
                program=self.program,
                settings=self.settings,
                occasion=occasion,
                now=sent,
            )

        return fill_in

    def _questionnaire(
        self, viewer: Viewer, instrument: Instrument, occasion: str, answers: Mapping[str, int]
    ) -> Action:
        def fill_in(sent: datetime) -> None:
            # One write for the page of answers, as the form's "Save draft" does.
            self._save_answers(viewer, instrument, occasion, answers, sent - timedelta(minutes=12))
            questionnaires.submit(
                session=self.session, viewer=viewer, instrument=instrument, occasion=occasion, now=sent
            )

        return fill_in

    def _save_answers(
        self, viewer: Viewer, instrument: Instrument, occasion: str, answers: Mapping[str, int], now: datetime
    ) -> None:
        questionnaires.save_answers(
            session=self.session,
            viewer=viewer,
            instrument=instrument,
            occasion=occasion,
            answers=answers,
            now=now,
        )

    def _save_text(
        self, viewer: Viewer, context: str, body: str, visibility: Visibility, now: datetime
    ) -> None:
        reflections.save_text(
            session=self.session, viewer=viewer, context=context, body=body, visibility=visibility, now=now
        )

    def _complete(
        self, viewer: Viewer, stage: str, step: str, now: datetime, note: str | None = None
    ) -> None:
        journey.complete_step(
            session=self.session,
            viewer=viewer,
            program=self.program,
            stage=stage,
            step=step,
            now=now,
            note=note,
        )

    def _goals_and_strengths(self, viewer: Viewer) -> Action:
        def name(moment: datetime) -> None:
            for context, (body, visibility) in GOALS_AND_STRENGTHS[viewer.username].items():
                self._save_text(viewer, context, body, visibility, moment - timedelta(minutes=10))
            self._complete(viewer, journey.ASSESSMENT, journey.GOALS, moment)

        return name

    def _step(self, viewer: Viewer, stage: str, step: str) -> Action:
        def complete(moment: datetime) -> None:
            for (text_stage, suffix), (body, visibility) in EXERCISE_TEXTS[viewer.username].items():
                if text_stage == stage and suffix.split(":")[0] == step:
                    self._save_text(
                        viewer, f"{stage}:{suffix}", body, visibility, moment - timedelta(minutes=5)
                    )
            skill = self.program.stage_by_key[stage]
            if step != journey.HOMEWORK and isinstance(
                exercise := skill.exercise(step), ConversationExercise
            ):
                # Had on one screen, turn by turn, in the minutes before it was marked done.
                total = len(exercise.turns)
                for turn in range(1, total + 1):
                    journey.mark_turn(
                        session=self.session,
                        viewer=viewer,
                        program=self.program,
                        stage=stage,
                        exercise=step,
                        turn=turn,
                        now=moment - timedelta(minutes=2 * (total - turn + 1)),
                    )
            note = HOMEWORK_NOTES[viewer.username] if step == journey.HOMEWORK else None
            self._complete(viewer, stage, step, moment, note)

        return complete

    def _log_entry(
        self, viewer: Viewer, stage: Stage, exercise: str, day: int, values: Mapping[str, int | bool]
    ) -> Action:
        def note(moment: datetime) -> None:
            journey.save_log_entry(
                session=self.session,
                viewer=viewer,
                stage=stage,
                exercise=exercise,
                day=day,
                values=values,
                now=moment,
            )

        return note

    # ---- weekly check-ins -------------------------------------------------------------------------

    def _checkins(self, alex: Viewer, sam: Viewer) -> None:
        """Sunday evening check-ins for every past week; Sam missed one week in the middle."""
        missed = self.weeks // 2 + 1
        for week in range(1, self.weeks):
            self.then(self.at(week, SUN, 20, self.rng.randint(0, 40)), self._weekly(alex, week))
            if week != missed:
                self.then(self.at(week, SUN, 20, self.rng.randint(10, 55)), self._weekly(sam, week))

    def _weekly(self, viewer: Viewer, week: int) -> Action:
        def check_in(moment: datetime) -> None:
            self._checkin(viewer, week, moment)

        return check_in

    def _checkin(self, viewer: Viewer, week: int, moment: datetime) -> None:
        """One check-in on the partner's trend for that week, with noise (and the note for it, if any)."""
        trends, bend = CHECKIN_TRENDS[viewer.username]
        progress = ((week - 1) / (self.weeks - 1)) ** bend
        dip = HARD_WEEK_DIP if week == HARD_WEEK else 0.0
        ratings = {}
        for key, (first, last) in trends.items():
            noise = max(-MAX_NOISE, min(MAX_NOISE, self.rng.gauss(0, CHECKIN_NOISE)))
            ratings[key] = _clamp(round(first + (last - first) * progress - dip + noise), 0, 10)
        note, visibility = CHECKIN_NOTES[viewer.username].get(week, (None, Visibility.PRIVATE))
        checkins.save_checkin(
            session=self.session,
            viewer=viewer,
            ratings=ratings,
            note=note,
            note_visibility=visibility,
            today=moment.date(),
            now=moment,
        )


@dataclass
class _CaseloadCouple:
    """What is known of a caseload couple as its planned first evening happens."""

    partners: list[Viewer] = field(default_factory=list)
    invite: str = ""
    code: str = ""
    couple_id: int = 0


def _answers(rng: random.Random, instrument: Instrument, levels: Mapping[str, float]) -> dict[str, int]:
    """Plausible answers: each subscale around a level (0 worst to 1 best), reverse-keyed items mirrored."""
    answers = {}
    for item in instrument.items:
        # Each item on its own scale (an operator's questionnaire may mix 0-6 and 0-5 items).
        low, high = instrument.scale_of(item).min, instrument.scale_of(item).max
        felt = low + (high - low) * levels.get(item.subscale, 0.5) + rng.gauss(0, 0.15 * (high - low))
        answers[item.key] = _clamp(round(high + low - felt if item.reverse else felt), low, high)
    return answers


def _clamp(value: int, low: int, high: int) -> int:
    return min(high, max(low, value))
