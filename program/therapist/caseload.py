"""The therapist's caseload: one row per couple they may see, with each partner's stage, last activity,
latest outcome and check-in, and the alerts worth their attention, in a fixed number of SQL queries
whatever the number of couples.

Everything is read through access.py's batched rules (which couples, the blind rule, the safety
attention) or, for the couples those rules returned, only rows given in that couple by its current
partners. The alert rules are one pure function over the loaded history (`alerts`), so they are tested
without a database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from program.charts import figures
from program.course import journey, outcomes, scoring
from program.course.curriculum import Program, Subscale
from program.infra.db import memo
from program.infra.models import (
    FEEDBACK_ITEMS,
    CheckIn,
    ExerciseRecord,
    HomeworkAssignment,
    HomeworkCompletion,
    QuestionnaireSubmission,
    Role,
    SessionFeedback,
    SubmissionStatus,
    TherapySession,
)
from program.infra.settings import Settings
from program.privacy import access, membership
from program.privacy.access import AccessDenied
from program.privacy.viewer import Viewer

ALERT_KINDS = (
    "safety",
    "outcome-drop",
    "checkin-drop",
    "partner-gap",
    "inactive",
    "homework-overdue",
    "feedback-split",
)
FINISHED = "Finished the program"
ASSESSMENT_TITLE = "Assessment"


@dataclass(frozen=True)
class Alert:
    """Something in a couple's history worth the therapist's attention, in plain words. `text` may hold a
    partner's typed name: escape it wherever it is shown as Markdown."""

    kind: str
    text: str
    since: datetime | None  # when its trigger happened
    person_id: int | None  # the partner it is about (None: the couple, or not to be told)


@dataclass(frozen=True)
class PartnerRow:
    """One partner's line of the caseload."""

    person_id: int
    name: str
    stage: str
    last_active: datetime | None
    latest_outcome: float | None
    latest_outcome_label: str | None
    latest_checkin: int | None
    latest_checkin_week: date | None


@dataclass(frozen=True)
class CaseloadRow:
    """One couple of the caseload: both partners, and the alerts."""

    couple_id: int
    partners: tuple[PartnerRow, ...]
    alerts: tuple[Alert, ...]

    @property
    def names(self) -> str:
        """ "Ana & Ben" (typed names: escape when shown as Markdown)."""
        return " & ".join(p.name for p in self.partners)


# The history the alerts are judged on (plain data, so the rules are tested without a database).


@dataclass(frozen=True)
class OutcomePoint:
    """A partner's main outcome score at one occasion both partners sent (readable to the therapist)."""

    label: str
    score: float
    at: datetime | None  # when it became readable: the later of the two partners' sending


@dataclass(frozen=True)
class CheckinPoint:
    """A partner's overall rating in one week's check-in."""

    week_start: date
    overall: int
    at: datetime | None


@dataclass(frozen=True)
class PartnerHistory:
    """What the alerts read about one partner."""

    person_id: int
    name: str
    joined_at: datetime | None
    outcomes: tuple[OutcomePoint, ...] = ()  # in the order of the occasions
    checkins: tuple[CheckinPoint, ...] = ()  # oldest week first
    last_active: datetime | None = None
    safety_attention: bool = False  # consent standing and latest screen flagged (access rule)


@dataclass(frozen=True)
class HomeworkDue:
    """A homework the therapist assigned, who it is for and who marked it done."""

    title: str
    due_on: date
    for_ids: tuple[int, ...]
    done_by: frozenset[int]


@dataclass(frozen=True)
class SessionRatings:
    """Both partners' ratings of one session held (only the partners who rated it)."""

    held_on: date
    ratings: Mapping[int, Mapping[str, int]]
    at: datetime | None  # when the latest rating came


@dataclass(frozen=True)
class CoupleHistory:
    """What the alerts read about one couple."""

    couple_id: int
    partners: tuple[PartnerHistory, ...]
    homework: tuple[HomeworkDue, ...] = ()
    sessions: tuple[SessionRatings, ...] = ()  # oldest first


@dataclass(frozen=True)
class AlertRules:
    """The thresholds (from settings) and the outcome subscale the alerts judge by."""

    checkin_drop: float
    partner_gap: float
    inactive_days: int
    feedback_low: int
    feedback_gap: int
    outcome_subscale: Subscale | None = None
    outcome_title: str = "the outcome measure"

    @classmethod
    def of(cls, settings: Settings, subscale: Subscale | None = None, title: str | None = None) -> AlertRules:
        """The rules an operator set."""
        return cls(
            settings.alert_checkin_drop,
            settings.alert_partner_gap,
            settings.alert_inactive_days,
            settings.alert_feedback_low,
            settings.alert_feedback_gap,
            subscale,
            title or "the outcome measure",
        )


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _at_day(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def alerts(history: CoupleHistory, rules: AlertRules, today: date) -> tuple[Alert, ...]:
    """Every alert the couple's history raises today, in a fixed order of kinds."""
    found: list[Alert] = []
    for partner in history.partners:
        if partner.safety_attention:
            found.append(
                Alert(
                    "safety",
                    f"{partner.name} asked that you know their safety check needs attention.",
                    None,
                    partner.person_id,
                )
            )
    for partner in history.partners:
        found.extend(_outcome_drop(partner, rules))
    for partner in history.partners:
        found.extend(_checkin_drop(partner, rules))
    found.extend(_partner_gap(history.partners, rules))
    for partner in history.partners:
        found.extend(_inactive(partner, rules, today))
    found.extend(_homework_overdue(history, today))
    found.extend(_feedback_split(history.sessions, rules))
    return tuple(sorted(found, key=lambda a: ALERT_KINDS.index(a.kind)))


def _outcome_drop(partner: PartnerHistory, rules: AlertRules) -> list[Alert]:
    if rules.outcome_subscale is None or len(partner.outcomes) < 2:
        return []
    before, after = partner.outcomes[-2], partner.outcomes[-1]
    change = scoring.reliable_change(rules.outcome_subscale, before.score, after.score)
    if change is None or change.verdict != "reliably worse":
        return []
    return [
        Alert(
            "outcome-drop",
            f"{partner.name}'s score on {rules.outcome_title} got reliably worse: {_number(before.score)} "
            f"({before.label}) to {_number(after.score)} ({after.label}).",
            after.at,
            partner.person_id,
        )
    ]


def _checkin_drop(partner: PartnerHistory, rules: AlertRules) -> list[Alert]:
    if len(partner.checkins) < 4:
        return []
    latest, previous = partner.checkins[-1], partner.checkins[-4:-1]
    mean = sum(c.overall for c in previous) / len(previous)
    # Rounded so that floating-point noise cannot move a drop of exactly the threshold either way.
    if round(mean - latest.overall, 9) < rules.checkin_drop:
        return []
    return [
        Alert(
            "checkin-drop",
            f"{partner.name}'s overall check-in dropped to {latest.overall} from an average of "
            f"{_number(mean)} over the three weeks before.",
            latest.at or _at_day(latest.week_start),
            partner.person_id,
        )
    ]


def _partner_gap(partners: Sequence[PartnerHistory], rules: AlertRules) -> list[Alert]:
    if len(partners) != 2 or not all(p.checkins for p in partners):
        return []
    first, second = partners
    weeks = {c.week_start for c in first.checkins} & {c.week_start for c in second.checkins}
    if weeks:
        # The latest week both checked in: one partner's new week is not set against the other's old one
        # (they rate the same days); only partners who never checked in the same week compare their latest.
        week = max(weeks)
        a = next(c for c in first.checkins if c.week_start == week)
        b = next(c for c in second.checkins if c.week_start == week)
    else:
        a, b = first.checkins[-1], second.checkins[-1]
    gap = abs(a.overall - b.overall)
    if gap < rules.partner_gap:
        return []
    moments = [m for m in (a.at, b.at) if m is not None]
    return [
        Alert(
            "partner-gap",
            f"{first.name} and {second.name} rate the relationship {gap} points apart overall in their "
            "latest check-ins.",
            max(moments) if moments else _at_day(max(a.week_start, b.week_start)),
            None,
        )
    ]


def _inactive(partner: PartnerHistory, rules: AlertRules, today: date) -> list[Alert]:
    last = partner.last_active or partner.joined_at
    if last is None:
        return []
    idle = (today - last.astimezone(UTC).date()).days
    if idle < rules.inactive_days:
        return []
    what = "no activity" if partner.last_active is not None else "no activity since joining"
    return [
        Alert(
            "inactive",
            f"{partner.name}: {what} for {_days(idle)}.",
            last,
            partner.person_id,
        )
    ]


def _homework_overdue(history: CoupleHistory, today: date) -> list[Alert]:
    names = {p.person_id: p.name for p in history.partners}
    found = []
    for homework in sorted(history.homework, key=lambda h: h.due_on):
        if homework.due_on >= today:
            continue
        missing = [names[p] for p in homework.for_ids if p in names and p not in homework.done_by]
        if not missing:
            continue
        late = [p for p in homework.for_ids if p in names and p not in homework.done_by]
        found.append(
            Alert(
                "homework-overdue",
                f"Homework “{homework.title}” was due on {homework.due_on.day} {homework.due_on:%B}: "
                f"not marked done by {' or '.join(missing)}.",
                _at_day(homework.due_on + timedelta(days=1)),
                late[0] if len(late) == 1 else None,
            )
        )
    return found


def _feedback_split(sessions: Sequence[SessionRatings], rules: AlertRules) -> list[Alert]:
    rated = [s for s in sessions if s.ratings]
    if not rated:
        return []
    latest = max(rated, key=lambda s: s.held_on)
    ratings = list(latest.ratings.values())
    low = any(r[item] <= rules.feedback_low for r in ratings for item in FEEDBACK_ITEMS if item in r)
    split = len(ratings) == 2 and any(
        item in ratings[0]
        and item in ratings[1]
        and abs(ratings[0][item] - ratings[1][item]) >= rules.feedback_gap
        for item in FEEDBACK_ITEMS
    )
    if not (low or split):
        return []
    # No ratings and no partner in the words: the therapist reads the numbers in the chart, and a screen
    # turned toward the couple must not say who rated lower.
    return [
        Alert(
            "feedback-split",
            "Session feedback on the latest session is split: worth asking how the session landed for "
            "each of you.",
            latest.at or _at_day(latest.held_on),
            None,
        )
    ]


def _stage_label(own: journey.Journey, program: Program) -> str:
    """Where one partner is: the title of the first open stage they haven't finished; when the next
    stage is not open yet (their partner is still on the one before), that they are waiting for it."""
    for key in journey.ORDER:
        if own.me.finished_at(key) is not None:
            continue
        title = ASSESSMENT_TITLE if key == journey.ASSESSMENT else program.stage_by_key[key].title
        return title if own.is_open(key) else f"Waiting for {title} to open"
    return FINISHED


# Loading.


def load_caseload(
    *, session: Session, viewer: Viewer, program: Program, settings: Settings, today: date
) -> list[CaseloadRow]:
    """One row per couple this therapist may see right now, in a fixed number of queries."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only a therapist has a caseload.")
    couple_ids = access.couples_visible_to_therapist(session=session, viewer=viewer)
    return _load(session, viewer, program, settings, today, couple_ids)


def couple_row(
    *, session: Session, viewer: Viewer, couple_id: int, program: Program, settings: Settings, today: date
) -> CaseloadRow:
    """One couple's caseload row (AccessDenied if the therapist may not see it now)."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only a therapist has a caseload.")
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    # Once per read session: the brief and the private tab each need the row in one rerun.
    rows = memo(
        session,
        ("caseload_row", viewer.person_id, couple_id, id(program), id(settings), today),
        lambda: _load(session, viewer, program, settings, today, [couple_id]),
    )
    if not rows:
        raise AccessDenied("You do not have access to this couple.")
    return rows[0]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in (_utc(m) for m in moments) if m is not None]
    return max(known) if known else None


def _load(
    session: Session,
    viewer: Viewer,
    program: Program,
    settings: Settings,
    today: date,
    couple_ids: list[int],
) -> list[CaseloadRow]:
    if not couple_ids:
        return []
    journeys = journey.therapist_journeys(
        session=session, viewer=viewer, couple_ids=couple_ids, program=program
    )
    ids = [c for c in couple_ids if c in journeys]
    if not ids:
        return []
    partners: dict[int, list[int]] = {}
    for couple_id in ids:
        j = journeys[couple_id]
        assert j.partner is not None
        partners[couple_id] = [j.me.person_id, j.partner.person_id]
    people = [p for pair in partners.values() for p in pair]

    def ours(couple_id: int | None, person_id: int) -> bool:
        return couple_id is not None and person_id in partners.get(couple_id, ())

    joined: dict[tuple[int, int], datetime | None] = {
        (m.couple_id, m.person_id): _utc(m.joined_at)
        for members in membership.current_partners_of(session, ids).values()
        for m in members
    }

    activity: dict[tuple[int, int], datetime | None] = defaultdict(lambda: None)

    def active(couple_id: int, person_id: int, moment: datetime | None) -> None:
        activity[(couple_id, person_id)] = _latest(activity[(couple_id, person_id)], moment)

    checkins: dict[tuple[int, int], list[CheckinPoint]] = defaultdict(list)
    # Ratings only (the notes stay encrypted and unread); five columns: SQLAlchemy's own select.
    for couple_id, person_id, week, overall, updated in session.execute(
        sql_select(
            col(CheckIn.couple_id),
            col(CheckIn.person_id),
            col(CheckIn.week_start),
            col(CheckIn.overall),
            col(CheckIn.updated_at),
        )
        .where(col(CheckIn.couple_id).in_(ids), col(CheckIn.person_id).in_(people))
        .order_by(col(CheckIn.week_start))
    ):
        if couple_id is not None and ours(couple_id, person_id):
            checkins[(couple_id, person_id)].append(CheckinPoint(week, overall, _utc(updated)))
    # A year of weekly check-ins is ~100 rows a couple: their latest change once per partner, not per row.
    for (couple_id, person_id), weeks in checkins.items():
        active(couple_id, person_id, max((w.at for w in weeks if w.at), default=None))
    latest_sent = (
        select(
            QuestionnaireSubmission.couple_id,
            QuestionnaireSubmission.person_id,
            func.max(QuestionnaireSubmission.submitted_at),
        )
        .where(
            col(QuestionnaireSubmission.couple_id).in_(ids),
            col(QuestionnaireSubmission.person_id).in_(people),
            QuestionnaireSubmission.status == SubmissionStatus.SUBMITTED,
        )
        .group_by(col(QuestionnaireSubmission.couple_id), col(QuestionnaireSubmission.person_id))
    )
    latest_exercise = (
        select(ExerciseRecord.couple_id, ExerciseRecord.person_id, func.max(ExerciseRecord.updated_at))
        .where(col(ExerciseRecord.couple_id).in_(ids), col(ExerciseRecord.person_id).in_(people))
        .group_by(col(ExerciseRecord.couple_id), col(ExerciseRecord.person_id))
    )
    for query in (latest_sent, latest_exercise):
        for given_in, person_id, moment in session.exec(query):
            if given_in is not None and ours(given_in, person_id):
                active(given_in, person_id, moment)

    homework: dict[int, list[HomeworkDue]] = defaultdict(list)
    # Plain columns: the instructions (encrypted) are not needed here.
    assignments = session.execute(
        sql_select(
            col(HomeworkAssignment.id),
            col(HomeworkAssignment.couple_id),
            col(HomeworkAssignment.title),
            col(HomeworkAssignment.due_on),
            col(HomeworkAssignment.for_person_id),
        ).where(col(HomeworkAssignment.couple_id).in_(ids), col(HomeworkAssignment.stage).is_(None))
    ).all()
    done: dict[int, set[int]] = defaultdict(set)
    for couple_id, person_id, assignment_id, completed_at in session.exec(
        select(
            HomeworkAssignment.couple_id,
            HomeworkCompletion.person_id,
            HomeworkCompletion.assignment_id,
            HomeworkCompletion.completed_at,
        )
        .join(HomeworkAssignment, col(HomeworkAssignment.id) == HomeworkCompletion.assignment_id)
        .where(col(HomeworkAssignment.couple_id).in_(ids), col(HomeworkCompletion.person_id).in_(people))
    ):
        if ours(couple_id, person_id):
            done[assignment_id].add(person_id)
            active(couple_id, person_id, completed_at)
    for assignment_id, couple_id, title, due_on, for_person_id in assignments:
        pair = partners[couple_id]
        for_ids = tuple(pair) if for_person_id is None else (for_person_id,)
        homework[couple_id].append(HomeworkDue(title, due_on, for_ids, frozenset(done[assignment_id])))

    held: dict[int, dict[int, dict[int, dict[str, int]]]] = defaultdict(dict)
    held_on: dict[int, date] = {}
    rated_at: dict[int, datetime | None] = defaultdict(lambda: None)
    for feedback, couple_id, therapist_id, day in session.exec(
        select(
            SessionFeedback,
            col(TherapySession.couple_id),
            col(TherapySession.therapist_id),
            col(TherapySession.held_on),
        )
        .join(TherapySession, col(TherapySession.id) == SessionFeedback.session_id)
        .where(col(TherapySession.couple_id).in_(ids), col(SessionFeedback.person_id).in_(people))
    ):
        if not ours(couple_id, feedback.person_id):
            continue
        active(couple_id, feedback.person_id, feedback.submitted_at)
        # The ratings themselves only of sessions this therapist held (access.readable_session_feedback).
        if therapist_id == viewer.person_id:
            ratings = {item: int(getattr(feedback, item)) for item in FEEDBACK_ITEMS}
            held[couple_id].setdefault(feedback.session_id, {})[feedback.person_id] = ratings
            held_on[feedback.session_id] = day
            rated_at[feedback.session_id] = _latest(rated_at[feedback.session_id], feedback.submitted_at)

    instrument = outcomes.outcome_instrument(program, settings)
    subscale = figures.main_subscale(instrument)
    order = outcomes.occasions(program)
    scores: dict[tuple[int, int], list[tuple[int, str, float]]] = defaultdict(list)
    sent_at: dict[tuple[int, str], datetime | None] = defaultdict(lambda: None)
    submissions = access.caseload_submissions(
        session=session, viewer=viewer, couple_ids=ids, instrument=instrument.key
    )
    for couple_id, views in submissions.items():
        for view in views:
            if view.occasion in order:
                sent_at[(couple_id, view.occasion)] = _latest(
                    sent_at[(couple_id, view.occasion)], view.submitted_at
                )
        for view in views:
            # The blind rule: answers only where both partners sent this occasion.
            if view.answers is None or view.occasion not in order:
                continue
            value = scoring.score(instrument, view.answers)[subscale.key].score
            if value is not None:
                scores[(couple_id, view.person_id)].append((order.index(view.occasion), view.occasion, value))
    flags = access.caseload_safety_attention(session=session, viewer=viewer, couple_ids=ids)
    rules = AlertRules.of(settings, subscale, f"“{instrument.title}”")

    rows = []
    for couple_id in ids:
        couple_journey = journeys[couple_id]
        flagged = {f.person_id for f in flags.get(couple_id, [])}
        histories = []
        partner_rows = []
        for person_id in partners[couple_id]:
            own = journey.for_partner(couple_journey, person_id)
            key = (couple_id, person_id)
            points = tuple(
                OutcomePoint(
                    outcomes.occasion_label(occasion, program), value, sent_at[(couple_id, occasion)]
                )
                for _, occasion, value in sorted(scores[key])
            )
            history = PartnerHistory(
                person_id,
                own.me.name,
                joined.get(key),
                points,
                tuple(checkins[key]),
                activity[key],
                person_id in flagged,
            )
            histories.append(history)
            stage = _stage_label(own, program)
            latest_checkin = history.checkins[-1] if history.checkins else None
            partner_rows.append(
                PartnerRow(
                    person_id,
                    own.me.name,
                    stage,
                    history.last_active,
                    points[-1].score if points else None,
                    points[-1].label if points else None,
                    latest_checkin.overall if latest_checkin else None,
                    latest_checkin.week_start if latest_checkin else None,
                )
            )
        sessions = tuple(
            SessionRatings(held_on[sid], ratings, rated_at[sid])
            for sid, ratings in sorted(held[couple_id].items(), key=lambda item: (held_on[item[0]], item[0]))
        )
        history_of_couple = CoupleHistory(couple_id, tuple(histories), tuple(homework[couple_id]), sessions)
        rows.append(CaseloadRow(couple_id, tuple(partner_rows), alerts(history_of_couple, rules, today)))
    return rows
