"""Solving one problem together on the Conflict page: a couple goes through it on their own screens, the
review shows up in both partners' "Due for you" exactly a week after they agreed, and everything typed
shows as text."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from program.course import problem_solving
from program.course.questionnaires import stage_occasion
from program.course.reminders import AGREEMENT_REVIEW
from program.infra.db import write_session
from program.infra.models import Agreement, StageOpening, utcnow
from program.privacy.viewer import Viewer
from program.ui.problem_solving import ADD_IDEA, AGREE, CHOOSE, PICK, SAVE_MATTERS, SEND_REVIEW
from program.ui.text import visible
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, answer_all
from tests.ui.helpers import app, as_viewer, texts
from tests.ui.test_hostile_strings import HOSTILE, unescaped

STAGE = PROGRAM.stage_by_key[problem_solving.STAGE]
HOSTILE_TEXT = " ".join(v for k, v in HOSTILE.items() if k != "long")
# Short enough for the one-line fields (the problem, an idea): 300 characters at most.
SHORT_HOSTILE = " ".join(HOSTILE[k] for k in ("image", "html link", "directives", "math", "controls"))


def _couple(engine: Engine) -> tuple[Viewer, Viewer, int]:
    """Ana and Ben, the Conflict stage open and both past its start check."""
    ana, ben = make_person(engine, "ana", name="Ana"), make_person(engine, "ben", name="Ben")
    couple_id = make_couple(engine, ana, ben)
    with write_session(engine) as session:
        session.add(StageOpening(couple_id=couple_id, stage=STAGE.key))
    for partner in (ana, ben):
        answer_all(engine, partner, STAGE.check, stage_occasion(STAGE.key, "start"), 4, now=utcnow())
    return ana, ben, couple_id


def _page(engine: Engine, viewer: Viewer, page: str = "conflict") -> AppTest:
    at = as_viewer(app(f"pages/{page}.py"), viewer, engine).run()
    assert not at.exception
    return at


def _submit(at: AppTest, form: str, label: str) -> AppTest:
    at = at.button(key=f"FormSubmitter:{form}-{label}").click().run()
    assert not at.exception and not at.error
    return at


def _area(at: AppTest, label: str, value: str) -> None:
    [box] = [t for t in at.text_area if t.label == label]
    box.input(value)


def _agree(engine: Engine, ana: Viewer, ben: Viewer, text: str = "ok", *, at: object = None) -> int:
    """Through the sequence in the domain, agreed at `at` (default now)."""
    now = utcnow()

    def do(action: str, viewer: Viewer, **kwargs: object) -> object:
        with write_session(engine) as session:
            return getattr(problem_solving, action)(
                session=session, viewer=viewer, program=PROGRAM, now=now, **kwargs
            )

    short = text[:280]
    agreement_id = do("start", ana, issue=f"Issue {short}")
    assert isinstance(agreement_id, int)
    do("write_matters", ana, text=f"Ana {text}")
    do("write_matters", ben, text=f"Ben {text}")
    do("add_option", ben, text=f"Option {short}")
    do("choose", ana, option=f"Option {short}", who_does_what=f"Plan {text}", by_when=now.date())
    plan = (f"Option {short}", f"Plan {text}", now.date())
    do("confirm", ana, agreement_id=agreement_id, plan=plan)
    do("confirm", ben, agreement_id=agreement_id, plan=plan)
    if at is not None:
        with write_session(engine) as session:
            row = session.get(Agreement, agreement_id)
            assert row is not None
            row.agreed_at = at  # type: ignore[assignment]
            session.add(row)
    return agreement_id


def _due_links(at: AppTest) -> str:
    """The home page's "Due for you" and what follows (a page file run on its own draws links as text)."""
    assert not at.exception
    return texts(at).split("Due for you", 1)[1]


def test_a_couple_solves_one_problem_on_the_conflict_page(app_env: Engine) -> None:
    """Ana picks a problem and writes what matters; Ben sees that she wrote, not what; once he wrote they
    read each other's; ideas, a plan, and both confirm it on their own screens."""
    ana, ben, _ = _couple(app_env)
    at = _page(app_env, ana)
    [issue_box] = [t for t in at.text_input if t.label == "The problem, in one sentence"]
    issue_box.input("Who takes the bins out")
    at = _submit(at, "problem_solving_issue", PICK)
    assert "Who takes the bins out" in texts(at)
    with write_session(app_env) as session:
        agreement = session.exec(select(Agreement.id)).one()
    form = f"problem_solving_matters_{agreement}"
    _area(at, "What matters to me about this, and why", "Not being the one who always remembers")
    at = _submit(at, form, SAVE_MATTERS)
    assert not at.error

    at = _page(app_env, ben)
    assert "Ana has written theirs. You'll read it once you have written yours." in texts(at)
    assert "always remembers" not in texts(at)
    _area(at, "What matters to me about this, and why", "Quiet Sunday evenings")
    at = _submit(at, form, SAVE_MATTERS)
    assert "Not being the one who always remembers" in texts(at)
    [idea] = [t for t in at.text_input if t.label == "An idea"]
    idea.input("Take turns week by week")
    at = _submit(at, f"problem_solving_option_{agreement}", ADD_IDEA)
    assert "Take turns week by week" in texts(at)

    at = _page(app_env, ana)
    assert "Quiet Sunday evenings" in texts(at)
    _area(at, "Who does what", "Ben on even weeks, Ana on odd ones")
    at = _submit(at, f"problem_solving_plan_{agreement}", CHOOSE)
    assert "Change the plan" in [e.label for e in at.expander]  # until both confirmed
    at = at.button(key=f"problem_solving_confirm_{agreement}").click().run()
    assert not at.exception
    assert "You have confirmed this plan." in texts(at)
    assert "Ben hasn't confirmed this plan yet." in texts(at)

    at = _page(app_env, ben)
    assert "Ben on even weeks, Ana on odd ones" in texts(at)
    at = [b for b in at.button if b.label == AGREE][0].click().run()
    assert "You both agreed to try this" in texts(at)
    assert "Your look back comes due on" in texts(at)


def test_the_review_is_due_in_both_panels_seven_days_after_agreeing_not_six(app_env: Engine) -> None:
    """Six days after agreeing, neither home page lists the look back; at seven both do, and once Ana has
    sent hers it leaves her list and stays on Ben's."""
    ana, ben, _ = _couple(app_env)
    agreement_id = _agree(app_env, ana, ben, at=utcnow() - timedelta(days=6, hours=23))
    for partner in (ana, ben):
        assert AGREEMENT_REVIEW.text not in _due_links(_page(app_env, partner, "home"))
    with write_session(app_env) as session:
        row = session.get(Agreement, agreement_id)
        assert row is not None
        row.agreed_at = utcnow() - timedelta(days=7, minutes=1)
        session.add(row)
    for partner in (ana, ben):
        assert AGREEMENT_REVIEW.text in _due_links(_page(app_env, partner, "home"))

    at = _page(app_env, ana)
    at.slider[-1].set_value(8)
    _area(at, "What to keep, and what to change", "Keep the turns")
    at = _submit(at, f"problem_solving_review_{agreement_id}", SEND_REVIEW)
    assert "You'll read Ben's once they have sent theirs." in texts(at)
    assert AGREEMENT_REVIEW.text not in _due_links(_page(app_env, ana, "home"))
    ben_page = _page(app_env, ben)
    assert "Ana has sent theirs. You'll read it once you have sent yours." in texts(ben_page)
    assert "Keep the turns" not in texts(ben_page)
    assert AGREEMENT_REVIEW.text in _due_links(_page(app_env, ben, "home"))


def test_everything_typed_shows_as_text(app_env: Engine) -> None:
    """The problem, what matters, ideas, the plan and both reviews made of hostile strings: shown as typed,
    never as Markdown or HTML, while brainstorming, at the review and among past agreements."""
    ana, ben, _ = _couple(app_env)
    now = utcnow()

    def do(action: str, viewer: Viewer, **kwargs: object) -> object:
        with write_session(app_env) as session:
            return getattr(problem_solving, action)(
                session=session, viewer=viewer, program=PROGRAM, now=now, **kwargs
            )

    assert len(SHORT_HOSTILE) < 280
    agreement_id = do("start", ana, issue=f"Issue {SHORT_HOSTILE}")
    do("write_matters", ana, text=f"Ana {HOSTILE_TEXT}")
    do("write_matters", ben, text=f"Ben {HOSTILE_TEXT}")
    do("add_option", ana, text=f"Option {SHORT_HOSTILE}")
    at = _page(app_env, ben)  # brainstorming: the list of ideas and the choice among them
    assert unescaped(at) == []
    for shown in (f"Issue {SHORT_HOSTILE}", f"Option {SHORT_HOSTILE}", f"Ana {HOSTILE_TEXT}"):
        assert visible(shown) in texts(at)

    do(
        "choose",
        ana,
        option=f"Option {SHORT_HOSTILE}",
        who_does_what=f"Plan {HOSTILE_TEXT}",
        by_when=now.date(),
    )
    plan = (f"Option {SHORT_HOSTILE}", f"Plan {HOSTILE_TEXT}", now.date())
    do("confirm", ana, agreement_id=agreement_id, plan=plan)
    do("confirm", ben, agreement_id=agreement_id, plan=plan)
    with write_session(app_env) as session:
        row = session.exec(select(Agreement)).one()
        row.agreed_at = now - timedelta(days=8)
        session.add(row)
    do("review", ana, agreement_id=agreement_id, rating=5, note=f"Review {HOSTILE_TEXT}")
    at = _page(app_env, ana)  # her own review, the plan
    assert unescaped(at) == []
    assert visible(f"Review {HOSTILE_TEXT}") in texts(at) and visible(f"Plan {HOSTILE_TEXT}") in texts(at)
    do("review", ben, agreement_id=agreement_id, rating=5, note=f"Ben says {HOSTILE_TEXT}")
    at = _page(app_env, ana)  # now among the past agreements, with Ben's review
    assert unescaped(at) == []
    assert visible(f"Ben says {HOSTILE_TEXT}") in texts(at)


def test_a_plan_waiting_since_its_day_passed_still_draws(app_env: Engine) -> None:
    """A plan chosen for a day now past, not yet confirmed by both: the page still draws, with the form
    to change it (its day box starting today)."""
    ana, ben, _ = _couple(app_env)
    now = utcnow()
    with write_session(app_env) as session:
        agreement_id = problem_solving.start(
            session=session, viewer=ana, program=PROGRAM, issue="Bins", now=now
        )
        for partner in (ana, ben):
            problem_solving.write_matters(session=session, viewer=partner, program=PROGRAM, text="x", now=now)
        problem_solving.add_option(session=session, viewer=ana, program=PROGRAM, text="Turns", now=now)
        problem_solving.choose(
            session=session, viewer=ana, program=PROGRAM, option="Turns", who_does_what="Both",
            by_when=now.date(), now=now,
        )  # fmt: skip
        row = session.get(Agreement, agreement_id)
        assert row is not None
        row.by_when = now.date() - timedelta(days=3)
        session.add(row)
    at = _page(app_env, ben)
    assert "Change the plan" in [e.label for e in at.expander]
    shown = at.date_input[0].value
    assert isinstance(shown, date) and shown >= now.date() - timedelta(days=1)  # today, on the person's clock
