"""Who may see what. Every function that returns a person's or a couple's data asks here first."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, and_, func
from sqlmodel import Session, col, select

from program.infra.db import memo
from program.infra.models import (
    Agreement,
    AgreementPart,
    CheckIn,
    CoupleGoal,
    ExerciseRecord,
    GoalConfirmation,
    GoalRating,
    JointPause,
    ModuleChoice,
    PauseReason,
    Person,
    QuestionnaireSubmission,
    Reflection,
    Role,
    SafetyScreen,
    SessionFeedback,
    SubmissionStatus,
    TherapistNote,
    TherapySession,
    Visibility,
    WishMark,
)
from program.privacy import blind, membership
from program.privacy.tables import QuestionnaireAnswer, TherapistApproval, TherapistGrant
from program.privacy.viewer import Viewer

RowT = TypeVar("RowT", Reflection, CheckIn)


class AccessDenied(PermissionError):
    """The viewer may not see this."""


def in_couple(column: Any, couple_id: int | None) -> ColumnElement[bool]:
    """Rows given in this couple; for None, rows given before joining any couple (solo work).

    Everything a person writes or answers belongs to the couple it was given in, so a couple that ended
    takes its rows with it: they never count, show or open anything in whatever couple comes next.
    """
    return col(column).is_(None) if couple_id is None else col(column) == couple_id


# The couple the viewer is a current member of, if any: asked here by most callers, read in membership.
current_couple_id = membership.current_couple_id


def _grant_by_current_member() -> ColumnElement[bool]:
    """A therapist grant given by a partner who is still a current member of the couple it is for: a
    former member's grant counts for nothing."""
    return membership.is_current_member(TherapistGrant.couple_id, TherapistGrant.partner_id)


def couples_visible_to_therapist(*, session: Session, viewer: Viewer) -> list[int]:
    """Couples whose every current partner has a standing grant for this therapist (and who have two),
    while the server's operator approves the therapist.

    One statement, starting from this therapist's own standing grants (indexed by therapist), so its cost
    follows the therapist's caseload, not the number of couples on the server."""
    if viewer.role != Role.THERAPIST:
        return []
    current_partners = membership.current_partner_count(TherapistGrant.couple_id)
    approved = select(TherapistApproval.person_id).where(TherapistApproval.person_id == viewer.person_id)
    granted = (
        select(TherapistGrant.couple_id)
        .where(
            TherapistGrant.therapist_id == viewer.person_id,
            _grant_by_current_member(),
            col(TherapistGrant.revoked_at).is_(None),
            approved.exists(),
            # Two current partners, and a standing grant from each of them.
            current_partners == 2,
        )
        .group_by(col(TherapistGrant.couple_id))
        .having(func.count(func.distinct(TherapistGrant.partner_id)) == 2)
        .order_by(col(TherapistGrant.couple_id))
    )
    return list(
        memo(
            session,
            ("couples_visible_to_therapist", viewer.person_id),
            lambda: tuple(int(couple_id) for couple_id in session.exec(granted)),
        )
    )


def can_view_couple(*, session: Session, viewer: Viewer, couple_id: int) -> bool:
    """Whether the viewer may see this couple's shared data at all."""
    if viewer.role == Role.PARTNER:
        return current_couple_id(session=session, viewer=viewer) == couple_id
    return couple_id in couples_visible_to_therapist(session=session, viewer=viewer)


def require_couple(*, session: Session, viewer: Viewer, couple_id: int) -> None:
    """Raise AccessDenied unless the viewer may see this couple."""
    if not can_view_couple(session=session, viewer=viewer, couple_id=couple_id):
        raise AccessDenied("You do not have access to this couple.")


def _couple_partner_ids(session: Session, couple_id: int) -> list[int]:
    return [member.person_id for member in membership.current_partners(session, couple_id)]


def _partners_rows(
    session: Session, viewer: Viewer, couple_id: int, model: type[RowT], *order: Any
) -> Sequence[RowT]:
    """The couple's rows of one kind written by its current partners, after checking the viewer's access."""
    require_couple(session=session, viewer=viewer, couple_id=couple_id)
    columns = cast(Any, model)  # both kinds have person_id and couple_id columns
    return session.exec(
        select(model)
        .where(
            columns.couple_id == couple_id,
            col(columns.person_id).in_(_couple_partner_ids(session, couple_id)),
        )
        .order_by(*order)
    ).all()


def shared_visibilities(viewer: Viewer, writer_id: int) -> tuple[Visibility, ...]:
    """Which sharing choices of a writer let this viewer read their text (the writer reads all of it).

    "Shared with partner" shares with the couple: the partner, and a therapist both partners let in.
    "Therapist only" reaches the therapist and not the partner.
    """
    if viewer.person_id == writer_id:
        return tuple(Visibility)
    if viewer.role == Role.THERAPIST:
        return (Visibility.PARTNER, Visibility.THERAPIST)
    return (Visibility.PARTNER,)


def readable_reflections(*, session: Session, viewer: Viewer, couple_id: int) -> list[Reflection]:
    """The couple's free-text reflections this viewer may read: their own, and what was shared with them."""
    rows = _partners_rows(
        session, viewer, couple_id, Reflection, col(Reflection.created_at), col(Reflection.id)
    )
    return [r for r in rows if r.visibility in shared_visibilities(viewer, r.person_id)]


@dataclass(frozen=True)
class CheckInView:
    """A weekly check-in as a viewer may see it: ratings always (they feed joint charts), the note only if
    its writer shared it with this viewer, and the same for the optional intimacy rating (its own choice)."""

    person_id: int
    week_start: date
    closeness: int
    communication: int
    conflict: int
    trust: int
    overall: int
    note: str | None
    # None both when there is none and when its writer did not share it with this viewer: a reader can
    # never tell an unshared rating from a missing one.
    intimacy: int | None = None


def readable_checkins(*, session: Session, viewer: Viewer, couple_id: int) -> list[CheckInView]:
    """Both current partners' weekly check-ins, oldest first, with notes and intimacy ratings only where
    shared with this viewer."""
    rows = _partners_rows(
        session, viewer, couple_id, CheckIn, col(CheckIn.week_start), col(CheckIn.person_id)
    )
    return [
        CheckInView(
            row.person_id,
            row.week_start,
            row.closeness,
            row.communication,
            row.conflict,
            row.trust,
            row.overall,
            row.note if row.note_visibility in shared_visibilities(viewer, row.person_id) else None,
            row.intimacy if row.intimacy_visibility in shared_visibilities(viewer, row.person_id) else None,
        )
        for row in rows
    ]


def readable_safety_screens(*, session: Session, viewer: Viewer, person_id: int) -> list[SafetyScreen]:
    """A person's safety screens, for that person alone. Never for their partner, and never for a
    therapist: one they chose learns only that the check needs attention (safety_attention)."""
    if viewer.person_id != person_id:
        raise AccessDenied("Safety answers are private to the person who gave them.")
    return list(
        session.exec(
            select(SafetyScreen)
            .where(SafetyScreen.person_id == person_id)
            .order_by(col(SafetyScreen.submitted_at), col(SafetyScreen.id))
        )
    )


@dataclass(frozen=True)
class PauseView:
    """Joint work's pause as one viewer may know it. Only the pauser learns a reason; everyone else
    learns one bit, whatever the reason, so a pause for safety reads exactly like one for being busy."""

    own_reason: PauseReason | None  # the viewer's own standing pause, if any
    others_paused: bool  # someone else in the couple paused: the partner, as the viewer may know it

    @property
    def joint_paused(self) -> bool:
        """Whether guided conversations are closed for this couple."""
        return self.own_reason is not None or self.others_paused


def standing_pauses(session: Session, couple_id: int) -> list[JointPause]:
    """The couple's current partners' standing pauses. For access.py and pauses.py only: it carries
    reasons, which only their pauser may read."""
    return list(
        session.exec(
            select(JointPause).where(
                JointPause.couple_id == couple_id,
                col(JointPause.ended_at).is_(None),
                col(JointPause.person_id).in_(_couple_partner_ids(session, couple_id)),
            )
        )
    )


def readable_pause(*, session: Session, viewer: Viewer, couple_id: int) -> PauseView:
    """Whether joint work is paused in this couple, with the reason only for the viewer's own pause."""
    require_couple(session=session, viewer=viewer, couple_id=couple_id)
    pauses = standing_pauses(session, couple_id)
    own = next((PauseReason(p.reason) for p in pauses if p.person_id == viewer.person_id), None)
    return PauseView(own, any(p.person_id != viewer.person_id for p in pauses))


@dataclass(frozen=True)
class AttentionFlag:
    """A partner who asked that their therapist be told "my safety check needs attention"."""

    person_id: int
    name: str


def safety_attention(*, session: Session, viewer: Viewer, couple_id: int) -> list[AttentionFlag]:
    """The partners of this couple who asked that this therapist be told "my safety check needs
    attention": consent standing, and their latest screen flagged. Never the answers; therapists only."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only a therapist the person chose is told about their safety check.")
    require_couple(session=session, viewer=viewer, couple_id=couple_id)
    return _safety_flags(session, viewer, [couple_id]).get(couple_id, [])


def caseload_safety_attention(
    *, session: Session, viewer: Viewer, couple_ids: Sequence[int]
) -> dict[int, list[AttentionFlag]]:
    """safety_attention for many couples in a fixed number of queries; couples this therapist may not
    see are left out."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Only a therapist the person chose is told about their safety check.")
    visible = set(couples_visible_to_therapist(session=session, viewer=viewer))
    return _safety_flags(session, viewer, [c for c in couple_ids if c in visible])


def _safety_flags(session: Session, viewer: Viewer, couple_ids: list[int]) -> dict[int, list[AttentionFlag]]:
    """The rule of safety_attention, for couples the caller checked: two queries whatever their number."""
    if not couple_ids:
        return {}
    consenting = session.exec(
        select(TherapistGrant.couple_id, TherapistGrant.partner_id, Person.display_name)
        .join(Person, col(Person.id) == TherapistGrant.partner_id)
        .where(
            col(TherapistGrant.couple_id).in_(couple_ids),
            _grant_by_current_member(),
            TherapistGrant.therapist_id == viewer.person_id,
            col(TherapistGrant.revoked_at).is_(None),
            col(TherapistGrant.share_safety_screen).is_(True),
        )
        .order_by(col(TherapistGrant.couple_id), col(TherapistGrant.partner_id))
    ).all()
    if not consenting:
        return {}
    latest_first = (
        func.row_number()
        .over(
            partition_by=col(SafetyScreen.person_id),
            order_by=(col(SafetyScreen.submitted_at).desc(), col(SafetyScreen.id).desc()),
        )
        .label("rank")
    )
    ranked = (
        select(
            col(SafetyScreen.person_id).label("person_id"),
            col(SafetyScreen.flagged).label("flagged"),
            latest_first,
        )
        .where(col(SafetyScreen.person_id).in_({person_id for _, person_id, _ in consenting}))
        .subquery()
    )
    flagged_now = {
        int(person_id)
        for person_id, flagged in session.execute(
            select(ranked.c.person_id, ranked.c.flagged).where(ranked.c.rank == 1)
        )
        if flagged
    }
    flags: dict[int, list[AttentionFlag]] = defaultdict(list)
    for couple_id, person_id, name in consenting:
        if person_id in flagged_now:
            flags[couple_id].append(AttentionFlag(person_id, name))
    return dict(flags)


@dataclass(frozen=True)
class CurrentPartner:
    """A current partner of a couple, as a therapist of the couple knows them: id and name only."""

    person_id: int
    name: str


def current_partners(
    *, session: Session, viewer: Viewer, couple_ids: Sequence[int]
) -> dict[int, list[CurrentPartner]]:
    """The current partners of each of these couples this therapist may see, in the order they joined
    (one query, after the visibility check). Couples the viewer may not see are left out."""
    visible = set(couples_visible_to_therapist(session=session, viewer=viewer))
    wanted = [c for c in couple_ids if c in visible]
    return {
        couple_id: [CurrentPartner(m.person_id, m.display_name) for m in members]
        for couple_id, members in membership.current_partners_of(session, wanted).items()
    }


@dataclass(frozen=True)
class SubmissionView:
    """One person's filling-in of a questionnaire occasion, as a viewer may see it."""

    person_id: int
    instrument: str
    occasion: str
    submitted_at: datetime | None  # None: a draft, only ever the viewer's own
    answers: dict[str, int | None] | None  # None: blind to this viewer (not both sent yet)


REPEATED_PREFIX = "extra:"  # occasions of questionnaires filled in again over time, one per day


def _submissions(
    session: Session,
    viewer: Viewer,
    couple_id: int | None,
    *,
    own_drafts: bool,
    instrument: str | None = None,
    occasion: str | None = None,
    over_time: bool = False,
) -> list[SubmissionView]:
    """The blind rule for one couple (None: the viewer's own couple-less answers), after checking access.
    The rule is applied in _blind_views (and decided in blind.visible_authors)."""
    if couple_id is None:
        if viewer.role != Role.PARTNER:
            return []
        people: dict[int | None, list[int]] = {None: [viewer.person_id]}
    else:
        require_couple(session=session, viewer=viewer, couple_id=couple_id)
        people = {couple_id: _couple_partner_ids(session, couple_id)}
    return _blind_views(
        session,
        viewer,
        people,
        own_drafts=own_drafts,
        instrument=instrument,
        occasion=occasion,
        over_time=over_time,
    )[couple_id]


def _blind_views(
    session: Session,
    viewer: Viewer,
    people: dict[int | None, list[int]],
    *,
    own_drafts: bool,
    instrument: str | None = None,
    occasion: str | None = None,
    over_time: bool = False,
) -> dict[int | None, list[SubmissionView]]:
    """The blind rule (blind.visible_authors) for every reader of questionnaires, for any number of couples
    (each couple's current partners in `people`; the caller has checked the viewer may see each) in two
    queries.

    Only answers given in each couple (None: the viewer's own couple-less answers) by its current
    partners. A partner's sent filling-in is visible as sent; its item answers only once both current
    partners have sent that occasion in this couple. With own_drafts, the viewer's own answers (drafts
    too) are always included.

    With over_time (for trend charts only, which keep scores and drop item answers): a questionnaire filled
    in again over time on days of each partner's choosing (occasions "extra:<day>") is readable once the
    other current partner has sent the same questionnaire on that day or a later one. So each partner's
    own dates reach the trend, yet nobody sees a filling of the other's newer than their own latest (it
    cannot colour their answers).
    """
    result: dict[int | None, list[SubmissionView]] = {couple: [] for couple in people}
    everyone = sorted({person for members in people.values() for person in members})
    if not everyone:
        return result
    couples_given = [couple for couple in people if couple is not None]
    where_couple = (
        in_couple(QuestionnaireSubmission.couple_id, None)
        if not couples_given
        else col(QuestionnaireSubmission.couple_id).in_(couples_given)
    )
    query = select(QuestionnaireSubmission).where(
        where_couple, col(QuestionnaireSubmission.person_id).in_(everyone)
    )
    if instrument is not None:
        query = query.where(QuestionnaireSubmission.instrument == instrument)
    if occasion is not None:
        query = query.where(QuestionnaireSubmission.occasion == occasion)
    by_couple: dict[int | None, list[QuestionnaireSubmission]] = defaultdict(list)
    for row in session.exec(query.order_by(col(QuestionnaireSubmission.id))):
        # Only the couple's own current partners' rows (a former partner's stay out).
        if row.couple_id in people and row.person_id in people[row.couple_id]:
            by_couple[row.couple_id].append(row)

    reader = viewer.person_id if own_drafts else None
    visible: dict[int | None, list[QuestionnaireSubmission]] = {}
    readable: list[int] = []
    for couple, rows in by_couple.items():
        members = people[couple]
        sent: dict[tuple[str, str], set[int]] = defaultdict(set)
        for row in rows:
            if row.status == SubmissionStatus.SUBMITTED:
                sent[(row.instrument, row.occasion)].add(row.person_id)
        # ISO days sort as text: "extra:2026-11-23" < "extra:2026-12-01".
        latest: dict[tuple[str, int], str] = {}
        for row in rows:
            if (
                over_time
                and row.status == SubmissionStatus.SUBMITTED
                and row.occasion.startswith(REPEATED_PREFIX)
            ):
                key = (row.instrument, row.person_id)
                latest[key] = max(latest.get(key, row.occasion), row.occasion)

        def done(
            instrument: str,
            occasion: str,
            members: list[int] = members,
            sent: dict[tuple[str, str], set[int]] = sent,
            latest: dict[tuple[str, int], str] = latest,
        ) -> set[int]:
            """Who has done this occasion: sent it; for a filling over time ("extra:<day>", over_time only),
            also sent the same questionnaire on that day or a later one. Any other occasion (an outcome's
            start, a stage check) stays blind until both sent that very occasion."""
            if not occasion.startswith(REPEATED_PREFIX):
                return sent[(instrument, occasion)]
            caught_up = {p for p in members if occasion <= latest.get((instrument, p), "")}
            return sent[(instrument, occasion)] | caught_up

        shown = {
            (instrument, occasion): blind.visible_authors(reader, members, done(instrument, occasion))
            for instrument, occasion in {(r.instrument, r.occasion) for r in rows}
        }
        visible[couple] = [r for r in rows if r.status == SubmissionStatus.SUBMITTED or r.person_id == reader]
        readable.extend(
            r.id
            for r in visible[couple]
            if r.id is not None and r.person_id in shown[(r.instrument, r.occasion)]
        )
    answers: dict[int, dict[str, int | None]] = {sid: {} for sid in readable}
    if answers:
        # Plain columns, not ORM objects: a caseload reads tens of thousands of answers.
        for submission_id, item, value in session.exec(
            select(
                QuestionnaireAnswer.submission_id, QuestionnaireAnswer.item, QuestionnaireAnswer.value
            ).where(col(QuestionnaireAnswer.submission_id).in_(list(answers)))
        ):
            answers[submission_id][item] = value
    for couple, rows in visible.items():
        result[couple] = [
            SubmissionView(
                row.person_id,
                row.instrument,
                row.occasion,
                row.submitted_at if row.status == SubmissionStatus.SUBMITTED else None,
                answers.get(row.id) if row.id is not None else None,
            )
            for row in rows
        ]
    return result


def readable_answers(
    *, session: Session, viewer: Viewer, couple_id: int | None, instrument: str, occasion: str
) -> dict[int, dict[str, int | None]]:
    """Item-level answers to one questionnaire occasion, by person, that this viewer may read.

    Only answers given in this couple (couple_id=None: the viewer's own answers given before joining
    any). Blind until both submit: the viewer's own answers (drafts too) always; the partner's, and any
    answers at all for a therapist, only once both current partners have submitted this questionnaire.
    """
    return {
        view.person_id: view.answers
        for view in _submissions(
            session, viewer, couple_id, own_drafts=True, instrument=instrument, occasion=occasion
        )
        if view.answers is not None
    }


def couple_submissions(
    *, session: Session, viewer: Viewer, couple_id: int, over_time: bool = False
) -> list[SubmissionView]:
    """Every questionnaire the couple's current partners sent in this couple, answers only where both
    sent (the blind rule; with over_time, also the fillings over time a trend may chart: see
    _submissions). No drafts and nothing viewer-specific, so every allowed viewer gets the same."""
    return _submissions(session, viewer, couple_id, own_drafts=False, over_time=over_time)


def readable_session_notes(*, session: Session, viewer: Viewer, couple_id: int) -> list[TherapistNote]:
    """The viewer's own session notes on this couple, newest first. Therapists only, and only while the
    couple lets them in: a partner never reads a note, and a second therapist the couple also let in never
    reads the first's."""
    if viewer.role != Role.THERAPIST:
        raise AccessDenied("Session notes are the therapist's own.")
    require_couple(session=session, viewer=viewer, couple_id=couple_id)
    return list(
        session.exec(
            select(TherapistNote)
            .where(TherapistNote.therapist_id == viewer.person_id, TherapistNote.couple_id == couple_id)
            .order_by(col(TherapistNote.created_at).desc(), col(TherapistNote.id).desc())
        )
    )


@dataclass(frozen=True)
class SessionFeedbackView:
    """One partner's private ratings of one session held (0-10 each, higher is better)."""

    session_id: int
    held_on: date
    person_id: int
    heard: int
    goals: int
    approach: int
    overall: int
    submitted_at: datetime


def readable_session_feedback(
    *, session: Session, viewer: Viewer, couple_id: int
) -> list[SessionFeedbackView]:
    """The session ratings in this couple that the viewer may read, oldest session first.

    A partner reads only their own ratings, never their partner's, in their current couple. A therapist
    reads both current partners' ratings of the sessions they themselves held, while the couple lets them
    in; another therapist the couple also let in never reads them. Anyone else is refused (AccessDenied).
    """
    require_couple(session=session, viewer=viewer, couple_id=couple_id)
    query = (
        select(SessionFeedback, col(TherapySession.held_on))
        .join(TherapySession, col(TherapySession.id) == SessionFeedback.session_id)
        .where(TherapySession.couple_id == couple_id)
    )
    if viewer.role == Role.THERAPIST:
        query = query.where(
            TherapySession.therapist_id == viewer.person_id,
            col(SessionFeedback.person_id).in_(_couple_partner_ids(session, couple_id)),
        )
    else:
        query = query.where(SessionFeedback.person_id == viewer.person_id)
    rows = session.exec(
        query.order_by(col(TherapySession.held_on), col(TherapySession.id), col(SessionFeedback.id))
    ).all()
    return [
        SessionFeedbackView(
            row.session_id,
            held_on,
            row.person_id,
            row.heard,
            row.goals,
            row.approach,
            row.overall,
            row.submitted_at,
        )  # fmt: skip
        for row, held_on in rows
    ]


def caseload_submissions(
    *,
    session: Session,
    viewer: Viewer,
    couple_ids: Sequence[int],
    instrument: str | None = None,
    over_time: bool = False,
) -> dict[int, list[SubmissionView]]:
    """couple_submissions for many couples at once, in a fixed number of queries (the same blind rule:
    answers only where both current partners sent). Couples the viewer may not see are left out."""
    members = current_partners(session=session, viewer=viewer, couple_ids=couple_ids)
    people: dict[int | None, list[int]] = {
        couple_id: [p.person_id for p in partners] for couple_id, partners in members.items()
    }
    views = _blind_views(
        session, viewer, people, own_drafts=False, instrument=instrument, over_time=over_time
    )
    return {couple_id: views[couple_id] for couple_id in members}


@dataclass(frozen=True)
class CoupleGoalView:
    """A goal the couple is agreeing or agreed, as its readers see it (never a partner's private goals:
    a proposal is new text written to be shared)."""

    goal_id: int
    body: str
    written_by_id: int | None  # whoever wrote the text as it reads now (their writing confirms it)
    confirmed_by: frozenset[int]  # current partners who confirmed the text as it reads now
    agreed: bool  # both current partners confirmed it
    created_at: datetime


def _standing_goals(
    session: Session, viewer: Viewer, couple_id: int
) -> tuple[list[CoupleGoalView], list[int]]:
    """Every standing goal of the couple with its confirmations by current partners, and those partners,
    after the access check, in two queries (a partner may see the couple exactly when they are one of
    its current partners, so the membership query serves as their check)."""
    members = _couple_partner_ids(session, couple_id)
    if viewer.role != Role.PARTNER:
        require_couple(session=session, viewer=viewer, couple_id=couple_id)
    elif viewer.person_id not in members:
        raise AccessDenied("You do not have access to this couple.")
    goals: dict[int, CoupleGoal] = {}
    confirmed: dict[int, set[int]] = defaultdict(set)
    for goal, person_id in session.exec(
        select(CoupleGoal, GoalConfirmation.person_id)
        .outerjoin(
            GoalConfirmation,
            and_(
                col(GoalConfirmation.goal_id) == CoupleGoal.id,
                col(GoalConfirmation.person_id).in_(members),
            ),
        )
        .where(CoupleGoal.couple_id == couple_id, col(CoupleGoal.withdrawn_at).is_(None))
        .order_by(col(CoupleGoal.created_at), col(CoupleGoal.id))
    ):
        assert goal.id is not None
        goals.setdefault(goal.id, goal)
        if person_id is not None:
            confirmed[goal.id].add(person_id)
    views = [
        CoupleGoalView(
            goal_id,
            goal.body,
            goal.edited_by_id or goal.proposed_by_id,
            frozenset(confirmed[goal_id]),
            len(members) == 2 and confirmed[goal_id] >= set(members),
            goal.created_at,
        )
        for goal_id, goal in goals.items()
    ]
    return views, members


def readable_couple_goals(*, session: Session, viewer: Viewer, couple_id: int) -> list[CoupleGoalView]:
    """The couple's standing goals (not withdrawn) given in this couple, oldest first. Its partners read
    the agreed and the pending ones; a therapist the couple let in reads only the agreed ones. A goal
    is agreed once both current partners confirmed the text as it reads now."""
    return readable_goal_progress(session=session, viewer=viewer, couple_id=couple_id, ratings=False)[0]


@dataclass(frozen=True)
class GoalRatingView:
    """One current partner's 0-10 rating of progress on an agreed goal at a stage's end."""

    goal_id: int
    person_id: int
    stage: str
    rating: int


def readable_goal_ratings(*, session: Session, viewer: Viewer, couple_id: int) -> list[GoalRatingView]:
    """Both current partners' ratings of the couple's agreed goals, for everyone who may see the couple
    (the same for each: they feed the couple's charts)."""
    return readable_goal_progress(session=session, viewer=viewer, couple_id=couple_id)[1]


def readable_goal_progress(
    *, session: Session, viewer: Viewer, couple_id: int, ratings: bool = True
) -> tuple[list[CoupleGoalView], list[GoalRatingView]]:
    """readable_couple_goals and readable_goal_ratings together, in two or three queries."""
    views, members = _standing_goals(session, viewer, couple_id)
    if viewer.role != Role.PARTNER:
        views = [v for v in views if v.agreed]
    agreed = [v.goal_id for v in views if v.agreed]
    if not ratings or not agreed:
        return views, []
    rows = session.exec(
        select(GoalRating)
        .where(col(GoalRating.goal_id).in_(agreed), col(GoalRating.person_id).in_(members))
        .order_by(col(GoalRating.rated_at), col(GoalRating.id))
    ).all()
    return views, [GoalRatingView(r.goal_id, r.person_id, r.stage, r.rating) for r in rows]


@dataclass(frozen=True)
class AgreementPartView:
    """One partner's part in a problem-solving agreement, as a viewer may see it. What matters to them and
    their review are blind: the viewer reads their own at once, anyone else's only once both current
    partners have written theirs (each side then wrote without seeing the other's)."""

    person_id: int
    wrote_matters: bool
    matters: str | None  # None: not written yet, or blind to this viewer
    confirmed_at: datetime | None
    reviewed_at: datetime | None
    review_rating: int | None  # None: not reviewed yet, or blind to this viewer
    review_note: str | None


@dataclass(frozen=True)
class AgreementView:
    """A couple's problem-solving agreement (the plan itself is the couple's, read by both)."""

    id: int
    issue: str
    options: tuple[str, ...]
    chosen: str
    who_does_what: str
    by_when: date | None
    agreed_at: datetime | None
    parts: dict[int, AgreementPartView]  # by person, current partners only


def readable_agreements(*, session: Session, viewer: Viewer, couple_id: int) -> list[AgreementView]:
    """The couple's problem-solving agreements, oldest first, with each current partner's part under the
    blind rule (AgreementPartView). Only for a viewer who may see this couple now: a couple that ended
    takes its agreements with it, and a former partner's part never shows."""
    require_couple(session=session, viewer=viewer, couple_id=couple_id)
    members = _couple_partner_ids(session, couple_id)
    agreements = session.exec(
        select(Agreement)
        .where(Agreement.couple_id == couple_id)
        .order_by(col(Agreement.created_at), col(Agreement.id))
    ).all()
    ids = [a.id for a in agreements if a.id is not None]
    parts: dict[int, list[AgreementPart]] = defaultdict(list)
    if ids:
        for part in session.exec(
            select(AgreementPart).where(
                col(AgreementPart.agreement_id).in_(ids), col(AgreementPart.person_id).in_(members)
            )
        ):
            parts[part.agreement_id].append(part)
    views: list[AgreementView] = []
    for agreement in agreements:
        assert agreement.id is not None
        mine = parts[agreement.id]
        matters_shown = blind.visible_authors(
            viewer.person_id, members, {p.person_id for p in mine if p.matters}
        )
        review_shown = blind.visible_authors(
            viewer.person_id, members, {p.person_id for p in mine if p.reviewed_at is not None}
        )
        views.append(
            AgreementView(
                agreement.id,
                agreement.issue,
                tuple(agreement.options or ()),
                agreement.chosen,
                agreement.who_does_what,
                agreement.by_when,
                agreement.agreed_at,
                {
                    p.person_id: AgreementPartView(
                        p.person_id,
                        bool(p.matters),
                        (p.matters or None) if p.person_id in matters_shown else None,
                        p.confirmed_at,
                        p.reviewed_at,
                        p.review_rating if p.person_id in review_shown else None,
                        p.review_note if p.person_id in review_shown else None,
                    )
                    for p in mine
                },
            )
        )
    return views


# ---- optional modules by mutual consent (the intimacy module) ------------------------------------------

WISH_SHOWN = ("yes", "maybe")  # marks that may reach the partner, and only on an item both gave one of them


@dataclass(frozen=True)
class ModuleView:
    """An optional module as one partner may know it. The other partner's choice never appears here: only
    whether the module is open, which needs both current partners' "yes". So "no", "no answer" and "said
    yes, then changed to no" all read exactly alike."""

    own_choice: bool | None  # None: the viewer has not answered
    is_open: bool
    own_wishes_finished: bool


def _module_choices(session: Session, couple_id: int, module: str) -> dict[int, ModuleChoice]:
    """The choices of the couple's current partners, given in this couple (for access.py only)."""
    members = _couple_partner_ids(session, couple_id)
    choices = session.exec(
        select(ModuleChoice).where(
            ModuleChoice.couple_id == couple_id,
            ModuleChoice.module == module,
            col(ModuleChoice.person_id).in_(members),
        )
    ).all()
    return {c.person_id: c for c in choices} if len(members) == 2 else {}


def _module_open(choices: dict[int, ModuleChoice]) -> bool:
    return len(choices) == 2 and all(c.wants for c in choices.values())


def readable_module(*, session: Session, viewer: Viewer, couple_id: int, module: str) -> ModuleView:
    """The viewer's own choice about an optional module and whether it is open; partners of this couple
    only (a therapist never learns either partner's choice)."""
    if viewer.role != Role.PARTNER:
        raise AccessDenied("A partner's choice about an optional module is theirs alone.")
    require_couple(session=session, viewer=viewer, couple_id=couple_id)
    choices = _module_choices(session, couple_id, module)
    own = choices.get(viewer.person_id)
    if own is None:  # a couple of one still shows the viewer their own answer
        own = session.exec(
            select(ModuleChoice).where(
                ModuleChoice.couple_id == couple_id,
                ModuleChoice.module == module,
                ModuleChoice.person_id == viewer.person_id,
            )
        ).first()
    return ModuleView(
        own.wants if own is not None else None,
        _module_open(choices),
        own is not None and own.wishes_finished_at is not None,
    )


@dataclass(frozen=True)
class WishesView:
    """A wishes list as one partner may see it: their own marks, and the common items (both marked yes or
    maybe) once the module is open and both finished their lists. Common items come in the list's own
    order and without marks, so nobody learns which of them the other marked "maybe" rather than "yes";
    an item the other marked "no" (or left unmarked) never appears."""

    own_marks: dict[str, str]
    common: tuple[str, ...] | None  # None: not shown (module not open, or not both finished)


def readable_wishes(
    *, session: Session, viewer: Viewer, couple_id: int, module: str, items: Sequence[str]
) -> WishesView:
    """The viewer's own marks on this module's wishes list and, when both may see it, the common items
    among `items` (the content's current list, in its order)."""
    if viewer.role != Role.PARTNER:
        raise AccessDenied("A partner's wishes are theirs alone.")
    require_couple(session=session, viewer=viewer, couple_id=couple_id)
    own_marks = {
        m.item: m.mark
        for m in session.exec(
            select(WishMark).where(WishMark.couple_id == couple_id, WishMark.person_id == viewer.person_id)
        )
        if m.item in items
    }
    choices = _module_choices(session, couple_id, module)
    # The blind rule on the lists: the other's marks (and only as common items) once both finished theirs.
    finished = {pid for pid, choice in choices.items() if choice.wishes_finished_at is not None}
    shown = blind.visible_authors(viewer.person_id, list(choices), finished)
    if not _module_open(choices) or shown != frozenset(choices):
        return WishesView(own_marks, None)
    chosen: dict[str, int] = defaultdict(int)
    for mark in session.exec(
        select(WishMark).where(WishMark.couple_id == couple_id, col(WishMark.person_id).in_(sorted(shown)))
    ):
        if mark.mark in WISH_SHOWN:
            chosen[mark.item] += 1
    return WishesView(own_marks, tuple(item for item in items if chosen[item] == 2))


def partner_last_seen(
    *, session: Session, viewer: Viewer, couple_id: int, stages: Sequence[str]
) -> datetime | None:
    """The latest sign of the viewer's partner in the program that the viewer can already see (the solo
    track's clock), or None with no partner. Counted: the partner joining the couple, each questionnaire
    they sent in it (a partner's sent filling-in is visible as sent), each step they completed in these
    program stages (their step counts and news show these), and each weekly check-in, as the end of its
    week (the partner sees its week in the joint charts, never its day). Never counted, so never revealed
    by the solo track opening: drafts, private texts, log days, safety checks, session feedback, a
    therapist's homework, other modules' records, logins."""
    if viewer.role != Role.PARTNER or current_couple_id(session=session, viewer=viewer) != couple_id:
        raise AccessDenied("Only a partner learns how recently their own partner was seen.")
    partners = [m for m in membership.current_partners(session, couple_id) if m.person_id != viewer.person_id]
    others = [m.person_id for m in partners]
    if not others:
        return None
    times: list[datetime | None] = [
        max(m.joined_at for m in partners),
        session.exec(
            select(func.max(QuestionnaireSubmission.submitted_at)).where(
                QuestionnaireSubmission.couple_id == couple_id,
                col(QuestionnaireSubmission.person_id).in_(others),
                QuestionnaireSubmission.status == SubmissionStatus.SUBMITTED,
            )
        ).one(),
        session.exec(
            select(func.max(ExerciseRecord.completed_at)).where(
                ExerciseRecord.couple_id == couple_id,
                col(ExerciseRecord.person_id).in_(others),
                col(ExerciseRecord.stage).in_(list(stages)),
            )
        ).one(),
    ]
    week: date | None = session.exec(
        select(func.max(CheckIn.week_start)).where(
            CheckIn.couple_id == couple_id, col(CheckIn.person_id).in_(others)
        )
    ).one()
    if week is not None:
        times.append(datetime.combine(week + timedelta(days=7), time.min, tzinfo=UTC))
    # Aggregates bypass the column type: SQLite hands back naive UTC (or even text), so normalise here.
    seen = [_aware(t) for t in times if t is not None]
    return max(seen) if seen else None


def _aware(value: datetime | str) -> datetime:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
