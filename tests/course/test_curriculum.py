"""Program content: what ships, and how a broken content file is reported (file and field named)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from program.course.curriculum import CHECKIN_KEYS, ContentError, ConversationExercise, Program, load_program
from program.course.scoring import score
from program.infra.settings import CONTENT_DIR

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
BASELINE = "kindred-baseline"


@pytest.fixture(scope="module")
def program() -> Program:
    """The shipped content, loaded once."""
    return load_program()


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A private copy of the shipped content to break."""
    copy = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, copy)
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of a content file (failing loudly if the content has changed)."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {path.name} exactly once"
    path.write_text(text.replace(old, new))


def _refusal(content_dir: Path, operator: Path | None = None) -> tuple[str, str]:
    """Load, expect a ContentError; its message, and the message with the temporary folder cut out."""
    with pytest.raises(ContentError) as caught:
        load_program(content_dir, operator_instruments=operator)
    message = str(caught.value)
    # Partners can see this message: it names files relative to their folder, never a server path.
    assert str(content_dir.parent) not in message, message
    assert not message.startswith("/") and " /" not in message and "'/" not in message, message
    return message, message


# ---- what ships -----------------------------------------------------------------------------------


def test_shipped_content_loads() -> None:
    """The content that ships with Kindred loads and validates with no operator instruments."""
    program = load_program()
    assert program.extra_instruments == ()


def test_four_stages_in_order(program: Program) -> None:
    """After the assessment come four stages: communication, conflict, trust, connection."""
    assert [(s.order, s.key) for s in program.stages] == [
        (1, "communication"),
        (2, "conflict"),
        (3, "trust"),
        (4, "connection"),
    ]


@pytest.mark.parametrize("kind", ["reflection", "conversation", "practice_log"])
def test_every_stage_has_an_exercise_of_each_kind(program: Program, kind: str) -> None:
    """Every stage offers a private reflection, a guided conversation and a practice log."""
    for stage in program.stages:
        assert any(e.kind == kind for e in stage.exercises), stage.key


def test_every_conversation_lets_both_partners_speak(program: Program) -> None:
    """In every guided conversation both partner A and partner B get a turn as speaker."""
    conversations = [
        (stage.key, e) for stage in program.stages for e in stage.exercises if e.kind == "conversation"
    ]
    assert len(conversations) >= len(program.stages)
    for stage_key, exercise in conversations:
        assert isinstance(exercise, ConversationExercise)
        assert {turn.speaker for turn in exercise.turns} == {"A", "B"}, (stage_key, exercise.key)


def test_every_stage_has_homework_with_a_due_date(program: Program) -> None:
    """Every stage ends with homework due a set number of days after the stage opens."""
    for stage in program.stages:
        assert stage.homework.instructions
        assert stage.homework.due_days > 0, stage.key


def test_baseline_covers_the_five_areas(program: Program) -> None:
    """The baseline questionnaire scores communication, conflict, trust, connection and satisfaction."""
    baseline = program.instruments[BASELINE]
    assert program.assessment.overview.questionnaire == BASELINE
    assert [s.key for s in baseline.subscales] == [
        "communication",
        "conflict",
        "trust",
        "connection",
        "satisfaction",
    ]


def test_every_baseline_area_has_at_least_four_statements(program: Program) -> None:
    """Each baseline area rests on at least four statements, not one or two."""
    baseline = program.instruments[BASELINE]
    for subscale in baseline.subscales:
        assert len(baseline.items_of(subscale.key)) >= 4, subscale.key


def test_baseline_has_reverse_keyed_statements(program: Program) -> None:
    """Some baseline statements are worded the other way round, so agreeing with all is not top marks."""
    assert any(item.reverse for item in program.instruments[BASELINE].items)


def test_no_shipped_instrument_claims_reliability_or_norms(program: Program) -> None:
    """Kindred's own questionnaires claim no reliability, norms or cut-offs: we have no data for them."""
    for instrument in program.instruments.values():
        for s in instrument.subscales:
            declared = (s.reliability, s.norm_mean, s.norm_sd, s.functional_mean, s.functional_sd, s.cutoff)
            assert declared == (None,) * 6, (instrument.key, s.key)


def test_every_stage_check_instrument_exists(program: Program) -> None:
    """Each stage's start-and-end check is a questionnaire that ships with Kindred."""
    for stage in program.stages:
        assert stage.check in program.instruments, stage.key
        assert stage.check not in program.extra_instruments, stage.key


def test_checkin_has_exactly_the_five_ratings(program: Program) -> None:
    """The weekly check-in asks exactly five ratings: closeness, communication, conflict, trust, overall."""
    keys = [rating.key for rating in program.checkin.ratings]
    assert len(keys) == 5
    assert sorted(keys) == sorted(CHECKIN_KEYS)


# ---- broken content is refused, naming the file and the field -------------------------------------


def test_invalid_toml_is_refused(content: Path) -> None:
    """A file that is not valid TOML stops the load, naming the file and the line."""
    broken = content / "stages" / "conflict.toml"
    _edit(broken, "order = 2\n", "order = = 2\n")
    message, words = _refusal(content)
    assert message.startswith("content/stages/conflict.toml: ")
    assert "not valid TOML" in words and "line 2" in words


def test_a_missing_required_field_is_refused(content: Path) -> None:
    """A stage without its homework stops the load, naming the stage file and 'homework'."""
    broken = content / "stages" / "conflict.toml"
    text = broken.read_text()
    broken.write_text(text[: text.index("[homework]")])
    message, words = _refusal(content)
    assert message.startswith("content/stages/conflict.toml: ")
    assert "homework: Field required" in words


def test_an_item_naming_an_unknown_subscale_is_refused(content: Path) -> None:
    """An item filed under a subscale the instrument does not declare stops the load, naming both."""
    broken = content / "instruments" / f"{BASELINE}.toml"
    item = 'key = "com-heard"\nsubscale = '
    _edit(broken, item + '"communication"', item + '"closeness"')
    message, words = _refusal(content)
    assert message.startswith("content/instruments/kindred-baseline.toml: ")
    assert "item 'com-heard' names unknown subscale 'closeness'" in words


def test_a_scale_with_the_wrong_number_of_labels_is_refused(content: Path) -> None:
    """A 1-7 scale with six labels stops the load, naming the file and 'scale' and how many are needed."""
    broken = content / "instruments" / f"{BASELINE}.toml"
    _edit(broken, '  "Somewhat disagree",\n', "")
    message, words = _refusal(content)
    assert message.startswith("content/instruments/kindred-baseline.toml: ")
    assert "scale: labels needs 7 entries" in words


def test_a_stage_without_a_conversation_is_refused(content: Path) -> None:
    """A stage with its conversation swapped for another reflection stops the load, naming what is missing."""
    broken = content / "stages" / "communication.toml"
    head, reflection, _conversation, practice_log = broken.read_text().split("[[exercises]]\n")
    second = reflection.replace('key = "how-i-talk-and-listen"', 'key = "second-reflection"')
    assert second != reflection
    broken.write_text("[[exercises]]\n".join([head, reflection, second, practice_log]))
    message, words = _refusal(content)
    assert message.startswith("content/stages/communication.toml: ")
    assert "a stage needs at least one exercise of each kind; missing ['conversation']" in words


def test_duplicate_item_keys_are_refused(content: Path) -> None:
    """Two items with the same key in one instrument stop the load, naming the file, 'items' and the key."""
    broken = content / "instruments" / "trust-check.toml"
    _edit(broken, 'key = "tru-keep-my-word"', 'key = "tru-follow-through"')
    message, words = _refusal(content)
    assert message.startswith("content/instruments/trust-check.toml: ")
    assert "items keys must be unique; repeated: tru-follow-through" in words


def test_a_stage_check_naming_a_missing_instrument_is_refused(content: Path) -> None:
    """A stage whose check names no shipped instrument stops the load, naming the stage file and 'check'."""
    broken = content / "stages" / "trust.toml"
    _edit(broken, 'check = "trust-check"', 'check = "trust-chek"')
    message, words = _refusal(content)
    assert "trust-chek" in words
    assert message.startswith("content/stages/trust.toml: ")
    assert "check" in words.replace("trust-chek", "")


def test_an_instrument_key_must_match_its_file_name(content: Path) -> None:
    """An instrument whose key differs from its file name stops the load, naming the file and 'key'."""
    broken = content / "instruments" / "trust-check.toml"
    _edit(broken, 'key = "trust-check"', 'key = "trust-checks"')
    message, words = _refusal(content)
    assert message.startswith("content/instruments/trust-check.toml: ")
    assert "key: 'trust-checks' must match the file name 'trust-check'" in words


def test_an_unknown_extra_field_is_refused(content: Path) -> None:
    """A misspelt or unknown field is refused rather than ignored, with its full path."""
    broken = content / "stages" / "connection.toml"
    broken.write_text(broken.read_text() + 'colour = "teal"\n')  # lands in [homework], the last table
    message, words = _refusal(content)
    assert message.startswith("content/stages/connection.toml: ")
    assert "homework.colour: Extra inputs are not permitted" in words


def test_an_operator_instrument_cannot_replace_a_shipped_one(content: Path, tmp_path: Path) -> None:
    """An operator file reusing a shipped instrument's key is refused instead of silently replacing it."""
    operator = tmp_path / "operator"
    operator.mkdir()
    shutil.copy(content / "instruments" / "trust-check.toml", operator)
    message, words = _refusal(content, operator)
    assert message.startswith("operator/trust-check.toml: ")
    assert "'trust-check' is already one of Kindred's own instruments" in words


def test_an_operator_key_clash_names_the_file_and_key(content: Path, tmp_path: Path) -> None:
    """The clash message names the operator's clashing file and its 'key' field."""
    operator = tmp_path / "operator"
    operator.mkdir()
    shutil.copy(content / "instruments" / "trust-check.toml", operator)
    message, words = _refusal(content, operator)
    assert "key" in words
    assert message.startswith("operator/trust-check.toml: key: ")


def test_a_broken_operator_instrument_is_refused_naming_its_file(content: Path, tmp_path: Path) -> None:
    """A broken operator file stops the load with that file's path and the field, not a shipped file's."""
    operator = tmp_path / "operator"
    operator.mkdir()
    broken = operator / "test-instrument.toml"
    shutil.copy(GOLDEN / "test-instrument.toml", broken)
    _edit(broken, "min_answered = 0.75", "min_answered = 1.5")
    message, words = _refusal(content, operator)
    assert message.startswith("operator/test-instrument.toml: ")
    assert "min_answered: Input should be less than or equal to 1" in words


# ---- an operator's own instrument -----------------------------------------------------------------


def test_an_operator_instrument_is_offered_and_scored(content: Path, tmp_path: Path) -> None:
    """An instrument file dropped into the operator folder is offered and scored, with no code change."""
    operator = tmp_path / "operator"
    operator.mkdir()
    shutil.copy(GOLDEN / "test-instrument.toml", operator)
    program = load_program(content, operator_instruments=operator)
    assert program.extra_instruments == ("test-instrument",)
    assert "test-instrument" in program.instruments
    assert BASELINE in program.instruments
    instrument = program.instruments["test-instrument"]
    result = score(instrument, {item.key: 2 for item in instrument.items})
    # Every answer 2 on 0-4: reverse items give 4-2=2 too, so warmth 4 x 2 = 8, strain 3 x 2 = 6.
    assert {key: r.score for key, r in result.items()} == {"warmth": 8.0, "strain": 6.0}


# ---- items with their own response scale ----------------------------------------------------------


def _mixed_operator(tmp_path: Path) -> Path:
    """An operator folder holding the mixed-scale test instrument (first item 0-6, the rest 0-5)."""
    operator = tmp_path / "operator"
    operator.mkdir()
    shutil.copy(GOLDEN / "test-mixed.toml", operator)
    return operator


def test_a_mixed_scale_operator_instrument_loads_and_scores(content: Path, tmp_path: Path) -> None:
    """A questionnaire whose first item is on 0-6 and the rest on 0-5 loads from the operator folder and a
    6 on the first item counts: reversed within 0-6 it scores 0, not the -1 a 0-5 scale would give."""
    program = load_program(content, operator_instruments=_mixed_operator(tmp_path))
    instrument = program.instruments["test-mixed"]
    first, second = instrument.items[:2]
    assert list(instrument.scale_of(first).points) == list(range(7))
    assert list(instrument.scale_of(second).points) == list(range(6))
    result = score(instrument, {"m1": 6, "m2": 5, "m3": 0, "m4": 5, "m5": 1, "m6": 1})
    assert result["bond"].score == 15.0  # m1 6-6=0; m3 5-0=5; 0+5+5+5


def test_an_item_scale_with_the_wrong_number_of_labels_is_refused(content: Path, tmp_path: Path) -> None:
    """An item's own 0-6 scale with six labels stops the load, naming the operator file and the item."""
    operator = _mixed_operator(tmp_path)
    _edit(operator / "test-mixed.toml", '"Extremely happy", ', "")
    message, words = _refusal(content, operator)
    assert message.startswith("operator/test-mixed.toml: ")
    assert "item 'm1': own scale" in words and "labels needs 7 entries" in words


def test_an_item_scale_running_backwards_is_refused(content: Path, tmp_path: Path) -> None:
    """An item scale whose max is not above its min is refused, naming the item."""
    operator = _mixed_operator(tmp_path)
    _edit(operator / "test-mixed.toml", "min = 0\nmax = 6\n", "min = 6\nmax = 0\n")
    message, words = _refusal(content, operator)
    assert message.startswith("operator/test-mixed.toml: ")
    assert "item 'm1': own scale" in words and "max must be greater than min" in words


def test_an_item_scale_with_an_unknown_field_is_refused(content: Path, tmp_path: Path) -> None:
    """A typo in an item's scale table (steps for labels) is refused, naming the item and the field."""
    operator = _mixed_operator(tmp_path)
    _edit(operator / "test-mixed.toml", "min = 0\nmax = 6\n", "min = 0\nmax = 6\nstep = 1\n")
    message, words = _refusal(content, operator)
    assert "item 'm1': own scale: step: Extra inputs are not permitted" in words


@pytest.mark.parametrize(
    ("cutoff", "refused"),
    [("21.0", False), ("21.5", True), ("-0.5", True)],
    ids=["top-of-mixed-range", "past-the-top", "below-the-bottom"],
)
def test_a_cutoff_must_lie_in_the_subscales_true_range(
    content: Path, tmp_path: Path, cutoff: str, refused: bool
) -> None:
    """Bond's true sum range is 0-21 (6+5+5+5), not 0-20 as the instrument's 0-5 scale alone would say: a
    cut-off of 21 loads, one outside 0-21 is refused naming the subscale and its range."""
    operator = _mixed_operator(tmp_path)
    _edit(operator / "test-mixed.toml", "cutoff = 11.0", f"cutoff = {cutoff}")
    if not refused:
        load_program(content, operator_instruments=operator)
        return
    message, words = _refusal(content, operator)
    assert message.startswith("operator/test-mixed.toml: ")
    assert f"subscale 'bond': cutoff {float(cutoff):g} is outside its score range 0 to 21" in words


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("functional_sd = 3.0\n", "", "give functional_mean and functional_sd together"),
        ("functional_mean = 15.0", "functional_mean = 5.0", "functional_mean 5 must be on the better side"),
        ("norm_mean = 8.0\n", "", "functional norms need the clinical norm_mean and norm_sd too"),
    ],
    ids=["sd-missing", "functional-worse-than-clinical", "clinical-mean-missing"],
)
def test_functional_norms_that_make_no_sense_are_refused(
    content: Path, tmp_path: Path, old: str, new: str, says: str
) -> None:
    """Norms of the functional population must come whole, beside the clinical norms, on the better side."""
    operator = _mixed_operator(tmp_path)
    _edit(operator / "test-mixed.toml", old, new)
    message, words = _refusal(content, operator)
    assert message.startswith("operator/test-mixed.toml: ")
    assert "subscale 'bond'" in words and says in words
