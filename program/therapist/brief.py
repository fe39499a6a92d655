"""The pre-session brief: what changed in a couple since their therapist last opened them.

Every fact comes through the read rules the rest of the therapist's view uses (access, shared, homework,
caseload), so the brief can never say more than the view would: a questionnaire is listed as sent, with no
score, and a text appears only if its writer shared it with the therapist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session

from program.course import outcomes, shared_texts
from program.course.curriculum import Program
from program.course.questionnaires import BASELINE
from program.infra.models import Role, Visibility
from program.infra.settings import Settings
from program.privacy import access, membership
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer
from program.therapist import caseload, homework
from program.therapist.caseload import Alert

# The first time a therapist opens a couple there is no "since": the brief covers this window instead, and
# the check-in trend always does.
WINDOW = timedelta(weeks=4)
# A change of overall check-in (0-10) this size or more over the window reads as rising or falling.
TREND_STEP = 1


@dataclass(frozen=True)
class SentOccasion:
    """A questionnaire a partner sent: who, which questionnaire and occasion, when. Never a score."""

    who: str
    what: str
    at: datetime


@dataclass(frozen=True)
class CheckinTrend:
    """One partner's overall check-in over the window, in words and the numbers behind them."""

    who: str
    overalls: tuple[tuple[date, int], ...]  # (week, overall 0-10), oldest first
    words: str


@dataclass(frozen=True)
class HomeworkDone:
    """Therapist homework a partner marked done."""

    who: str
    title: str
    at: datetime


@dataclass(frozen=True)
class NewText:
    """A text a partner shared (or changed) that the therapist may read: who, where, and with whom."""

    who: str
    where: str
    therapist_only: bool
    at: datetime


@dataclass(frozen=True)
class Brief:
    """What changed since `since` (None: the therapist's first look, covering the last four weeks)."""

    since: datetime | None
    start: datetime  # the moment the brief counts changes from
    occasions: tuple[SentOccasion, ...]
    trends: tuple[CheckinTrend, ...]
    homework_done: tuple[HomeworkDone, ...]
    texts: tuple[NewText, ...]
    alerts: tuple[Alert, ...]

    @property
    def first_time(self) -> bool:
        """Whether the therapist has never opened this couple before."""
        return self.since is None

    @property
    def nothing_new(self) -> bool:
        """No occasion, homework, text or alert since the start (the trend is always shown)."""
        return not (self.occasions or self.homework_done or self.texts or self.alerts)


def describe_occasion(program: Program, instrument: str, occasion: str) -> str:
    """A reader's name for a questionnaire occasion: "Relationship check (Start)"."""
    known = program.instruments.get(instrument)
    title = known.title if known is not None else instrument
    stages = {stage.key: stage.title for stage in program.stages}
    label: str
    if occasion in outcomes.occasions(program):
        label = outcomes.occasion_label(occasion, program)
    elif occasion == BASELINE:
        label = "Start"
    elif occasion.startswith(access.REPEATED_PREFIX):
        label = "filled in again"
    elif (stage := occasion.partition(":")[0]) in stages and occasion.endswith((":start", ":end")):
        label = f"{'start' if occasion.endswith(':start') else 'end'} of {stages[stage]}"
    else:
        label = occasion
    return f"{title} ({label})"


def trend_words(overalls: list[int]) -> str:
    """Rising, falling or steady, in words, from a partner's overall check-ins over the window."""
    if not overalls:
        return "no check-in in the last 4 weeks"
    if len(overalls) == 1:
        return f"one check-in in the last 4 weeks (overall {overalls[0]} of 10): too few to see a trend"
    first, last = overalls[0], overalls[-1]
    if last - first >= TREND_STEP:
        direction = "rising"
    elif first - last >= TREND_STEP:
        direction = "falling"
    else:
        direction = "steady"
    return f"{direction}: overall {first} to {last} of 10 over {len(overalls)} check-ins"


def _partner_names(session: Session, couple_id: int) -> dict[int, str]:
    return {m.person_id: m.display_name for m in membership.current_partners(session, couple_id)}


def build_brief(
    *,
    session: Session,
    viewer: Viewer,
    couple_id: int,
    program: Program,
    settings: Settings,
    since: datetime | None,
    today: date,
) -> Brief:
    """What changed in this couple since the therapist's previous opening (`since`, read before the
    current opening was recorded), or over the last four weeks the first time."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only the couple's therapist reads a pre-session brief.")
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    names = _partner_names(session, couple_id)
    window_start = datetime.combine(today - WINDOW, time.min, tzinfo=UTC)
    start = since if since is not None else window_start

    occasions = tuple(
        SentOccasion(names[s.person_id], describe_occasion(program, s.instrument, s.occasion), s.submitted_at)
        for s in access.couple_submissions(session=session, viewer=viewer, couple_id=couple_id)
        if s.submitted_at is not None and s.submitted_at > start and s.person_id in names
    )

    checkins = access.readable_checkins(session=session, viewer=viewer, couple_id=couple_id)
    trends = []
    for person_id, name in names.items():
        recent = [
            (c.week_start, c.overall)
            for c in checkins
            if c.person_id == person_id and c.week_start >= window_start.date()
        ]
        trends.append(CheckinTrend(name, tuple(recent), trend_words([overall for _, overall in recent])))

    done = tuple(
        HomeworkDone(names[person_id], item.title, at)
        for item in homework.couple_homework(session=session, viewer=viewer, couple_id=couple_id)
        for person_id, at in item.done.items()
        if at > start and person_id in names
    )

    texts = tuple(
        NewText(text.writer, text.where, text.visibility == Visibility.THERAPIST, text.changed_at)
        for text in shared_texts.shared_with_viewer(
            session=session, viewer=viewer, couple_id=couple_id, program=program
        )
        if text.changed_at is not None and text.changed_at > start
    )

    row = caseload.couple_row(
        session=session, viewer=viewer, couple_id=couple_id, program=program, settings=settings, today=today
    )
    # The first time, every standing alert is news; after that, only those raised since the last look.
    alerts = tuple(
        alert for alert in row.alerts if since is None or (alert.since is not None and alert.since > since)
    )
    return Brief(
        since=since,
        start=start,
        occasions=tuple(sorted(occasions, key=lambda o: o.at, reverse=True)),
        trends=tuple(trends),
        homework_done=tuple(sorted(done, key=lambda h: h.at, reverse=True)),
        texts=tuple(sorted(texts, key=lambda t: t.at, reverse=True)),
        alerts=alerts,
    )
