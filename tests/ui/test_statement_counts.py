"""No page reads more from the database as the server gains couples or a therapist's caseload grows.

Each page is run through app.py (menu included) as a partner and as their therapist, with the statements
of one warm rerun counted; then six more couples with full histories join the server (four of them in the
same therapist's caseload) and every page must make exactly as many statements as before.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import col, select
from streamlit.testing.v1 import AppTest

from program.infra.db import read_session
from program.infra.models import Couple, Person
from program.privacy.viewer import Viewer
from program.ui import navigation, runtime
from program.ui.therapist import PRESENTATION
from tests.therapist.test_caseload_queries import _caseload_of, _counting, grow_caseload
from tests.ui.helpers import app, as_viewer, open_couple

PARTNER_PAGES = [path for path, _title, _icon, url in navigation.PARTNER_PAGES if url != "questionnaires"]
# Listed once the partner finished the program, or both chose the module: the seeded couple has not.
UNLISTED = ("pages/keeping.py", "pages/intimacy.py")
THERAPIST_VIEWS = ("couples", "couple, presentation on", "couple, presentation off", "account")


def _statements(at: AppTest) -> int:
    at.run()  # warm: every cache filled by the runs before
    assert not at.exception, at.exception
    with _counting(runtime.engine()) as statements:
        at.run()
    assert not at.exception, at.exception
    return len(statements)


def _partner_counts(engine: Engine, partner: Viewer) -> dict[str, int]:
    counts = {}
    for page in PARTNER_PAGES:
        if page in UNLISTED:  # not in this partner's menu yet: opened by its address, as a deep link
            at = as_viewer(app(page), partner, engine)
        else:
            at = as_viewer(app(), partner, engine)
            at.run()
            at.switch_page(page)
        at.run()
        counts[page] = _statements(at)
    return counts


def _therapist_counts(engine: Engine, therapist: Viewer, couple_id: int) -> dict[str, int]:
    at = as_viewer(app(), therapist, engine)
    at.run()
    counts = {"couples": _statements(at)}
    open_couple(at, couple_id)
    counts["couple, presentation on"] = _statements(at)
    at.toggle(key=PRESENTATION).set_value(False).run()
    counts["couple, presentation off"] = _statements(at)
    at.switch_page("pages/account.py").run()
    counts["account"] = _statements(at)
    return counts


def test_no_page_reads_more_when_the_server_and_the_caseload_grow(app_env: Engine) -> None:
    therapist = _caseload_of(app_env, 2)
    with read_session(app_env) as session:
        partner = Viewer.of(session.exec(select(Person).where(Person.username == "p0a")).one())
        first_couple = session.exec(select(Couple.id).order_by(col(Couple.id))).first()
    assert first_couple is not None
    before = _partner_counts(app_env, partner) | _therapist_counts(app_env, therapist, first_couple)
    assert set(before) == set(PARTNER_PAGES) | set(THERAPIST_VIEWS)
    assert all(count > 0 for count in before.values()), before

    grow_caseload(app_env, therapist, 6)

    after = _partner_counts(app_env, partner) | _therapist_counts(app_env, therapist, first_couple)
    grew = {page: (before[page], after[page]) for page in before if after[page] != before[page]}
    assert not grew, f"statements per rerun (before, after six more couples): {grew}"
