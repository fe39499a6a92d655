"""A renewed invite is still its maker's own code and leaves its row in the audit trail; the account page's
summary is the viewer's own and nobody else's. Written against the mutants that survived a mutation run of
program/privacy/couples.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from program.infra import codes, crypto
from program.infra.db import alembic_config, create_db_engine, read_session, write_session
from program.infra.models import AuditEvent, InviteCode, Person, Role
from program.privacy import couples
from program.privacy.access import AccessDenied
from program.privacy.couples import AccountSummary, CoupleError
from program.privacy.viewer import Viewer
from tests.factories import make_person

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _renewed(engine: Engine, ana: Viewer) -> couples.Invite:
    with write_session(engine) as session:
        couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    with write_session(engine) as session:
        return couples.renew_invite(session=session, viewer=ana, key=KEY, now=NOW + timedelta(days=1))


def test_a_renewed_code_is_still_its_makers_own(engine: Engine) -> None:
    """Ana renews her invite and types the new code herself by mistake: she is told it is her own code (her
    partner must enter it), and the code is kept for Ben."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    invite = _renewed(engine, ana)
    with pytest.raises(CoupleError, match="That is your own invite code"), write_session(engine) as session:
        couples.join_couple(
            session=session, viewer=ana, code=invite.code, key=KEY, now=NOW + timedelta(days=1)
        )
    with read_session(engine) as session:
        made_by = session.exec(
            select(InviteCode.created_by_id).where(col(InviteCode.used_at).is_(None))
        ).all()
    assert made_by == [ana.person_id]
    with write_session(engine) as session:
        couples.join_couple(
            session=session, viewer=ben, code=invite.code, key=KEY, now=NOW + timedelta(days=1)
        )


def test_renewing_an_invite_leaves_a_row_named_for_what_it_was(engine: Engine) -> None:
    """The trail says "couple.invite_renewed" for the renewal, after "couple.created", both by Ana."""
    ana = make_person(engine, "ana")
    _renewed(engine, ana)
    with read_session(engine) as session:
        rows = session.exec(
            select(AuditEvent.action, AuditEvent.actor_id)
            .where(col(AuditEvent.action).startswith("couple."))
            .order_by(col(AuditEvent.id))
        ).all()
    assert [tuple(r) for r in rows] == [
        ("couple.created", ana.person_id),
        ("couple.invite_renewed", ana.person_id),
    ]


def test_the_account_summary_is_the_viewers_own(engine: Engine) -> None:
    """Ana's account page shows her username, name, role and join date; Dr. Kim's shows his, never Ana's."""
    before = datetime.now(UTC)
    ana = make_person(engine, "ana", name="Ana Silva")
    kim = make_person(engine, "dr.kim", Role.THERAPIST, "Dr. Kim")
    after = datetime.now(UTC)
    with read_session(engine) as session:
        mine = couples.account_summary(session=session, viewer=ana)
        his = couples.account_summary(session=session, viewer=kim)
        joined = session.get(Person, ana.person_id)
        assert joined is not None
    assert mine == AccountSummary("ana", "Ana Silva", Role.PARTNER, joined.created_at)
    assert his.username == "dr.kim" and his.display_name == "Dr. Kim" and his.role == Role.THERAPIST
    assert before - timedelta(seconds=1) <= mine.member_since <= after + timedelta(seconds=1)


def test_a_deleted_account_has_no_summary(engine: Engine) -> None:
    """A page still open for an account that was removed is refused, not shown as someone else's."""
    ana = make_person(engine, "ana")
    make_person(engine, "ben")
    with write_session(engine) as session:
        person = session.get(Person, ana.person_id)
        assert person is not None
        session.delete(person)
    with read_session(engine) as session, pytest.raises(AccessDenied, match="no longer exists"):
        couples.account_summary(session=session, viewer=ana)


def test_an_invite_stops_working_at_the_exact_second_it_expires(engine: Engine) -> None:
    """Ben, entering Ana's code at its expiry time, is told it expired; Cai's code, a second before its
    expiry, still links Cai and Dee."""
    ana, ben, cai, dee = (make_person(engine, n) for n in ("ana", "ben", "cai", "dee"))
    with write_session(engine) as session:
        anas = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
        cais = couples.create_couple(session=session, viewer=cai, key=KEY, now=NOW)
    expiry = NOW + couples.INVITE_LIFETIME
    with pytest.raises(CoupleError, match="expired"), write_session(engine) as session:
        couples.join_couple(session=session, viewer=ben, code=anas.code, key=KEY, now=expiry)
    with write_session(engine) as session:
        couples.join_couple(
            session=session, viewer=dee, code=cais.code, key=KEY, now=expiry - timedelta(seconds=1)
        )


def _open(engine: Engine, viewer: Viewer, now: datetime) -> couples.Invite | None:
    with write_session(engine) as session:
        return couples.open_invite(session=session, viewer=viewer, now=now)


def test_the_open_invite_is_shown_again_to_its_maker_only(engine: Engine) -> None:
    """Ana started a couple; later (a new visit) she is shown the same code again. Ben, who has not joined,
    and Cleo, waiting in a couple of her own, are shown only their own codes or none."""
    ana, ben, cleo = make_person(engine, "ana"), make_person(engine, "ben"), make_person(engine, "cleo")
    with write_session(engine) as session:
        made = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    with write_session(engine) as session:
        cleos = couples.create_couple(session=session, viewer=cleo, key=KEY, now=NOW)
    assert _open(engine, ana, NOW + timedelta(hours=5)) == made
    assert _open(engine, cleo, NOW + timedelta(hours=5)) == cleos
    assert _open(engine, ben, NOW + timedelta(hours=5)) is None


def test_a_used_invite_is_shown_to_nobody_and_its_text_is_gone(engine: Engine) -> None:
    """Once Ben joins with Ana's code, neither of them is shown it again, and its stored text is deleted."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    with write_session(engine) as session:
        made = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    with write_session(engine) as session:
        couples.join_couple(session=session, viewer=ben, code=made.code, key=KEY, now=NOW)
    assert _open(engine, ana, NOW) is None
    assert _open(engine, ben, NOW) is None
    with read_session(engine) as session:
        assert session.exec(select(InviteCode.code_text)).all() == [None]


def test_an_expired_invite_is_not_shown_and_its_text_is_forgotten(engine: Engine) -> None:
    """At the second the code stops working it is no longer shown, and its text leaves the database."""
    ana = make_person(engine, "ana")
    with write_session(engine) as session:
        made = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    assert _open(engine, ana, made.expires_at - timedelta(seconds=1)) == made
    assert _open(engine, ana, made.expires_at) is None
    with read_session(engine) as session:
        assert session.exec(select(InviteCode.code_text)).all() == [None]


def test_a_new_invite_replaces_the_shown_one_and_the_old_text_is_gone(engine: Engine) -> None:
    """Making a new code shows the new one; the old row (and its text) is deleted."""
    ana = make_person(engine, "ana")
    renewed = _renewed(engine, ana)
    assert _open(engine, ana, NOW + timedelta(days=1)) == renewed
    with read_session(engine) as session:
        assert len(session.exec(select(InviteCode)).all()) == 1


def test_the_stored_invite_text_is_ciphertext_not_the_code(engine: Engine) -> None:
    """A copy of the database does not reveal the open code: the raw column holds a token, not the code."""
    ana = make_person(engine, "ana")
    with write_session(engine) as session:
        made = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    with engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT code_text FROM invitecode")).scalar_one()
    plain = made.code.replace("-", "")
    assert isinstance(raw, str) and raw
    assert made.code not in raw and plain not in raw and plain.lower() not in raw.lower()
    assert crypto.decrypt(raw) == made.code


def test_a_couple_that_ends_while_waiting_shows_no_code(engine: Engine) -> None:
    """Ana cancels her waiting couple and starts again: she is shown only the new couple's code."""
    ana = make_person(engine, "ana")
    with write_session(engine) as session:
        couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=NOW)
    assert _open(engine, ana, NOW) is None
    with write_session(engine) as session:
        again = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    assert _open(engine, ana, NOW) == again


def test_migration_0006_keeps_older_codes_working_and_undoes_cleanly(tmp_path: Path) -> None:
    """A code made before 0006 (a digest only) still lets the partner join after it, with no text to show;
    a code made after it has its text; downgrading to 0005 removes the column and every code text."""
    migrated = create_db_engine(f"sqlite:///{tmp_path / 'kindred.db'}")
    config = alembic_config(migrated)
    command.upgrade(config, "0005")
    with migrated.begin() as connection:
        ana = connection.execute(
            sa.text(
                "INSERT INTO person (username, display_name, role, password_hash, created_at) "
                "VALUES ('ana', 'Ana', 'partner', 'x', :now) RETURNING id"
            ),
            {"now": NOW},
        ).scalar_one()
        couple = connection.execute(
            sa.text("INSERT INTO couple (created_by_id, created_at) VALUES (:ana, :now) RETURNING id"),
            {"ana": ana, "now": NOW},
        ).scalar_one()
        connection.execute(
            sa.text("INSERT INTO couplemembership (couple_id, person_id, joined_at) VALUES (:c, :p, :now)"),
            {"c": couple, "p": ana, "now": NOW},
        )
        connection.execute(
            sa.text(
                "INSERT INTO invitecode (couple_id, code_hash, created_by_id, created_at, expires_at) "
                "VALUES (:c, :h, :p, :now, :later)"
            ),
            {
                "c": couple,
                "h": codes.digest("7KQ2-M9XD-4RTB", KEY),
                "p": ana,
                "now": NOW,
                "later": NOW + timedelta(days=3),
            },
        )
    command.upgrade(config, "0006")
    with migrated.connect() as connection:
        assert connection.execute(sa.text("SELECT code_text FROM invitecode")).all() == [(None,)]
    command.upgrade(config, "head")
    ben = make_person(migrated, "ben")
    ana_viewer = Viewer(person_id=ana, username="ana", display_name="Ana", role=Role.PARTNER)
    assert _open(migrated, ana_viewer, NOW) is None  # nothing to show: only its digest was ever stored
    with write_session(migrated) as session:
        assert (
            couples.join_couple(session=session, viewer=ben, code="7KQ2-M9XD-4RTB", key=KEY, now=NOW)
            == couple
        )
    command.downgrade(config, "0005")
    with migrated.connect() as connection:
        assert "code_text" not in {c["name"] for c in sa.inspect(connection).get_columns("invitecode")}
    migrated.dispose()
