"""The program's content: stages, exercises, questionnaires, the safety screen and the check-in.

Content is data (TOML files in program/course/content/, plus any instruments an operator drops into the
instruments folder of the data directory), validated here on load. A broken file stops the app with a
message naming the file and the field, never a half-loaded program.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from program.infra.settings import CONTENT_DIR

STAGE_KEYS = ("communication", "conflict", "trust", "connection")
CHECKIN_KEYS = ("closeness", "communication", "conflict", "trust", "overall")

ModelT = TypeVar("ModelT", bound=BaseModel)
Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,47}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ContentError(ValueError):
    """A content file is missing, unreadable or invalid; the message names the file and the field."""


class _Content(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- questionnaires -------------------------------------------------------------------------------


class Scale(_Content):
    """A response scale: the instrument's, or one item's own (which overrides the instrument's)."""

    min: int
    max: int
    labels: list[str]

    @model_validator(mode="after")
    def _one_label_per_point(self) -> Scale:
        if self.max <= self.min:
            raise ValueError("max must be greater than min")
        if len(self.labels) != self.max - self.min + 1:
            raise ValueError(
                f"labels needs {self.max - self.min + 1} entries, one per point (use '' for none)"
            )
        return self

    @property
    def points(self) -> range:
        """Every allowed answer."""
        return range(self.min, self.max + 1)


class Subscale(_Content):
    """A group of items scored together, with optional published scoring facts."""

    key: Key
    title: Text
    description: str = ""
    reliability: Annotated[float, Field(gt=0, lt=1)] | None = None
    # The clinical (distressed) population's norms: norm_sd drives the reliable change index.
    norm_mean: float | None = None
    norm_sd: Annotated[float, Field(gt=0)] | None = None
    # The functional population's norms: with both populations declared, clinically significant change
    # uses Jacobson and Truax's criterion c between them instead of the cut-off.
    functional_mean: float | None = None
    functional_sd: Annotated[float, Field(gt=0)] | None = None
    cutoff: float | None = None
    cutoff_label: str = ""
    # Which side of the cut-off is the range of concern.
    concern: Literal["below", "above"] = "below"
    # Which way is better, said beside every score shown (charts, captions).
    direction: Literal["higher is better", "lower is better"] = "higher is better"

    @model_validator(mode="after")
    def _direction_matches_concern(self) -> Subscale:
        # A concern range below the cut-off means low scores are worse, so higher is better (and vice versa).
        expected = "higher is better" if self.concern == "below" else "lower is better"
        if self.cutoff is not None and self.direction != expected:
            raise ValueError(
                f"subscale {self.key!r}: a concern range {self.concern} the cut-off contradicts "
                f"direction {self.direction!r} (expected {expected!r})"
            )
        if (self.functional_mean is None) != (self.functional_sd is None):
            raise ValueError(f"subscale {self.key!r}: give functional_mean and functional_sd together")
        if self.functional_mean is not None and (self.norm_mean is None or self.norm_sd is None):
            raise ValueError(
                f"subscale {self.key!r}: functional norms need the clinical norm_mean and norm_sd too"
            )
        if self.functional_mean is not None and self.norm_mean is not None:
            higher = self.direction == "higher is better"
            if (self.functional_mean > self.norm_mean) != higher or self.functional_mean == self.norm_mean:
                raise ValueError(
                    f"subscale {self.key!r}: functional_mean {self.functional_mean:g} must be on the better "
                    f"side of norm_mean {self.norm_mean:g} ({self.direction})"
                )
        return self


class Item(_Content):
    """One statement to rate, on the instrument's scale unless it declares its own."""

    key: Key
    subscale: Key
    text: Text
    reverse: bool = False
    # Whose doing the statement rates: "me" (what I do), "partner" (what my partner does) or "us" (the two of
    # us, or how our relationship is). Kindred's own questionnaires declare it and keep one perspective per
    # subscale (tests/course/test_content_perspective.py); an operator's licensed instrument may leave it out.
    perspective: Literal["me", "us", "partner"] | None = None
    # [items.scale]: this item's own response scale (published questionnaires often mix scales).
    scale: Scale | None = None

    @field_validator("scale", mode="wrap")
    @classmethod
    def _name_the_item(
        cls, value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> object:
        # Errors in a nested table are located by list index (items.3.scale); name the item itself.
        try:
            return handler(value)
        except ValidationError as error:
            problems = "; ".join(
                "".join(f"{part}: " for part in e["loc"]) + e["msg"].removeprefix("Value error, ")
                for e in error.errors()
            )
            raise ValueError(f"item {info.data.get('key', '?')!r}: own scale: {problems}") from None


class Instrument(_Content):
    """A questionnaire: items on the instrument's scale (or their own), grouped into subscales, with how to
    score it."""

    key: Key
    title: Text
    purpose: Text
    source: Text
    licence: Text
    aggregate: Literal["mean", "sum"]
    min_answered: Annotated[float, Field(gt=0, le=1)]
    scale: Scale
    subscales: Annotated[list[Subscale], Field(min_length=1)]
    items: Annotated[list[Item], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        _unique("subscales", [s.key for s in self.subscales])
        _unique("items", [i.key for i in self.items])
        known = {s.key for s in self.subscales}
        for item in self.items:
            if item.subscale not in known:
                raise ValueError(f"item {item.key!r} names unknown subscale {item.subscale!r}")
        for subscale in self.subscales:
            if not any(i.subscale == subscale.key for i in self.items):
                raise ValueError(f"subscale {subscale.key!r} has no items")
            if subscale.reliability is not None and subscale.norm_sd is None:
                raise ValueError(f"subscale {subscale.key!r}: a reliable change index needs norm_sd too")
            low, high = self.subscale_range(subscale.key)
            for name in ("cutoff", "norm_mean", "functional_mean"):
                value = getattr(subscale, name)
                if value is not None and not low <= value <= high:
                    raise ValueError(
                        f"subscale {subscale.key!r}: {name} {value:g} is outside its score range "
                        f"{low:g} to {high:g} (from its items' scales)"
                    )
        return self

    def items_of(self, subscale: str) -> list[Item]:
        """The items of one subscale, in order."""
        return [item for item in self.items if item.subscale == subscale]

    def scale_of(self, item: Item) -> Scale:
        """The scale an item is answered on: its own, else the instrument's."""
        return item.scale or self.scale

    def subscale_range(self, subscale: str) -> tuple[float, float]:
        """The lowest and highest score a subscale can take, from its items' own scales: for a mean, the
        mean of the items' minimums to the mean of their maximums; for a sum, the sums."""
        scales = [self.scale_of(item) for item in self.items_of(subscale)]
        low, high = sum(s.min for s in scales), sum(s.max for s in scales)
        if self.aggregate == "mean":
            return low / len(scales), high / len(scales)
        return float(low), float(high)


# ---- stages ---------------------------------------------------------------------------------------


class Overview(_Content):
    """Why a stage matters and what it practises."""

    why: Text
    practise: Annotated[list[Text], Field(min_length=1)]
    grounding: Text


class ReflectionExercise(_Content):
    """Written alone, privately unless shared."""

    kind: Literal["reflection"]
    key: Key
    title: Text
    minutes: Annotated[int, Field(gt=0, le=120)]
    intro: Text
    prompts: Annotated[list[Text], Field(min_length=1)]


# Guided conversations name the partners: their text says {a} and {b} (the partners taking part A and part B),
# and a turn may also say {speaker} and {listener}. The names are put in only when the text is shown, so a
# bare role letter ("what A does") never reaches a partner: loading refuses one.
COUPLE_PLACEHOLDERS = ("a", "b")
TURN_PLACEHOLDERS = ("a", "b", "speaker", "listener")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ROLE_LETTER = re.compile(r"\b[AB]\b")


def check_names(text: str, allowed: tuple[str, ...]) -> str:
    """The text, if its placeholders are all allowed ones and it holds no bare role letter (A or B as a
    word) nor a stray brace; else a ValueError saying what to write instead."""
    for name in _PLACEHOLDER.findall(text):
        if name not in allowed:
            shown = ", ".join(f"{{{a}}}" for a in allowed) or "none here"
            raise ValueError(f"unknown placeholder {{{name}}} (allowed: {shown})")
    if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
        raise ValueError("a brace that is not part of a placeholder such as {a}")
    if (letter := _ROLE_LETTER.search(text)) is not None:
        around = text[max(0, letter.start() - 20) : letter.end() + 20].replace("\n", " ")
        instead = " or ".join(f"{{{a}}}" for a in allowed) or "a word other than a lone A or B"
        raise ValueError(
            f"bare role letter {letter.group()!r} in '...{around}...': partners see their names, so write "
            f"{instead}"
        )
    return text


def with_names(text: str, names: Mapping[str, str]) -> str:
    """Content text with its placeholders replaced by names, in one pass (a name that holds '{b}' stays as
    it was given). The names must already be safe for where the text is shown."""
    return _PLACEHOLDER.sub(lambda found: names[found.group(1)], text)


class Turn(_Content):
    """One turn of a guided conversation."""

    speaker: Literal["A", "B"]
    prompt: Text
    listener: Text

    @field_validator("prompt", "listener")
    @classmethod
    def _names_not_letters(cls, text: str) -> str:
        return check_names(text, TURN_PLACEHOLDERS)

    def names(self, a: str, b: str) -> dict[str, str]:
        """Every placeholder of this turn's text with its name, given the names of parts A and B."""
        speaker, listener = (a, b) if self.speaker == "A" else (b, a)
        return {"a": a, "b": b, "speaker": speaker, "listener": listener}


class ConversationExercise(_Content):
    """Done together, with speaker and listener turns shown on screen."""

    kind: Literal["conversation"]
    key: Key
    title: Text
    minutes: Annotated[int, Field(gt=0, le=120)]
    intro: Text
    rules: Annotated[list[Text], Field(min_length=1)]
    turns: Annotated[list[Turn], Field(min_length=2)]
    closing: Text
    # A conversation that waits for another day: this one opens the day after that one (a conversation of
    # the same stage, earlier in it) is marked done, so each gets its own day.
    another_day_after: Key | None = None

    @field_validator("title")
    @classmethod
    def _title_without_letters(cls, text: str) -> str:
        return check_names(text, ())

    @field_validator("intro", "closing")
    @classmethod
    def _names_not_letters(cls, text: str) -> str:
        return check_names(text, COUPLE_PLACEHOLDERS)

    @field_validator("rules")
    @classmethod
    def _rules_name_no_letters(cls, rules: list[str]) -> list[str]:
        for number, rule in enumerate(rules, start=1):
            try:
                check_names(rule, COUPLE_PLACEHOLDERS)
            except ValueError as error:
                raise ValueError(f"rule {number}: {error}") from None
        return rules

    @model_validator(mode="after")
    def _both_speak(self) -> ConversationExercise:
        if {turn.speaker for turn in self.turns} != {"A", "B"}:
            raise ValueError("both partners (A and B) need at least one turn as speaker")
        return self


class LogField(_Content):
    """One thing noted in a practice log entry."""

    key: Key
    label: Text
    type: Literal["text", "rating", "yesno"]


class PracticeLogExercise(_Content):
    """Kept through the week: a short entry per day."""

    kind: Literal["practice_log"]
    key: Key
    title: Text
    intro: Text
    days: Annotated[int, Field(gt=0, le=14)]
    fields: Annotated[list[LogField], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_fields(self) -> PracticeLogExercise:
        _unique("fields", [f.key for f in self.fields])
        return self


Exercise = Annotated[
    ReflectionExercise | ConversationExercise | PracticeLogExercise, Field(discriminator="kind")
]


class Homework(_Content):
    """What to do before the next stage, due some days after the stage opens."""

    title: Text
    instructions: Text
    due_days: Annotated[int, Field(gt=0, le=28)]


class Stage(_Content):
    """One skill stage: overview, exercises of each kind, homework, and a check at its start and end."""

    key: Literal["communication", "conflict", "trust", "connection"]
    order: Annotated[int, Field(ge=1, le=4)]
    title: Text
    summary: Text
    check: Key
    overview: Overview
    exercises: Annotated[list[Exercise], Field(min_length=3)]
    homework: Homework

    @model_validator(mode="after")
    def _one_of_each_kind(self) -> Stage:
        _unique("exercises", [e.key for e in self.exercises])
        missing = {"reflection", "conversation", "practice_log"} - {e.kind for e in self.exercises}
        if missing:
            raise ValueError(f"a stage needs at least one exercise of each kind; missing {sorted(missing)}")
        earlier: set[str] = set()
        for exercise in self.exercises:
            if isinstance(exercise, ConversationExercise):
                if exercise.another_day_after is not None and exercise.another_day_after not in earlier:
                    raise ValueError(
                        f"exercise {exercise.key!r}: another_day_after names {exercise.another_day_after!r}, "
                        "which is not a conversation earlier in this stage"
                    )
                earlier.add(exercise.key)
        return self

    def exercise(self, key: str) -> ReflectionExercise | ConversationExercise | PracticeLogExercise:
        """One exercise by key."""
        return next(e for e in self.exercises if e.key == key)


# ---- assessment, safety, check-in -----------------------------------------------------------------


class AssessmentOverview(Overview):
    """The assessment's overview names its questionnaire."""

    questionnaire: Key


class PromptSet(_Content):
    """An introduction and prompts for naming goals or strengths."""

    intro: Text
    prompts: Annotated[list[Text], Field(min_length=1)]


class Assessment(_Content):
    """The first stage: the baseline questionnaire, goals, strengths (and the private safety screen)."""

    key: Literal["assessment"]
    title: Text
    summary: Text
    overview: AssessmentOverview
    goals: PromptSet
    strengths: PromptSet


class SafetyScale(_Content):
    """How often, as a list of options (answers are their indexes)."""

    options: Annotated[list[Text], Field(min_length=2)]


class SafetyItem(_Content):
    """One safety question and the answer from which it flags the screen."""

    key: Key
    text: Text
    flag_at: Annotated[int, Field(ge=0)]
    # Asked again, in the short form, at the start of each stage.
    short: bool = False


class SafetyGuidance(_Content):
    """What a person sees after the screen, privately."""

    flagged_title: Text
    flagged: Text
    clear: Text
    crisis: Text


class Resource(_Content):
    """A place to get help; an operator can replace the list with local services."""

    name: Text
    detail: Text


class ResourceList(_Content):
    """safety-resources.toml: where to get help, shown after a flagged screen. Operators localise it by
    putting their own file of the same name in the data folder."""

    note: Text
    resources: Annotated[list[Resource], Field(min_length=1)]


class SafetyScreen(_Content):
    """The private safety screen."""

    key: Literal["safety"]
    title: Text
    intro: Text
    scale: SafetyScale
    items: Annotated[list[SafetyItem], Field(min_length=1)]
    guidance: SafetyGuidance
    # From safety-resources.toml (the operator's copy in the data folder, if there is one).
    resources: list[Resource] = []
    resources_note: str = ""

    @model_validator(mode="after")
    def _flags_in_range(self) -> SafetyScreen:
        _unique("items", [i.key for i in self.items])
        for item in self.items:
            if item.flag_at >= len(self.scale.options):
                raise ValueError(f"item {item.key!r}: flag_at {item.flag_at} is past the last option")
        if not any(item.short for item in self.items):
            raise ValueError("mark at least one item short = true: the short form asks those")
        return self

    def items_for(self, form: str) -> list[SafetyItem]:
        """The items of the full form, or of the short form asked at the start of each stage."""
        return [item for item in self.items if form == "full" or item.short]


class Rating(_Content):
    """One 0-10 check-in rating and its anchors."""

    key: Literal["closeness", "communication", "conflict", "trust", "overall"]
    label: Text
    low: Text
    high: Text


class IntimacyRating(_Content):
    """The check-in's optional 0-10 intimacy rating: off until turned on, private unless shared."""

    toggle: Text
    toggle_help: Text
    label: Text
    low: Text
    high: Text
    sharing_label: Text


class CheckinForm(_Content):
    """The weekly check-in."""

    key: Literal["checkin"]
    title: Text
    intro: Text
    note_prompt: Text
    note_help: Text
    ratings: list[Rating]
    intimacy: IntimacyRating

    @model_validator(mode="after")
    def _all_five(self) -> CheckinForm:
        if sorted(r.key for r in self.ratings) != sorted(CHECKIN_KEYS):
            raise ValueError(f"ratings must be exactly {', '.join(CHECKIN_KEYS)}")
        return self


# ---- the whole program ----------------------------------------------------------------------------


class Program(_Content):
    """Everything a couple works through, validated as a whole."""

    assessment: Assessment
    stages: list[Stage]
    instruments: dict[str, Instrument]
    extra_instruments: tuple[str, ...]  # added by the operator, offered on the Questionnaires page
    safety: SafetyScreen
    checkin: CheckinForm

    @model_validator(mode="after")
    def _references_resolve(self) -> Program:
        if [s.key for s in self.stages] != list(STAGE_KEYS) or [s.order for s in self.stages] != [1, 2, 3, 4]:
            raise ValueError(f"stages must be {', '.join(STAGE_KEYS)} with order 1 to 4")
        for owner, key in [("assessment", self.assessment.overview.questionnaire)] + [
            (f"stage {s.key}", s.check) for s in self.stages
        ]:
            if key not in self.instruments:
                raise ValueError(f"{owner} names instrument {key!r}, which no file in instruments/ declares")
        return self

    @cached_property
    def stage_by_key(self) -> dict[str, Stage]:
        """Stages by key."""
        return {stage.key: stage for stage in self.stages}

    def stage_after(self, key: str) -> Stage | None:
        """The stage that follows this one (None after the last)."""
        keys = ["assessment", *STAGE_KEYS]
        following = keys.index(key) + 1
        return self.stages[following - 1] if following < len(keys) else None


def _unique(what: str, keys: list[str]) -> None:
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise ValueError(f"{what} keys must be unique; repeated: {', '.join(duplicates)}")


def _shown(path: Path, folder: Path) -> str:
    """A file's name for messages: relative to its folder, so partners who see a content error never
    learn the server's paths (and the operator still finds the file)."""
    return f"{folder.name}/{path.relative_to(folder).as_posix()}"


def _read(path: Path, shown: str) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as error:
        raise ContentError(f"{shown}: file is missing") from error
    except tomllib.TOMLDecodeError as error:
        raise ContentError(f"{shown}: not valid TOML: {error}") from error


def read_content(model: type[ModelT], path: Path, shown: str | None = None) -> ModelT:
    """One content file, read and validated: the one loader of every TOML file Kindred ships or an
    operator adds. ContentError names the file (as `shown`, by default its name) and each broken field."""
    shown = shown or path.name
    try:
        return model.model_validate(_read(path, shown))
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or '(file)'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in error.errors()
        )
        raise ContentError(f"{shown}: {problems}") from error


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


KeyedT = TypeVar("KeyedT", bound=_Keyed)


def exactly_in_order(items: list[KeyedT], keys: tuple[str, ...]) -> list[KeyedT]:
    """A content list's check, for a field validator: the items are exactly these keys, in this order (the
    code names each one, so a missing, extra or moved item is refused while loading)."""
    if tuple(item.key for item in items) != keys:
        raise ValueError(f"must be exactly {', '.join(keys)}, in that order")
    return items


def _parse(model: type[ModelT], path: Path, folder: Path) -> ModelT:
    return read_content(model, path, _shown(path, folder))


def load_instruments(folder: Path, *, root: Path | None = None) -> dict[str, Instrument]:
    """Every instrument file in a folder, keyed by instrument key (which must match the file name).
    Messages name files relative to root (default: the folder itself)."""
    root = root or folder
    found: dict[str, Instrument] = {}
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        instrument = _parse(Instrument, path, root)
        if instrument.key != path.stem:
            raise ContentError(
                f"{_shown(path, root)}: key: {instrument.key!r} must match the file name {path.stem!r}"
            )
        found[instrument.key] = instrument
    return found


RESOURCES_FILE = "safety-resources.toml"


def load_resources(content_dir: Path, operator_dir: Path | None) -> ResourceList:
    """The help resources: the operator's localised file in the data folder if present, else Kindred's."""
    if operator_dir is not None and (operator_dir / RESOURCES_FILE).is_file():
        return _parse(ResourceList, operator_dir / RESOURCES_FILE, operator_dir)
    return _parse(ResourceList, content_dir / RESOURCES_FILE, content_dir)


def load_program(
    content_dir: Path = CONTENT_DIR,
    operator_instruments: Path | None = None,
    operator_dir: Path | None = None,
) -> Program:
    """Read and validate all content; raise ContentError naming the first broken file and field.
    operator_dir is the data folder, where an operator may put a localised safety-resources.toml."""
    shipped = load_instruments(content_dir / "instruments", root=content_dir)
    extra = load_instruments(operator_instruments) if operator_instruments else {}
    clashes = sorted(set(shipped) & set(extra))
    if clashes and operator_instruments is not None:
        path = operator_instruments / f"{clashes[0]}.toml"
        raise ContentError(
            f"{_shown(path, operator_instruments)}: key: {clashes[0]!r} is already one of Kindred's own "
            "instruments; rename it"
        )
    instruments = {**shipped, **extra}
    stage_files = sorted((content_dir / "stages").glob("*.toml"))
    stages = [_parse(Stage, path, content_dir) for path in stage_files]
    assessment_file = content_dir / "assessment.toml"
    assessment = _parse(Assessment, assessment_file, content_dir)
    # Cross-file references, checked here so the message can name the file and field that refer.
    references = [(assessment_file, "overview.questionnaire", assessment.overview.questionnaire)]
    references += [(path, "check", stage.check) for path, stage in zip(stage_files, stages, strict=True)]
    for path, field_name, key in references:
        if key not in instruments:
            raise ContentError(
                f"{_shown(path, content_dir)}: {field_name}: names instrument {key!r}, but no instruments/ "
                "file declares it"
            )
    help_list = load_resources(content_dir, operator_dir)
    try:
        return Program(
            assessment=assessment,
            stages=sorted(stages, key=lambda stage: stage.order),
            instruments=instruments,
            extra_instruments=tuple(sorted(extra)),
            safety=_parse(SafetyScreen, content_dir / "safety.toml", content_dir).model_copy(
                update={"resources": help_list.resources, "resources_note": help_list.note}
            ),
            checkin=_parse(CheckinForm, content_dir / "checkin.toml", content_dir),
        )
    except ValidationError as error:
        raise ContentError(f"{content_dir.name}/: {error.errors()[0]['msg']}") from error
