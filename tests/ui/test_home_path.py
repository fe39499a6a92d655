"""The partner home as a path: where the couple is, what waits on whom, the one next step; and a menu
whose names are the page titles, with locked stages marked."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from program.infra.models import Role
from program.privacy.viewer import Viewer
from program.ui.navigation import LOCKED_SUFFIX, PARTNER_PAGES, THERAPIST_PAGES
from tests.factories import make_couple, make_person
from tests.program_helpers import PROGRAM, finish_assessment
from tests.ui.helpers import app, as_viewer, texts
from tests.ui.test_hostile_strings import HOSTILE, _rename, unescaped

STAGES = ["Assessment", "Talking and listening", "Handling disagreements", "Building trust", "Staying close"]


def _home(engine: Engine, viewer: Viewer) -> AppTest:
    """The home page through app.py, as after logging in (its links point into app.py's navigation)."""
    at = as_viewer(app(), viewer, engine).run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Home"
    return at


def _path(at: AppTest) -> dict[str, str]:
    """Each stage on the path and its state in words, as the cards say it ("1. Assessment" -> "Open")."""
    cards = [m.value for m in at.markdown if "** · " in m.value]
    return {card.split("**")[1].split(". ", 1)[1]: card.rsplit(" · ", 1)[1] for card in cards}


def _links(at: AppTest, where: str = "main") -> dict[str, str]:
    """The page links shown (label -> the page's URL path; the default page's is empty)."""
    tree = at.main if where == "main" else at.sidebar
    return {link.proto.label: link.proto.page for link in tree.get("page_link")}


def _next(at: AppTest) -> tuple[str, str]:
    [(label, page)] = [(label, page) for label, page in _links(at).items() if label.startswith("Next: ")]
    return label, page


def test_a_fresh_solo_person_starts_with_the_assessment_and_sees_the_rest_locked(app_env: Engine) -> None:
    """No couple yet: the assessment is open, the four skill stages locked with the reason in words, and
    the one next step is the assessment questionnaire."""
    ana = make_person(app_env, "ana", name="Ana")
    at = _home(app_env, ana)
    assert _path(at) == dict.fromkeys(STAGES, "Open") | dict.fromkeys(STAGES[1:], "Locked")
    assert texts(at).count("This stage opens once your partner has joined you") == 4
    assert _next(at) == ("Next: Answer the assessment questionnaire", "assessment")
    assert "Start or join your couple on your account page" in texts(at)
    assert "Waiting on" not in texts(at)


def test_a_couple_whose_partner_has_not_joined_is_waiting_for_them(app_env: Engine) -> None:
    """A couple started alone: the home says the partner hasn't joined and that the code brings them in."""
    ana = make_person(app_env, "ana", name="Ana")
    make_couple(app_env, ana)
    finish_assessment(app_env, ana)
    at = _home(app_env, ana)
    assert _path(at)["Assessment"] == "Done"
    assert "Waiting on your partner" in [h.value for h in at.subheader]
    assert "give them the code from your account page" in texts(at)
    assert _next(at) == ("Next: Give your partner your code", "account")


def test_when_only_ana_has_sent_the_assessment_she_is_waiting_on_ben(app_env: Engine) -> None:
    """Ana finished her half: the assessment stays open, the next stage locked, and her home says what
    Ben still has to do (only that; none of his answers), with Ben marked where he is."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    finish_assessment(app_env, ana)
    at = _home(app_env, ana)
    assert _path(at)["Assessment"] == "Open"
    assert _path(at)["Talking and listening"] == "Locked"
    assert "Waiting on Ben" in [h.value for h in at.subheader]
    assert (
        "Ben still has to finish their half of the assessment; then Talking and listening opens for you both."
        in texts(at)
    )
    assert "You: finished" in texts(at) and "Ben: here now" in texts(at)
    # Ben, for his part, is waiting on no one and is pointed at his own questionnaire.
    ben_home = _home(app_env, ben)
    assert "Waiting on" not in texts(ben_home)
    assert _next(ben_home) == ("Next: Answer the assessment questionnaire", "assessment")


def test_after_both_send_the_assessment_the_first_skill_stage_is_open_and_next(app_env: Engine) -> None:
    """Both finished the assessment: it shows as done, Talking and listening opens, the next step points
    there, and its menu entry is no longer marked locked while the later stages still are."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    finish_assessment(app_env, ana)
    finish_assessment(app_env, ben)
    at = _home(app_env, ana)
    assert _path(at) == {
        "Assessment": "Done",
        "Talking and listening": "Open",
        "Handling disagreements": "Locked",
        "Building trust": "Locked",
        "Staying close": "Locked",
    }
    assert "You and Ben have both finished it." in texts(at)
    assert "You: here now" in texts(at) and "Ben: here now" in texts(at)
    assert _next(at) == ("Next: Talking and listening: take the short start check", "communication")
    menu = _links(at, "sidebar")
    assert "Talking and listening" in menu
    assert "Handling disagreements" + LOCKED_SUFFIX in menu
    assert "Waiting on" not in texts(at)


def test_the_menu_marks_locked_stages_and_keeps_them_reachable(app_env: Engine) -> None:
    """A fresh person's menu says which stages are locked, in words, and still links to each."""
    ana = make_person(app_env, "ana", name="Ana")
    menu = _links(_home(app_env, ana), "sidebar")
    assert menu == {
        (title + LOCKED_SUFFIX if url in ("communication", "conflict", "trust", "connection") else title): (
            "" if url == "home" else url
        )
        for _, title, _, url in PARTNER_PAGES
        if (url != "questionnaires" or PROGRAM.extra_instruments)
        and url not in ("keeping", "intimacy")  # listed only once open (after the last stage; both chose it)
    }


def test_two_couples_ana_never_sees_the_other_couples_partner(app_env: Engine) -> None:
    """Ana's home names Ben and no one from Cai and Dee's couple, whatever they have done."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    cai, dee = make_person(app_env, "cai", name="Cai"), make_person(app_env, "dee", name="Dee")
    make_couple(app_env, ana, ben)
    make_couple(app_env, cai, dee)
    finish_assessment(app_env, ana)
    finish_assessment(app_env, cai)
    shown = texts(_home(app_env, ana))
    assert "Ben" in shown
    assert "Cai" not in shown and "Dee" not in shown


@pytest.mark.parametrize("name", [HOSTILE["image"], HOSTILE["directives"], HOSTILE["html link"]])
def test_a_hostile_partner_name_shows_as_typed_on_the_home_path(app_env: Engine, name: str) -> None:
    """Ben's name is text wherever the path shows it (his place, what Ana waits on him for, why a stage
    is closed), never Markdown or HTML."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    finish_assessment(app_env, ana)
    _rename(app_env, ben, name)
    at = _home(app_env, ana)
    assert unescaped(at) == []
    assert f"Waiting on {name}" in texts(at)
    assert f"{name}: here now" in texts(at)


def _page_title(engine: Engine, viewer: Viewer, path: str) -> str:
    at = as_viewer(app(path), viewer, engine).run()
    assert not at.exception, (path, at.exception)
    return str(at.title[0].value)


def test_every_menu_label_is_its_pages_title(app_env: Engine) -> None:
    """Each page's own title is exactly the name the menu gives it, for both roles."""
    ana = make_person(app_env, "ana", name="Ana")
    kim = make_person(app_env, "dr.kim", Role.THERAPIST, name="Kim")
    found = {
        (title, _page_title(app_env, viewer, path))
        for table, viewer in ((PARTNER_PAGES, ana), (THERAPIST_PAGES, kim))
        for path, title, _, url in table
        if url != "questionnaires" or PROGRAM.extra_instruments
    }
    assert {title for title, seen in found if title != seen} == set()
    assert ("Talking and listening", "Talking and listening") in found


@pytest.mark.parametrize("name", [HOSTILE["image"], HOSTILE["autolink"]])
def test_a_locked_stage_page_names_the_partner_as_typed(app_env: Engine, name: str) -> None:
    """The menu keeps a locked stage reachable; its page then says who still has to finish what, with
    Ben's name as text (an image in his name would be fetched by Ana's browser)."""
    ana, ben = make_person(app_env, "ana", name="Ana"), make_person(app_env, "ben", name="Ben")
    make_couple(app_env, ana, ben)
    _rename(app_env, ben, name)
    at = as_viewer(app("pages/communication.py"), ana, app_env).run()
    assert f"Still to finish it: you and {name}." in texts(at)
    assert unescaped(at) == []
