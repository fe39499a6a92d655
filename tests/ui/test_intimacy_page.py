"""The intimacy module in the app: offered on the home page after the last stage, in the menu only once
both chose it, the same words whatever the partner did, and only the common wishes shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from program.course import intimacy
from program.infra.models import Role
from program.infra.settings import CONTENT_DIR
from program.privacy.viewer import Viewer
from program.ui import intimacy as page
from tests.course.test_intimacy import ITEMS, choose, finish_program, mark
from tests.factories import make_couple, make_person
from tests.ui.helpers import app, as_viewer, texts

TEXT = intimacy.content()


def _menu(at: AppTest) -> set[str]:
    return {link.proto.label for link in at.sidebar.get("page_link")}


def _couple(engine: Engine, suffix: str = "") -> tuple[Viewer, Viewer]:
    ana = make_person(engine, f"ana{suffix}", name="Ana")
    ben = make_person(engine, f"ben{suffix}", name="Ben")
    make_couple(engine, ana, ben)
    finish_program(engine, ana)
    finish_program(engine, ben)
    return ana, ben


def _choose_on_home(engine: Engine, viewer: Viewer, answer: str) -> AppTest:
    at = as_viewer(app(), viewer, engine).run()
    at.radio(key="intimacy_choice_answer").set_value(answer)
    at = at.button(key="FormSubmitter:intimacy_choice-" + page.SAVE_CHOICE).click().run()
    assert not at.exception
    return at


def test_home_offers_the_module_only_after_the_last_stage(app_env: Engine) -> None:
    """Before finishing Staying close nothing is offered; after, the offer in our words and the choice."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    at = as_viewer(app(), ana, app_env).run()
    assert TEXT.offer not in texts(at) and "Intimacy" not in _menu(at)
    finish_program(app_env, ana)
    at = as_viewer(app(), ana, app_env).run()
    assert not at.exception
    assert TEXT.offer in texts(at)
    assert at.radio(key="intimacy_choice_answer").value is None
    assert "Intimacy" not in _menu(at)


def test_ana_sees_the_same_whether_ben_said_no_or_nothing(app_env: Engine) -> None:
    """Ana's confirmation, home page and menu read identically when Ben said no, said nothing, or said
    yes and then no."""
    seen: list[tuple[str, set[str], str | None]] = []
    for number, ben_does in enumerate(("nothing", "no", "yes then no")):
        ana, ben = _couple(app_env, str(number))
        at = _choose_on_home(app_env, ana, "yes")
        assert page.SAVED_CLOSED in texts(at)
        if ben_does == "yes then no":
            choose(app_env, ben, True)
            assert "Intimacy" in _menu(as_viewer(app(), ana, app_env).run())
        if ben_does != "nothing":
            choose(app_env, ben, False)
        at = as_viewer(app(), ana, app_env).run()
        seen.append((texts(at), _menu(at), at.radio(key="intimacy_choice_answer").value))
    assert seen[0] == seen[1] == seen[2]
    assert "Intimacy" not in seen[0][1]
    assert "opens when you both choose it" in seen[0][0]


def test_both_yes_opens_the_page_and_the_menu_entry(app_env: Engine) -> None:
    """Ben's yes after Ana's opens it: his confirmation says so, the menu lists Intimacy for both, and the
    page holds the reading, every touch step with its opt-out, and the wishes list."""
    ana, ben = _couple(app_env)
    choose(app_env, ana, True)
    at = _choose_on_home(app_env, ben, "yes")
    assert page.SAVED_OPEN in texts(at)
    for viewer in (ana, ben):
        assert "Intimacy" in _menu(as_viewer(app(), viewer, app_env).run())
    at = as_viewer(app("pages/intimacy.py"), ana, app_env).run()
    assert not at.exception
    assert at.title[0].value == "Intimacy"
    shown = texts(at)
    assert all(section.title in shown for section in TEXT.sections)
    assert shown.count("You can stop here, and that is fine.") == len(TEXT.touch.steps)
    assert len([r for r in at.radio if r.key and r.key.startswith("intimacy_wish_")]) == len(ITEMS)
    assert page.COMMON_WAITING in shown


def test_the_common_list_shows_only_what_both_chose(app_env: Engine) -> None:
    """Marked on the page and finished by both: each sees the two shared ideas, not the one Ben marked no,
    not Ana's own maybe that Ben did not share, and no word of who chose which."""
    ana, ben = _couple(app_env)
    choose(app_env, ana, True)
    choose(app_env, ben, True)
    a, b, c, d = ITEMS[:4]
    mark(app_env, ben, {a: "maybe", b: "yes", c: "no"}, done=True)
    at = as_viewer(app("pages/intimacy.py"), ana, app_env).run()
    for item, value in ((a, "yes"), (b, "maybe"), (c, "yes"), (d, "maybe")):
        at.radio(key=f"intimacy_wish_{item}").set_value(value)
    at = at.button(key="FormSubmitter:intimacy_wishes-" + page.FINISH).click().run()
    assert not at.exception
    assert page.FINISHED in texts(at)
    for viewer in (ana, ben):
        at = as_viewer(app("pages/intimacy.py"), viewer, app_env).run()
        common = [m.value for m in at.markdown if m.value.startswith("- ")]
        assert common == [f"- {TEXT.wish_text(a)}\n- {TEXT.wish_text(b)}"]
    assert at.radio(key=f"intimacy_wish_{c}").value == "no"  # Ben's own marks, to Ben only


def test_not_offered_page_and_a_therapist_are_refused(app_env: Engine) -> None:
    """Opened directly before the last stage, the page says when it is offered and shows no choice; a
    therapist running it is told it is not part of their account."""
    ana, ben = make_person(app_env, "ana"), make_person(app_env, "ben")
    make_couple(app_env, ana, ben)
    at = as_viewer(app("pages/intimacy.py"), ana, app_env).run()
    assert TEXT.not_yet in texts(at)
    assert not [r for r in at.radio if r.key == "intimacy_choice_answer"]
    kim = make_person(app_env, "dr.kim", Role.THERAPIST)
    at = as_viewer(app("pages/intimacy.py"), kim, app_env).run()
    assert "isn't part of your account" in at.error[0].value


def test_a_broken_content_file_is_named_not_a_traceback(
    app_env: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A wishes list cut to five ideas stops the page with the file and field named, no traceback."""
    source = (CONTENT_DIR / "intimacy.toml").read_text()
    head, *items = source.split("[[wishes.items]]")
    broken = tmp_path / "content" / "intimacy.toml"
    broken.parent.mkdir()
    broken.write_text(head + "[[wishes.items]]".join(["", *items[:5]]))
    monkeypatch.setattr(intimacy, "content", lambda: intimacy.load_content(broken))
    ana, _ = _couple(app_env)
    at = as_viewer(app("pages/intimacy.py"), ana, app_env).run()
    assert not at.exception
    assert "content/intimacy.toml: wishes.items" in at.error[0].value
