"""The pages after Ben left and Ana paired with Cai: nothing of Ana and Ben's couple reaches Cai's screens."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from streamlit.testing.v1 import AppTest

from program.privacy.viewer import Viewer
from tests.privacy.test_former_couples import Story, _ana_ben_then_cai
from tests.program_helpers import PROGRAM
from tests.ui.helpers import app, as_viewer, texts

BASELINE = PROGRAM.assessment.overview.questionnaire


def _page(engine: Engine, viewer: Viewer, page: str) -> AppTest:
    at = as_viewer(app(f"pages/{page}.py"), viewer, engine).run()
    assert not at.exception
    return at


def _shown(at: AppTest) -> str:
    """The page's text as a reader sees it: Markdown escapes and invisible joiners taken out."""
    return texts(at).replace("\\", "").replace("\u2060", "")


def _everything(at: AppTest) -> str:
    """Text, tables and chart data of a page, to search for anything of the old couple."""
    tables = [str(d.value.to_dict("records")) for d in at.dataframe]
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    return "\n".join([_shown(at), *tables, *charts])


def test_cai_sees_none_of_anas_old_answers_beside_his(app_env: Engine) -> None:
    """On the assessment page Cai waits for Ana's answers in THEIR couple; no table of her old ones."""
    s: Story = _ana_ben_then_cai(app_env)
    at = _page(app_env, s.cai, "assessment")
    shown = _shown(at)
    assert "Your answers beside Ana's" not in shown
    assert "You'll see Ana's answers here once Ana has sent theirs too." in shown
    assert "Ana hasn't finished the assessment yet." in shown
    assert len(at.dataframe) == 1  # Cai's own scores only


def test_cai_sees_no_chart_caption_or_step_count_from_the_old_couple(app_env: Engine) -> None:
    """The progress page quotes no answer of Ana's and counts none of her steps with Ben."""
    s = _ana_ben_then_cai(app_env)
    at = _page(app_env, s.cai, "progress")
    shown = _everything(at)
    assert "Ana answered" not in shown
    assert "At the start, Ana scored" not in shown
    assert "Ana has done 0 of the program's" in shown
    assert "Ana's note about the old couple" not in shown
    stage_table = next(d.value for d in at.dataframe if "Steps done" in d.value.columns)
    assert set(stage_table[stage_table["Partner"] == "Ana"]["Steps done"]) == {0}


def test_cai_gets_no_finished_notices_about_the_old_couple(app_env: Engine) -> None:
    """The home page tells Cai nothing Ana finished with Ben."""
    s = _ana_ben_then_cai(app_env)
    shown = _shown(_page(app_env, s.cai, "home"))
    assert "Ana has finished" not in shown
    assert "You're doing Kindred together with **Ana**." in shown


def test_ana_takes_the_baseline_again_with_cai(app_env: Engine) -> None:
    """Ana's assessment page offers the questionnaire again, empty, instead of her answers about Ben."""
    s = _ana_ben_then_cai(app_env)
    at = _page(app_env, s.ana, "assessment")
    radios = [r for r in at.radio if r.key and r.key.startswith(f"q::{BASELINE}::")]
    assert len(radios) == len(PROGRAM.instruments[BASELINE].items)
    assert all(r.value is None for r in radios)
    shown = _shown(at)
    assert "Your answers are sent" not in shown
    assert "Your answers beside Cai's" not in shown
    assert "You have named your goals and strengths" not in shown


def test_ben_after_leaving_sees_nothing_of_either_couple(app_env: Engine) -> None:
    """Ben, couple-less, gets a fresh start: no charts, no old answers, no news of Ana."""
    s = _ana_ben_then_cai(app_env)
    progress_page = _page(app_env, s.ben, "progress")
    assert "once you and your partner are linked" in _shown(progress_page)
    assert not progress_page.get("plotly_chart")
    for page in ("home", "assessment"):
        shown = _everything(_page(app_env, s.ben, page))
        assert "Ana" not in shown and "Cai" not in shown
        assert "Your answers are sent" not in shown
