"""Reminders without any outside service: what is due now, and what the partner has just finished."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from program.course import journey, outcomes
from program.course.curriculum import ConversationExercise, Program
from program.course.pronouns import pronoun_forms
from program.course.questionnaires import BASELINE


@dataclass(frozen=True)
class Reminder:
    """One thing to do, where to do it, and whether it is late."""

    text: str
    page: str
    overdue: bool = False


def _step_text(progress: journey.Journey, stage: str, step: str) -> str:
    if stage == journey.ASSESSMENT:
        return {
            "questionnaire": "Answer the assessment questionnaire",
            journey.GOALS: "Name your goals and strengths",
        }[step]
    skill = progress.program.stage_by_key[stage]
    if step == "check-start":
        return f"{skill.title}: take the short start check"
    if step == "check-end":
        return f"{skill.title}: take the end check"
    if step == journey.HOMEWORK:
        return f"{skill.title}: homework, {skill.homework.title}"
    return f"{skill.title}: {skill.exercise(step).title}"


# The private safety check, as it appears in the person's own "Due now" (it gates nothing).
SAFETY_FULL = Reminder("Your private safety check (just for you, a few minutes)", "assessment")
SAFETY_SHORT = Reminder("Your private safety check-in for this stage (just for you, one minute)", "account")
SAFETY = (SAFETY_FULL, SAFETY_SHORT)


OUTCOME_PAGE = "outcome"
# A week after both partners agreed a plan in "Solving one problem together" (program.course.problem_solving).
AGREEMENT_REVIEW = Reminder("Conflict: look back on the plan you agreed a week ago", "conflict")
# After the program, at the follow-up: reading the plan again (program.course.keeping).
BOOSTER = Reminder("Keeping it going: your booster review", "keeping")


def outcome_text(occasion: str, program: Program) -> str:
    """The reminder for an outcome occasion: "How we're doing: the questionnaire after Building trust"."""
    when = {
        BASELINE: "at the start",
        outcomes.PROGRAM_END: "at the end of the program",
        outcomes.FOLLOW_UP: "for the follow-up",
    }.get(occasion)
    if when is None:  # a stage's end: "After Building trust"
        label = outcomes.occasion_label(occasion, program)
        when = label[0].lower() + label[1:]
    return f"How we're doing: the questionnaire {when}"


def due_now(
    progress: journey.Journey,
    *,
    checkin_done: bool,
    today: date,
    safety_due: str | None = None,
    outcome: outcomes.OutcomeStatus | None = None,
    booster_due: bool = False,
) -> list[Reminder]:
    """What this partner can do next: their own safety check when due (first, before any joint work), the
    outcome questionnaire when one of its occasions is due, the weekly check-in, the next step of each
    open stage, late homework. A guided conversation never appears while joint work is paused (next_step
    skips it)."""
    items: list[Reminder] = []
    if safety_due == "full":
        items.append(SAFETY_FULL)
    elif safety_due == "short":
        items.append(SAFETY_SHORT)
    for occasion in outcome.due if outcome is not None else []:
        # Kindred's own baseline at the start is the assessment's questionnaire, reminded as a step below.
        if not (occasion == BASELINE and outcome is not None and outcome.start_in_assessment):
            items.append(Reminder(outcome_text(occasion, progress.program), OUTCOME_PAGE))
    if booster_due:
        items.append(BOOSTER)
    if not checkin_done:
        items.append(Reminder("This week's check-in (two minutes)", "checkin"))
    for stage in journey.ORDER:
        step = progress.next_step(stage)
        if step is None:
            continue
        due = progress.homework_due(stage)
        late = step == journey.HOMEWORK and due is not None and due < today
        text = _step_text(progress, stage, step) + (f" (was due {due:%d %B})" if late and due else "")
        items.append(Reminder(text, stage, overdue=late))
    return items


def partner_news(progress: journey.Journey) -> list[str]:
    """What the partner finished that concerns both: shared conversations, stages, the assessment."""
    partner = progress.partner
    if partner is None:
        return []
    news: list[str] = []
    if progress.solo == journey.Solo.AWAY:
        # Only what the partner could already see (access.partner_last_seen) decides this line.
        they = pronoun_forms(partner.pronouns)
        news.append(
            f"{partner.name} hasn't finished a step, sent a questionnaire or checked in for "
            f"{journey.AWAY_DAYS} days, so you can go on alone: each stage opens for you once you finish the "
            f"one before it, and the guided conversations wait until {they.subject} "
            f"{they.verb('is', 'are')} back."
        )
    for stage in journey.ORDER:
        if partner.finished_at(stage) and not progress.me.finished_at(stage):
            title = (
                "the assessment"
                if stage == journey.ASSESSMENT
                else progress.program.stage_by_key[stage].title
            )
            news.append(f"{partner.name} has finished {title}.")
        # While joint work is paused, no notice nudges anyone toward a guided conversation.
        if stage == journey.ASSESSMENT or not progress.is_open(stage) or progress.joint_closed_reason():
            continue
        for exercise in progress.program.stage_by_key[stage].exercises:
            if (
                isinstance(exercise, ConversationExercise)
                and partner.did(stage, exercise.key)
                and not progress.me.did(stage, exercise.key)
            ):
                news.append(
                    f"{partner.name} marked the conversation '{exercise.title}' as done; mark yours too."
                )
    return news
