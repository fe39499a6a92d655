"""After the last stage: the plan's words, the booster review at the follow-up, and the kind suggestion to
see a couples therapist, which fires on a partner's own scores exactly at its thresholds and not one point
before, stays dismissed, and is never about the partner."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from program.course import (
    appreciation,
    checkins,
    journey,
    keeping,
    outcomes,
    questionnaires,
    reflections,
    reminders,
    scoring,
    shared_texts,
)
from program.course.curriculum import ContentError, Instrument, load_instruments
from program.course.keeping import KeepingError
from program.infra.db import read_session, write_session
from program.infra.models import ExerciseRecord, NoticeDismissal, Visibility
from program.infra.settings import CONTENT_DIR, Settings
from program.privacy import couples
from program.privacy.viewer import Viewer
from program.your_data import export
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, T0, finish_assessment, finish_stage

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
MEAN: Instrument = load_instruments(GOLDEN)["test-instrument-mean"]
STAGES = [stage.key for stage in PROGRAM.stages]
SETTINGS = Settings(cookie_key=None, database_url="sqlite://", follow_up_weeks=3)
WORDS = keeping.content().suggestion


# ---- the words --------------------------------------------------------------------------------------


def test_the_shipped_words_load_with_the_three_plan_parts() -> None:
    """keeping.toml validates: the plan's three parts in order, a rhythm, a booster with its day."""
    words = keeping.load_content()
    assert [part.key for part in words.plan] == list(keeping.PLAN_KEYS)
    assert words.rhythm.steps and "{day}" in words.booster.not_yet
    assert words.suggestion.how_to_find


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('key = "then"', 'key = "later"'), "plan: must be exactly keep, warning-signs, then"),
        (("{day}", "soon"), "booster.not_yet: must say when"),
        (("checkin_window = 3", "checkin_window = 0"), "suggestion.checkin_window"),
        (('title = "Keeping it going"', 'title = ""'), "title"),
    ],
)
def test_a_broken_words_file_names_its_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    """Each broken field is named with the file, as a ContentError."""
    text = CONTENT_DIR.joinpath("keeping.toml").read_text(encoding="utf-8")
    assert change[0] in text
    broken = tmp_path / "keeping.toml"
    broken.write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ContentError, match=r"keeping\.toml: .*" + message.replace(".", r"\.")):
        keeping.load_content(broken)


# ---- the suggestion's rules, on crafted histories -----------------------------------------------------


def _answers(warmth_points: int, strain: int = 1) -> dict[str, int | None]:
    """Answers whose warmth score is warmth_points / 4 (w3 and w4 are reverse-keyed) and strain constant."""
    scored = [min(4, max(0, warmth_points - 4 * i)) for i in range(4)]
    return {
        "w1": scored[0], "w2": scored[1], "w3": 4 - scored[2], "w4": 4 - scored[3],
        "s1": strain, "s2": strain, "s3": strain,
    }  # fmt: skip


def _reasons(
    fillings: Sequence[tuple[str, dict[str, int | None]]], overall: Sequence[int] = ()
) -> list[keeping.Reason]:
    return keeping.suggestion_reasons(
        instrument=MEAN,
        fillings=fillings,
        overall_checkins=overall,
        checkin_window=WORDS.checkin_window,
        checkin_drop=WORDS.checkin_drop,
    )


def test_the_answers_helper_scores_what_it_says() -> None:
    """The crafted answers score as intended (else the threshold tests below test nothing)."""
    assert scoring.score(MEAN, _answers(13))["warmth"].score == 3.25
    assert scoring.score(MEAN, _answers(9))["warmth"].score == 2.25


def test_the_outcome_falling_reliably_fires_and_one_point_less_does_not() -> None:
    """Warmth's S_diff is 0.5: a fall of 1.0 (four answer points) is an index of -2.0, reliably worse;
    three points (-1.5) is not. Stage ends count; the first filling is the baseline."""
    start = (questionnaires.BASELINE, _answers(14))
    assert _reasons([start, (outcomes.stage_end_occasion(STAGES[0]), _answers(10))]) == ["outcome fell"]
    assert _reasons([start, (outcomes.stage_end_occasion(STAGES[0]), _answers(11))]) == []
    # A rise is no reason, however large; nor one filling alone.
    assert _reasons([(questionnaires.BASELINE, _answers(4)), (outcomes.PROGRAM_END, _answers(16))]) == []
    assert _reasons([start]) == []


def test_the_latest_filling_counts_not_a_dip_in_between() -> None:
    """A fall and a recovery: judged on the first against the latest."""
    fillings = [
        (questionnaires.BASELINE, _answers(14)),
        (outcomes.stage_end_occasion(STAGES[0]), _answers(6)),
        (outcomes.stage_end_occasion(STAGES[1]), _answers(14)),
    ]
    assert _reasons(fillings) == []
    assert _reasons(fillings[:2]) == ["outcome fell"]


def test_the_concern_range_counts_only_after_the_program() -> None:
    """Warmth's cut-off is 2.0, concern below: 1.75 at the end of the program or the follow-up fires,
    2.0 (on the line) does not, and 1.75 at a stage's end is not yet "after the program"."""
    low, line = _answers(7), _answers(8)
    assert _reasons([(outcomes.PROGRAM_END, low)]) == ["outcome in concern range"]
    assert _reasons([(outcomes.FOLLOW_UP, low)]) == ["outcome in concern range"]
    assert _reasons([(outcomes.PROGRAM_END, line)]) == []
    assert _reasons([(outcomes.stage_end_occasion(STAGES[2]), low)]) == []
    # Strain (concern above 2.5) counts the same way.
    assert _reasons([(outcomes.PROGRAM_END, _answers(12, strain=3))]) == ["outcome in concern range"]


def test_an_instrument_without_reliability_or_cutoff_never_fires() -> None:
    """Kindred's own baseline declares neither: its scores alone never suggest anything."""
    instrument = PROGRAM.instruments[PROGRAM.assessment.overview.questionnaire]
    high = {item.key: 7 if not item.reverse else 1 for item in instrument.items}
    low = {item.key: 1 if not item.reverse else 7 for item in instrument.items}
    reasons = keeping.suggestion_reasons(
        instrument=instrument,
        fillings=[(questionnaires.BASELINE, high), (outcomes.PROGRAM_END, low)],
        overall_checkins=[],
        checkin_window=3,
        checkin_drop=3.0,
    )
    assert reasons == []


def test_check_ins_falling_fires_at_the_declared_drop_and_not_one_point_before() -> None:
    """The shipped rule: the last three overall ratings average at least 3 below the first three."""
    assert (WORDS.checkin_window, WORDS.checkin_drop) == (3, 3.0)
    assert _reasons([], [8, 8, 8, 5, 5, 5]) == ["check-ins fell"]
    assert _reasons([], [8, 8, 8, 5, 5, 6]) == []  # one point less: a drop of 2.67
    assert _reasons([], [8, 8, 8, 9, 2, 2, 2]) == ["check-ins fell"]
    assert _reasons([], [8, 8, 5, 5, 5]) == []  # two full windows needed
    assert _reasons([], [2, 2, 2, 9, 9, 9]) == []  # a rise


# ---- the suggestion in the database: own scores only, dismissed stays dismissed ---------------------


def _checkins(
    engine: Engine, viewer: Viewer, overall: Sequence[int], first: date = date(2026, 11, 2)
) -> None:
    for week, value in enumerate(overall):
        day = first + timedelta(weeks=week)
        with write_session(engine) as session:
            checkins.save_checkin(
                session=session,
                viewer=viewer,
                ratings={"closeness": 5, "communication": 5, "conflict": 5, "trust": 5, "overall": value},
                note=None,
                today=day,
                now=datetime.combine(day, T0.timetz()),
            )


def _suggested(engine: Engine, viewer: Viewer) -> bool:
    with read_session(engine) as session:
        return keeping.suggestion_due(session=session, viewer=viewer, program=PROGRAM, settings=SETTINGS)


def _dismiss(engine: Engine, viewer: Viewer) -> None:
    with write_session(engine) as session:
        keeping.dismiss_suggestion(session=session, viewer=viewer, now=T0)


def test_only_the_partner_whose_own_check_ins_fell_is_told(engine: Engine) -> None:
    """Ana's ratings fell, Ben's held steady: Ana sees the suggestion, Ben never does (not about her)."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    _checkins(engine, ana, [8, 8, 8, 5, 5, 5])
    _checkins(engine, ben, [7, 7, 7, 7, 7, 7])
    assert _suggested(engine, ana)
    assert not _suggested(engine, ben)


def test_one_point_less_of_a_fall_is_not_told(engine: Engine) -> None:
    """Through the database too: a drop of 2.67 shows nothing."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    _checkins(engine, ana, [8, 8, 8, 5, 5, 6])
    assert not _suggested(engine, ana)


def test_dismissed_stays_dismissed_and_twice_is_once(engine: Engine) -> None:
    """Once Ana hides it, further falls do not bring it back in this couple; a second dismissal (two
    tabs) keeps one row."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    _checkins(engine, ana, [8, 8, 8, 5, 5, 5])
    _dismiss(engine, ana)
    _dismiss(engine, ana)
    assert not _suggested(engine, ana)
    _checkins(engine, ana, [1, 1, 1], first=date(2026, 12, 14))
    assert not _suggested(engine, ana)
    with read_session(engine) as session:
        assert len(session.exec(select(NoticeDismissal)).all()) == 1


def test_a_new_couple_judges_its_own_scores_afresh(engine: Engine) -> None:
    """Ana dismissed it with Ben, then forms a couple with Cai: her old check-ins stay with the old couple
    (nothing shows at first), and a fall in the new couple shows it once more."""
    ana, ben, cai = make_person(engine, "ana"), make_person(engine, "ben"), make_person(engine, "cai")
    make_couple(engine, ana, ben)
    _checkins(engine, ana, [8, 8, 8, 5, 5, 5])
    _dismiss(engine, ana)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=T0 + timedelta(weeks=7))
    make_couple(engine, ana, cai)
    assert not _suggested(engine, ana)
    _checkins(engine, ana, [9, 9, 9, 4, 4, 4], first=date(2026, 12, 28))
    assert _suggested(engine, ana)
    assert not _suggested(engine, cai)


# ---- the booster review ------------------------------------------------------------------------------


def through_the_program(engine: Engine, start: datetime = T0) -> tuple[Viewer, Viewer, datetime]:
    """Ana and Ben finish every stage from `start`; Ana sends every outcome occasion up to the program's
    end. Returns when she sent it."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    make_couple(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner, now=start)
    when = start
    instrument = outcomes.outcome_instrument(PROGRAM, SETTINGS)
    for stage in STAGES:
        when += timedelta(days=10)
        for partner in (ana, ben):
            finish_stage(engine, partner, stage, now=when)
        when += timedelta(days=8)
        occasion = outcomes.PROGRAM_END if stage == STAGES[-1] else outcomes.stage_end_occasion(stage)
        with write_session(engine) as session:
            for item in instrument.items:
                questionnaires.save_answer(
                    session=session, viewer=ana, instrument=instrument, occasion=occasion,
                    item=item.key, value=5, now=when,
                )  # fmt: skip
            outcomes.submit(
                session=session, viewer=ana, program=PROGRAM, settings=SETTINGS, occasion=occasion, now=when
            )
    return ana, ben, when


def _booster_due(engine: Engine, viewer: Viewer, now: datetime) -> bool:
    with read_session(engine) as session:
        status = outcomes.status(session=session, viewer=viewer, program=PROGRAM, settings=SETTINGS, now=now)
        done_at = keeping.booster_done_at(session=session, viewer=viewer)
    return keeping.booster_due(
        status=status, done_at=done_at, follow_up_weeks=SETTINGS.follow_up_weeks, now=now
    )


def _do_booster(engine: Engine, viewer: Viewer, now: datetime, rating: int = 7) -> None:
    with write_session(engine) as session:
        keeping.do_booster(
            session=session, viewer=viewer, program=PROGRAM, settings=SETTINGS, rating=rating, now=now
        )


def test_the_booster_comes_due_exactly_at_the_follow_up(engine: Engine) -> None:
    """Due exactly follow_up_weeks after Ana sent the program's end (the follow-up's own moment), not a
    second before; refused before then; done once; never due for Ben, who has not sent his end."""
    ana, ben, ended = through_the_program(engine)
    at = ended + timedelta(weeks=SETTINGS.follow_up_weeks)
    with read_session(engine) as session:
        status = outcomes.status(session=session, viewer=ana, program=PROGRAM, settings=SETTINGS, now=at)
    assert status.due == [outcomes.FOLLOW_UP]  # the same moment as the follow-up questionnaire
    assert not _booster_due(engine, ana, at - timedelta(seconds=1))
    with pytest.raises(KeepingError, match="isn't due yet"):
        _do_booster(engine, ana, at - timedelta(seconds=1))
    assert _booster_due(engine, ana, at)
    assert not _booster_due(engine, ben, at + timedelta(weeks=52))
    with read_session(engine) as session:
        mine = journey.load_journey(session=session, viewer=ana, program=PROGRAM)
    assert reminders.BOOSTER in reminders.due_now(mine, checkin_done=True, today=at.date(), booster_due=True)
    assert reminders.BOOSTER not in reminders.due_now(mine, checkin_done=True, today=at.date())
    _do_booster(engine, ana, at + timedelta(days=1))
    _do_booster(engine, ana, at + timedelta(days=2), rating=1)  # a second tab: kept as first done
    assert not _booster_due(engine, ana, at + timedelta(weeks=10))
    with read_session(engine) as session:
        rows = session.exec(select(ExerciseRecord).where(ExerciseRecord.exercise == keeping.BOOSTER)).all()
    assert [(r.person_id, r.data, r.completed_at) for r in rows] == [
        (ana.person_id, {"rating": 7}, at + timedelta(days=1))
    ]


@pytest.mark.parametrize("rating", [-1, 11, True, 5.5, "7"])
def test_a_bad_booster_rating_is_refused_and_nothing_is_saved(engine: Engine, rating: object) -> None:
    """Only a whole number from 0 to 10."""
    ana, _, ended = through_the_program(engine)
    with pytest.raises(KeepingError, match="0 to 10"):
        _do_booster(engine, ana, ended + timedelta(weeks=5), rating=rating)  # type: ignore[arg-type]
    assert _booster_due(engine, ana, ended + timedelta(weeks=5))


def test_the_plan_opens_after_the_last_stage_for_that_partner(engine: Engine) -> None:
    """Finishing the last stage opens the plan for the partner who finished it, not for the other."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    make_couple(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
    for stage in STAGES[:-1]:
        for partner in (ana, ben):
            finish_stage(engine, partner, stage)
    finish_stage(engine, ana, STAGES[-1])
    with read_session(engine) as session:
        mine = journey.load_journey(session=session, viewer=ana, program=PROGRAM)
        theirs = journey.load_journey(session=session, viewer=ben, program=PROGRAM)
    assert keeping.finished_program(mine)
    assert not keeping.finished_program(theirs)


def _export(engine: Engine, viewer: Viewer) -> dict[str, str]:
    with read_session(engine) as session:
        data = export.export_zip(session=session, viewer=viewer, program=PROGRAM, now=T0)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}


def test_the_export_holds_ones_own_log_plan_and_dismissal_and_not_the_partners(engine: Engine) -> None:
    """Ana's export has her appreciation, her plan text and her hidden notice; Ben's has none of them."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    couple_id = make_couple(engine, ana, ben)
    for partner in (ana, ben):
        finish_assessment(engine, partner)
    with write_session(engine) as session:
        mine = journey.load_journey(session=session, viewer=ana, program=PROGRAM)
        appreciation.save_entry(
            session=session,
            viewer=ana,
            progress=mine,
            today=T0.date(),
            text="Tea on Tuesday",
            said=True,
            now=T0,
        )
        reflections.save_text(
            session=session, viewer=ana, context=keeping.plan_context("keep"), body="Sunday walks",
            visibility=Visibility.PARTNER, now=T0,
        )  # fmt: skip
        keeping.dismiss_suggestion(session=session, viewer=ana, now=T0)
    hers, his = _export(engine, ana), _export(engine, ben)
    assert "Tea on Tuesday" in hers["exercises.json"]
    assert "Sunday walks" in hers["reflections.csv"]
    assert f"{keeping.SUGGESTION}:{couple_id}" in hers["notices.csv"]
    assert "Tea on Tuesday" not in his["exercises.json"]
    assert keeping.SUGGESTION not in his["notices.csv"]


def test_a_shared_plan_reads_with_its_label_and_a_private_one_not_at_all(engine: Engine) -> None:
    """Ben reads what Ana shared of her plan labelled "Keeping it going · <part>"; her private part and
    her booster note (therapist only) never reach him."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    couple_id = make_couple(engine, ana, ben)
    texts = {
        keeping.plan_context("keep"): ("Sunday walks", Visibility.PARTNER),
        keeping.plan_context("warning-signs"): ("We stop talking", Visibility.PRIVATE),
        keeping.BOOSTER_NOTE: ("More walks", Visibility.THERAPIST),
    }
    with write_session(engine) as session:
        for context, (body, visibility) in texts.items():
            reflections.save_text(
                session=session, viewer=ana, context=context, body=body, visibility=visibility, now=T0
            )
    with read_session(engine) as session:
        seen = shared_texts.shared_with_viewer(
            session=session, viewer=ben, couple_id=couple_id, program=PROGRAM
        )
    assert [(t.where, t.body) for t in seen] == [("Keeping it going · What we keep doing", "Sunday walks")]
    assert keeping.describe_context(keeping.BOOSTER_NOTE) == "Keeping it going · Booster review"
    assert keeping.describe_context("communication:taking-turns") is None
