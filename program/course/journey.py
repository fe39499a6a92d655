"""Where each partner is in the program, what opens next, and marking steps done.

Steps of the assessment: the baseline questionnaire and naming goals and strengths (the private safety
screen is asked too, but it gates nothing: whether someone did it is nobody else's business).
Steps of a skill stage, in order: the start check, every exercise (any order), the homework, the end
check. A partner finishes a stage with its end check. A stage opens for a couple when both partners
finished the one before it, or when their therapist opens it.

The solo track: while a partner has not joined, or has shown no sign in the program for AWAY_DAYS days
(access.partner_last_seen: only what the other can already see counts), the other goes on alone. A stage
then opens for them alone once they finished the one before it; they do its start check, solo exercises,
homework and end check, and its guided conversations wait (the end check may be taken without them; they
stay on the list for later). A stage a partner has started stays open for them when the other comes back;
what opens next is again the couple's rule, and the returning partner continues from their own place. Nothing
of either partner's private work changes hands: the solo track only opens steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from program.course import pauses, reflections
from program.course.curriculum import STAGE_KEYS, ConversationExercise, PracticeLogExercise, Program, Stage
from program.course.pronouns import pronoun_forms
from program.course.questionnaires import BASELINE, stage_occasion
from program.infra import audit
from program.infra.db import memo
from program.infra.models import (
    ExerciseRecord,
    QuestionnaireSubmission,
    Role,
    StageOpening,
    SubmissionStatus,
    utcnow,
)
from program.privacy import access, couples, membership
from program.privacy.viewer import Viewer

ASSESSMENT = "assessment"
GOALS = "goals-strengths"
HOMEWORK = "homework"
# Where goals and strengths are kept (as the writer's own texts, private unless shared).
GOALS_CONTEXT = f"{ASSESSMENT}:goals"
STRENGTHS_CONTEXT = f"{ASSESSMENT}:strengths"
# The short relationship history, one text per question (key: short label, question), kept like goals.
HISTORY_PREFIX = f"{ASSESSMENT}:history:"
HISTORY_QUESTIONS: dict[str, tuple[str, str]] = {
    "together": ("How long together", "How long have you been together?"),
    "living": ("Living together", "Do you live together? Since when, or how does it work for you?"),
    "children": ("Children", "Do you have children, together or from before? Who lives with you?"),
    "why": ("What brought us here", "What brought you here, now?"),
}
# Keys of an exercise record's data: the turns of a conversation marked (1, 2, ...) and a log's early end.
TURNS = "turns"
ENDED_EARLY = "ended_early"


class JourneyError(ValueError):
    """A step that cannot be done yet; the message says what comes first."""


# After this many days without a sign of the partner that the other can see, the other goes on alone.
AWAY_DAYS = 14


class Solo(StrEnum):
    """Why a partner is on the solo track."""

    NOT_JOINED = "not joined"
    AWAY = "away"


ORDER: tuple[str, ...] = (ASSESSMENT, *STAGE_KEYS)


def _previous(stage: str) -> str:
    return ORDER[ORDER.index(stage) - 1]


def stage_steps(program: Program, stage: str) -> list[str]:
    """The steps of a stage, in order."""
    if stage == ASSESSMENT:
        return ["questionnaire", GOALS]
    s = program.stage_by_key[stage]
    return ["check-start", *(e.key for e in s.exercises), HOMEWORK, "check-end"]


@dataclass
class PartnerProgress:
    """One partner's completed steps, stage by stage, and when each stage was finished."""

    person_id: int
    name: str
    done: dict[str, dict[str, datetime]] = field(default_factory=dict)
    # As the person gave them on their account page (free text; None: "they").
    pronouns: str | None = None

    def did(self, stage: str, step: str) -> bool:
        """Whether this partner completed that step."""
        return step in self.done.get(stage, {})

    def finished_at(self, stage: str) -> datetime | None:
        """When this partner finished the stage (None if not yet)."""
        steps = self.done.get(stage, {})
        if stage == ASSESSMENT:
            if "questionnaire" in steps and GOALS in steps:
                return max(steps["questionnaire"], steps[GOALS])
            return None
        return steps.get("check-end")


@dataclass
class Journey:
    """The couple's progress as one partner sees it (built with a fixed number of queries)."""

    program: Program
    couple_id: int | None
    me: PartnerProgress
    partner: PartnerProgress | None
    openings: dict[str, datetime]
    # Whether joint work is paused, as this partner may know it (the partner's reason never reaches here).
    pause: access.PauseView = access.PauseView(None, False)
    # Whether this partner is on the solo track, and why (None: not; a therapist's view never is).
    solo: Solo | None = None

    def is_joint(self, stage: str, step: str) -> bool:
        """Whether a step is done together (a guided conversation)."""
        if stage == ASSESSMENT or step not in {e.key for e in self.program.stage_by_key[stage].exercises}:
            return False
        return isinstance(self.program.stage_by_key[stage].exercise(step), ConversationExercise)

    def joint_closed_reason(self) -> str | None:
        """Why guided conversations are closed right now (None: they are open). The same sentence for
        the partner, whatever the pauser's reason."""
        if self.pause.own_reason is not None:
            return pauses.OWN_PAUSE
        if self.pause.others_paused:
            return pauses.PARTNER_PAUSED
        return None

    def couple_opened_at(self, stage: str) -> datetime | None:
        """When a stage opened for both partners: both finished the stage before, or their therapist
        opened it (the assessment is always open, even solo)."""
        if stage == ASSESSMENT:
            return datetime.min.replace(tzinfo=UTC)
        if self.couple_id is None or self.partner is None:
            return None
        previous = _previous(stage)
        mine, theirs = self.me.finished_at(previous), self.partner.finished_at(previous)
        both = max(mine, theirs) if mine and theirs else None
        candidates = [t for t in (both, self.openings.get(stage)) if t is not None]
        return min(candidates) if candidates else None

    def opened_at(self, stage: str) -> datetime | None:
        """When a stage opened for this partner: for the couple, or for them alone on the solo track
        (once they finished the stage before it), or when they started it after finishing the one before
        (a stage begun alone stays open when the partner comes back). The solo opening counts from the start
        check once sent, since the solo track itself leaves no date."""
        candidates = [self.couple_opened_at(stage)]
        if stage != ASSESSMENT and (before := self.me.finished_at(_previous(stage))) is not None:
            started = self.me.done.get(stage, {}).get("check-start")
            if started is not None and started >= before:
                candidates.append(started)
            elif self.solo is not None:
                candidates.append(before)
        found = [t for t in candidates if t is not None]
        return min(found) if found else None

    def is_open(self, stage: str) -> bool:
        """Whether this partner may work on this stage."""
        return self.opened_at(stage) is not None

    def joint_waiting_reason(self, stage: str) -> str | None:
        """Why a stage's guided conversations wait for the partner (None: they can be had now, pauses
        aside). They wait while the partner has not joined, or while the stage is open for this partner
        alone; and, on the solo track, they may be left for later."""
        if stage == ASSESSMENT:
            return None
        if self.partner is None:
            return (
                "This conversation is done together, so it waits until your partner has joined you. "
                "Everything else in this stage you can do on your own."
            )
        if self.couple_opened_at(stage) is None:
            they = pronoun_forms(self.partner.pronouns)
            return (
                f"This conversation is done together, so it waits until {self.partner.name} reaches this "
                f"stage too: it opens for {they.object} once {they.subject} {they.verb('has', 'have')} "
                "finished the stage before it. Everything else in this stage you can do on your own."
            )
        if self.solo is not None:
            they = pronoun_forms(self.partner.pronouns)
            return (
                f"This conversation is done together. Nothing new from {self.partner.name} in the program "
                f"for {AWAY_DAYS} days, so you may take the end check without it and have it with "
                f"{they.object} later; it stays here."
            )
        return None

    def may_skip(self, stage: str, step: str) -> bool:
        """Whether this partner may leave this step for later and still finish the stage (a guided
        conversation that waits for the partner, or any guided conversation on the solo track)."""
        return self.is_joint(stage, step) and (
            self.solo is not None or self.joint_waiting_reason(stage) is not None
        )

    def homework_due(self, stage: str) -> date | None:
        """The stage's homework due date: some days after the stage opened."""
        opened = self.opened_at(stage)
        if stage == ASSESSMENT or opened is None:
            return None
        return opened.date() + timedelta(days=self.program.stage_by_key[stage].homework.due_days)

    def current_stage(self) -> str:
        """The first open stage this partner hasn't finished (or the last one, when all are done)."""
        for key in ORDER:
            if self.is_open(key) and self.me.finished_at(key) is None:
                return key
        return self.program.stages[-1].key

    def next_step(self, stage: str) -> str | None:
        """This partner's next undone step of an open stage (None when finished or closed)."""
        if not self.is_open(stage):
            return None
        # While joint work is paused, or the partner is away, nothing points anyone toward a guided
        # conversation.
        paused = self.joint_closed_reason() is not None
        return next(
            (
                step
                for step in stage_steps(self.program, stage)
                if not self.me.did(stage, step)
                and not ((paused or self.may_skip(stage, step)) and self.is_joint(stage, step))
            ),
            None,
        )

    def check_allowed(self, stage: str, step: str) -> None:
        """Raise JourneyError unless this partner may do that step now."""
        if not self.is_open(stage):
            raise JourneyError(self.why_closed(stage))
        if stage == ASSESSMENT:
            return
        closed = self.joint_closed_reason()
        if closed is not None and self.is_joint(stage, step):
            raise JourneyError(closed)
        waiting = self.joint_waiting_reason(stage)
        if waiting is not None and self.is_joint(stage, step) and self.couple_opened_at(stage) is None:
            raise JourneyError(waiting)
        skill = self.program.stage_by_key[stage]
        if step != "check-start" and not self.me.did(stage, "check-start"):
            raise JourneyError(
                "Start with the short check at the top of this stage; it shows where you begin."
            )
        if step == "check-end":
            missing = [
                e.title
                for e in skill.exercises
                if not self.me.did(stage, e.key) and not self.may_skip(stage, e.key)
            ]
            if not self.me.did(stage, HOMEWORK):
                missing.append(skill.homework.title)
            if missing:
                raise JourneyError("Before the end check, finish: " + "; ".join(missing) + ".")

    def why_closed(self, stage: str) -> str:
        """A plain explanation of what opens a closed stage."""
        previous = _previous(stage)
        title = "the assessment" if previous == ASSESSMENT else self.program.stage_by_key[previous].title
        if self.couple_id is None or self.partner is None:
            return (
                "This stage opens once your partner has joined you (see your account page). Until then you "
                f"can go on alone: it opens for you once you have finished {title}, and its guided "
                "conversations wait for your partner."
            )
        waiting = [p.name for p in (self.me, self.partner) if p.finished_at(previous) is None]
        who = " and ".join("you" if name == self.me.name else name for name in waiting)
        return f"This stage opens when you have both finished {title}. Still to finish it: {who}."


def load_journey(
    *, session: Session, viewer: Viewer, program: Program, now: datetime | None = None
) -> Journey:
    """Both partners' progress in a fixed number of queries, whatever their history; `now` decides whether
    the partner is away (the solo track). Read once per read session (a rerun's menu and page share it)."""
    if viewer.role != Role.PARTNER:
        raise access.AccessDenied("Only partners have a journey through the program.")
    if now is None:
        return memo(
            session,
            ("journey", viewer.person_id, id(program)),
            lambda: _load_journey(session=session, viewer=viewer, program=program, now=utcnow()),
        )
    return _load_journey(session=session, viewer=viewer, program=program, now=now)


def _load_journey(*, session: Session, viewer: Viewer, program: Program, now: datetime) -> Journey:
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    progress = {viewer.person_id: PartnerProgress(viewer.person_id, viewer.display_name)}
    if couple_id is not None:
        for member in membership.current_partners(session, couple_id):
            progress.setdefault(member.person_id, PartnerProgress(member.person_id, member.display_name))
            progress[member.person_id].pronouns = member.pronouns
    # Only what was done in this couple (or, solo, before joining any) counts: a new couple starts its
    # own program for both partners.
    for person_id, instrument, occasion, submitted_at in session.exec(
        select(
            QuestionnaireSubmission.person_id,
            QuestionnaireSubmission.instrument,
            QuestionnaireSubmission.occasion,
            QuestionnaireSubmission.submitted_at,
        ).where(
            access.in_couple(QuestionnaireSubmission.couple_id, couple_id),
            col(QuestionnaireSubmission.person_id).in_(progress),
            QuestionnaireSubmission.status == SubmissionStatus.SUBMITTED,
        )
    ):
        assert submitted_at is not None
        stage, step = _step(instrument, occasion, program)
        if stage:
            progress[person_id].done.setdefault(stage, {})[step] = submitted_at
    # Only the columns a step's completion needs: loading whole records decrypted every exercise's
    # answers on every rerun of every partner page (about 27 ms for a year of history).
    for person_id, stage, exercise, completed_at in session.exec(
        select(
            ExerciseRecord.person_id,
            ExerciseRecord.stage,
            ExerciseRecord.exercise,
            ExerciseRecord.completed_at,
        ).where(
            access.in_couple(ExerciseRecord.couple_id, couple_id),
            col(ExerciseRecord.person_id).in_(progress),
            col(ExerciseRecord.completed_at).is_not(None),
        )
    ):
        assert completed_at is not None
        progress[person_id].done.setdefault(stage, {})[exercise] = completed_at
    openings = (
        {
            o.stage: o.opened_at
            for o in session.exec(select(StageOpening).where(StageOpening.couple_id == couple_id))
        }
        if couple_id is not None
        else {}
    )
    partner = next((p for pid, p in progress.items() if pid != viewer.person_id), None)
    pause = (
        access.readable_pause(session=session, viewer=viewer, couple_id=couple_id)
        if couple_id is not None
        else access.PauseView(None, False)
    )
    solo: Solo | None = None
    if partner is None:
        solo = Solo.NOT_JOINED
    else:
        assert couple_id is not None
        seen = access.partner_last_seen(session=session, viewer=viewer, couple_id=couple_id, stages=ORDER)
        if seen is None or now - seen >= timedelta(days=AWAY_DAYS):
            solo = Solo.AWAY
    return Journey(program, couple_id, progress[viewer.person_id], partner, openings, pause, solo)


def questionnaire_step(
    submission: QuestionnaireSubmission | access.SubmissionView, program: Program
) -> tuple[str | None, str]:
    """The stage and step a sent questionnaire completes ("assessment", "questionnaire"), or (None, "")."""
    return _step(submission.instrument, submission.occasion, program)


def _step(instrument: str, occasion: str, program: Program) -> tuple[str | None, str]:
    checks = {stage.check: stage.key for stage in program.stages}
    if occasion == BASELINE and instrument == program.assessment.overview.questionnaire:
        return ASSESSMENT, "questionnaire"
    stage = checks.get(instrument)
    for when in ("start", "end"):
        if stage and occasion == stage_occasion(stage, when):
            return stage, f"check-{when}"
    return None, ""


def complete_step(
    *,
    session: Session,
    viewer: Viewer,
    program: Program,
    stage: str,
    step: str,
    now: datetime,
    note: str | None = None,
    end_log_early: bool = False,
    today: date | None = None,
) -> None:
    """Mark an exercise, the homework, or goals-and-strengths done for this partner, once it is done:
    a conversation's every turn marked, a practice log's every day noted (or its early end confirmed with
    end_log_early), homework on or after its due day (or earlier with a note saying what was done).
    `today` is the person's own calendar day (their time zone); without it, the UTC day of `now`.

    Every rule is checked before anything is written, so a refusal leaves nothing half-saved."""
    # One at a time per person (a double click, two tabs): the second sees the first's step done.
    couples.lock_person(session, viewer.person_id)
    journey = load_journey(session=session, viewer=viewer, program=program, now=now)
    if step not in stage_steps(program, stage) or step.startswith("check-") or step == "questionnaire":
        raise JourneyError("That is not a step you mark done by hand.")
    journey.check_allowed(stage, step)
    if journey.me.did(stage, step):
        return
    ended_early: dict[str, int] | None = None
    if stage != ASSESSMENT and step == HOMEWORK:
        _check_homework(journey, stage, today or now.date(), note)
    elif stage != ASSESSMENT:
        exercise = program.stage_by_key[stage].exercise(step)
        if isinstance(exercise, ConversationExercise):
            _check_turns(session, journey, stage, exercise)
        elif isinstance(exercise, PracticeLogExercise):
            ended_early = _check_log(session, viewer, stage, exercise, end_log_early)
    if note is not None and note.strip():
        if step != HOMEWORK:
            raise JourneyError("Only homework takes a note.")
        try:
            reflections.save_text(
                session=session,
                viewer=viewer,
                context=homework_note_context(stage),
                body=note.strip(),
                visibility=None,
                now=now,
            )
        except reflections.TextError as error:
            raise JourneyError(str(error)) from error
    record = exercise_record(session=session, viewer=viewer, stage=stage, exercise=step, now=now)
    if ended_early is not None:
        record.data = {**record.data, ENDED_EARLY: ended_early}
    record.completed_at = record.completed_at or now
    record.updated_at = now
    session.add(record)


def homework_note_context(stage: str) -> str:
    """Where the note saying what was done for a stage's homework is kept (as the writer's own text)."""
    return f"{stage}:{HOMEWORK}:note"


def _check_homework(journey: Journey, stage: str, today: date, note: str | None) -> None:
    due = journey.homework_due(stage)
    if due is not None and today < due and not (note or "").strip():
        raise JourneyError(
            f"This homework is due on {due:%A %d %B}. To mark it done before then, write a note saying "
            "what you did."
        )
    if note is not None and len(note.strip()) > reflections.MAX_CHARS:
        raise JourneyError(
            f"Please keep this under {reflections.MAX_CHARS:,} characters (it has {len(note.strip()):,})."
        )


def _check_turns(session: Session, journey: Journey, stage: str, exercise: ConversationExercise) -> None:
    marked = marked_turns(session=session, journey=journey, stage=stage, exercise=exercise.key)
    left = [number for number in range(1, len(exercise.turns) + 1) if number not in marked]
    if not left:
        return
    total = len(exercise.turns)
    if len(left) == 1:
        which = f"turn {left[0]} of {total} is"
    else:
        which = f"turns {', '.join(map(str, left[:-1]))} and {left[-1]} of {total} are"
    raise JourneyError(f"Go through every turn of the conversation first: {which} not marked yet.")


def _check_log(
    session: Session, viewer: Viewer, stage: str, log: PracticeLogExercise, end_early: bool
) -> dict[str, int] | None:
    """None when every day is noted; the early end to keep when the partner confirmed it; else refuse."""
    entries = log_entries(session=session, viewer=viewer, stage=stage, exercise=log.key)
    noted = len(noted_days(log, entries))
    if noted >= log.days:
        return None
    if not end_early:
        raise JourneyError(
            f"This log has {noted} of {log.days} days noted. Note the other days, or confirm that you are "
            "ending it early."
        )
    if noted == 0:
        raise JourneyError("Note at least one day before ending this log early.")
    return {"days_logged": noted, "days": log.days}


def noted_days(log: PracticeLogExercise, entries: LogEntries) -> list[int]:
    """The days of a log with at least one answer (a day saved with every answer blank is not noted)."""
    return sorted(
        int(day)
        for day, values in entries.items()
        if day.isdigit() and 1 <= int(day) <= log.days and any(value is not None for value in values.values())
    )


def log_ended_early(*, session: Session, viewer: Viewer, stage: str, exercise: str) -> tuple[int, int] | None:
    """(days noted, days) when the viewer ended this practice log early in their current couple; else None."""
    return ended_early_of(_own_record_data(session, viewer, stage, exercise))


def own_records(viewer: Viewer, couple_id: int | None, stage: str) -> ColumnElement[bool]:
    """The condition for the viewer's own exercise records of one stage (or of the ongoing practices) in
    this couple, their current one: a record made with a former partner stays that couple's."""
    return and_(
        col(ExerciseRecord.person_id) == viewer.person_id,
        access.in_couple(ExerciseRecord.couple_id, couple_id),
        col(ExerciseRecord.stage) == stage,
    )


def _own_record_data(session: Session, viewer: Viewer, stage: str, exercise: str) -> dict[str, Any]:
    """The data of the viewer's own record of an exercise in their current couple ({} when none yet)."""
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    data = session.exec(
        select(ExerciseRecord.data).where(
            own_records(viewer, couple_id, stage), ExerciseRecord.exercise == exercise
        )
    ).first()
    return dict(data or {})


def ended_early_of(data: Mapping[str, object]) -> tuple[int, int] | None:
    """The (days noted, days) an exercise record's data keeps for a log ended early, if any."""
    ended = data.get(ENDED_EARLY)
    if (
        isinstance(ended, dict)
        and isinstance(ended.get("days_logged"), int)
        and isinstance(ended.get("days"), int)
    ):
        return int(ended["days_logged"]), int(ended["days"])
    return None


def marked_turns(*, session: Session, journey: Journey, stage: str, exercise: str) -> set[int]:
    """The turns of a guided conversation marked in this couple, on either partner's screen (the couple has
    it together, and one screen is enough). Turns marked in an earlier couple do not count."""
    people = [journey.me.person_id] + ([journey.partner.person_id] if journey.partner else [])
    turns: set[int] = set()
    for data in session.exec(
        select(ExerciseRecord.data).where(
            col(ExerciseRecord.person_id).in_(people),
            access.in_couple(ExerciseRecord.couple_id, journey.couple_id),
            ExerciseRecord.stage == stage,
            ExerciseRecord.exercise == exercise,
        )
    ):
        turns.update(t for t in (data or {}).get(TURNS, []) if isinstance(t, int))
    return turns


def mark_turn(
    *, session: Session, viewer: Viewer, program: Program, stage: str, exercise: str, turn: int, now: datetime
) -> None:
    """Mark one turn (numbered from 1) of a guided conversation as had, on the viewer's record."""
    skill = program.stage_by_key.get(stage)
    content = next((e for e in skill.exercises if e.key == exercise), None) if skill else None
    if not isinstance(content, ConversationExercise) or not 1 <= turn <= len(content.turns):
        raise JourneyError("That is not a turn of this conversation.")
    load_journey(session=session, viewer=viewer, program=program, now=now).check_allowed(stage, exercise)
    record = exercise_record(session=session, viewer=viewer, stage=stage, exercise=exercise, now=now)
    turns = sorted({*record.data.get(TURNS, []), turn})
    # Assign a new dict: the JSON column only notices a change when the value is replaced.
    record.data = {**record.data, TURNS: turns}
    record.updated_at = now
    session.add(record)


def exercise_record(
    *, session: Session, viewer: Viewer, stage: str, exercise: str, now: datetime
) -> ExerciseRecord:
    """The viewer's record of an exercise in their current couple, created when first touched (it keeps
    drafts: log entries, turns marked). Only for writing: it holds the person's row until the unit of work
    ends, so two tabs updating the same record (turns, days) one after the other lose nothing, and never
    both create it."""
    couples.lock_person(session, viewer.person_id)
    couple_id = access.current_couple_id(session=session, viewer=viewer)
    record = session.exec(
        select(ExerciseRecord).where(
            own_records(viewer, couple_id, stage), ExerciseRecord.exercise == exercise
        )
    ).first()
    if record is None:
        record = ExerciseRecord(
            person_id=viewer.person_id,
            couple_id=couple_id,
            stage=stage,
            exercise=exercise,
            started_at=now,
            updated_at=now,
        )
        session.add(record)
    return record


LogEntries = dict[str, dict[str, int | bool | None]]


def log_entries(*, session: Session, viewer: Viewer, stage: str, exercise: str) -> LogEntries:
    """The viewer's practice-log entries so far in their current couple, by day number ("1", "2", ...)."""
    return dict(_own_record_data(session, viewer, stage, exercise).get("entries", {}))


def save_log_entry(
    *,
    session: Session,
    viewer: Viewer,
    stage: Stage,
    exercise: str,
    day: int,
    values: Mapping[str, int | bool | None],
    now: datetime,
) -> None:
    """Keep one day's ratings and yes/no answers of a practice log (its free text is saved as reflections)."""
    log = stage.exercise(exercise)
    if log.kind != "practice_log" or not 1 <= day <= log.days:
        raise JourneyError("That day is not part of this practice log.")
    allowed = {f.key: f.type for f in log.fields if f.type != "text"}
    for key, value in values.items():
        kind = allowed.get(key)
        if kind == "rating" and not (value is None or (isinstance(value, int) and 0 <= value <= 10)):
            raise JourneyError("Ratings go from 0 to 10.")
        if kind == "yesno" and value not in (None, True, False):
            raise JourneyError("Please answer yes or no.")
        if kind is None:
            raise JourneyError("That is not part of this practice log.")
    record = exercise_record(session=session, viewer=viewer, stage=stage.key, exercise=exercise, now=now)
    # Assign a new dict: the JSON column only notices a change when the value is replaced.
    entries = dict(record.data.get("entries", {}))
    entries[str(day)] = {**entries.get(str(day), {}), **values}
    record.data = {**record.data, "entries": entries}
    record.updated_at = now
    session.add(record)


def openings(*, session: Session, viewer: Viewer, couple_id: int) -> set[str]:
    """The stages a therapist has opened early for a couple the viewer may see."""
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    return set(session.exec(select(StageOpening.stage).where(StageOpening.couple_id == couple_id)))


def open_stage(*, session: Session, viewer: Viewer, couple_id: int, stage: str, now: datetime) -> None:
    """A therapist opens a stage for a couple ahead of the usual order."""
    if viewer.role != Role.THERAPIST:
        raise access.AccessDenied("Only the couple's therapist can open a stage early.")
    access.require_couple(session=session, viewer=viewer, couple_id=couple_id)
    exists = session.exec(
        select(StageOpening.id).where(StageOpening.couple_id == couple_id, StageOpening.stage == stage)
    ).first()
    if exists is None:
        session.add(
            StageOpening(couple_id=couple_id, stage=stage, opened_at=now, opened_by_id=viewer.person_id)
        )
        # A therapist changing what a couple may do next is a consent-relevant change: keep a record.
        audit.record(
            session, action="stage.opened", actor_id=viewer.person_id, couple_id=couple_id, detail=stage
        )


def therapist_journeys(
    *, session: Session, viewer: Viewer, couple_ids: Sequence[int], program: Program
) -> dict[int, Journey]:
    """Each couple's journey as its therapist sees it, for the couples this therapist may see right now
    (others are left out), in a fixed number of queries whatever their number. `me` is the partner who
    joined first and `partner` the other; `for_partner` turns it toward the other partner. The pause is
    left out: only partners learn it."""
    if viewer.role != Role.THERAPIST:
        raise access.AccessDenied("Only a therapist sees couples' journeys.")
    members = access.current_partners(session=session, viewer=viewer, couple_ids=couple_ids)
    progress: dict[int, dict[int, PartnerProgress]] = {
        couple_id: {p.person_id: PartnerProgress(p.person_id, p.name) for p in partners}
        for couple_id, partners in members.items()
        if len(partners) == 2
    }
    if not progress:
        return {}
    ids = list(progress)
    people = [person_id for partners in progress.values() for person_id in partners]
    # Only what was done in each couple counts, by its current partners (a former couple's steps stay out).
    # Plain columns: the steps' times are all a journey needs (no answers, no exercise data to decrypt).
    for couple_id, person_id, instrument, occasion, submitted_at in session.execute(
        sql_select(
            col(QuestionnaireSubmission.couple_id),
            col(QuestionnaireSubmission.person_id),
            col(QuestionnaireSubmission.instrument),
            col(QuestionnaireSubmission.occasion),
            col(QuestionnaireSubmission.submitted_at),
        ).where(
            col(QuestionnaireSubmission.couple_id).in_(ids),
            col(QuestionnaireSubmission.person_id).in_(people),
            col(QuestionnaireSubmission.status) == SubmissionStatus.SUBMITTED,
        )
    ):
        mine = progress.get(couple_id or 0, {}).get(person_id)
        sent = access.SubmissionView(person_id, instrument, occasion, submitted_at, None)
        stage, step = questionnaire_step(sent, program)
        if mine is not None and stage and submitted_at is not None:
            mine.done.setdefault(stage, {})[step] = submitted_at
    for couple_id, person_id, stage_key, exercise, completed_at in session.execute(
        sql_select(
            col(ExerciseRecord.couple_id),
            col(ExerciseRecord.person_id),
            col(ExerciseRecord.stage),
            col(ExerciseRecord.exercise),
            col(ExerciseRecord.completed_at),
        ).where(
            col(ExerciseRecord.couple_id).in_(ids),
            col(ExerciseRecord.person_id).in_(people),
            col(ExerciseRecord.completed_at).is_not(None),
        )
    ):
        mine = progress.get(couple_id or 0, {}).get(person_id)
        if mine is not None and completed_at is not None:
            mine.done.setdefault(stage_key, {})[exercise] = completed_at
    openings: dict[int, dict[str, datetime]] = {couple_id: {} for couple_id in ids}
    for opening in session.exec(select(StageOpening).where(col(StageOpening.couple_id).in_(ids))):
        openings[opening.couple_id][opening.stage] = opening.opened_at
    journeys = {}
    for couple_id, partners in progress.items():
        first, second = partners.values()
        journeys[couple_id] = Journey(program, couple_id, first, second, openings[couple_id])
    return journeys


def for_partner(couple_journey: Journey, person_id: int) -> Journey:
    """The same couple's journey turned toward one of its partners (their `current_stage`, `next_step`)."""
    if couple_journey.me.person_id == person_id or couple_journey.partner is None:
        return couple_journey
    return replace(couple_journey, me=couple_journey.partner, partner=couple_journey.me)
