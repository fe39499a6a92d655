"""The one code-issuing helper and the one typed-code check behind invites, therapist codes and password
resets: a new code retires only its own owner's earlier one, only a keyed digest is stored, the expiry is
the one asked for, and typed text is refused before any lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import and_, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from program.infra import codes
from program.infra.db import read_session, write_session
from program.infra.models import InviteCode, PasswordResetCode
from program.privacy import couples
from tests.factories import make_couple, make_person

KEY = b"k" * 32
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
LIFETIME = timedelta(minutes=30)


def _reset_code(session: Session, person_id: int, now: datetime = NOW, groups: int = 3) -> codes.IssuedCode:
    return codes.issue(
        session,
        table=PasswordResetCode,
        replaces=col(PasswordResetCode.person_id) == person_id,
        row=lambda code_hash, issued: PasswordResetCode(
            person_id=person_id, code_hash=code_hash, created_at=now, expires_at=issued.expires_at
        ),
        groups=groups,
        lifetime=LIFETIME,
        key=KEY,
        now=now,
    )


def _invite(session: Session, couple_id: int, person_id: int) -> codes.IssuedCode:
    return codes.issue(
        session,
        table=InviteCode,
        replaces=and_(col(InviteCode.couple_id) == couple_id, col(InviteCode.used_at).is_(None)),
        row=lambda code_hash, issued: InviteCode(
            couple_id=couple_id,
            code_hash=code_hash,
            created_by_id=person_id,
            created_at=NOW,
            expires_at=issued.expires_at,
            code_text=issued.code,
        ),
        groups=3,
        lifetime=LIFETIME,
        key=KEY,
        now=NOW,
    )


def _reset_hashes(engine: Engine) -> dict[int, list[str]]:
    with read_session(engine) as session:
        rows = session.exec(select(PasswordResetCode).order_by(col(PasswordResetCode.id))).all()
    found: dict[int, list[str]] = {}
    for row in rows:
        found.setdefault(row.person_id, []).append(row.code_hash)
    return found


def test_a_new_code_retires_its_owners_earlier_code_and_no_one_elses(engine: Engine) -> None:
    """Ana's second code replaces her first; Ben's code, made in between, still stands."""
    ana, ben = make_person(engine, "ana"), make_person(engine, "ben")
    with write_session(engine) as session:
        first = _reset_code(session, ana.person_id)
    with write_session(engine) as session:
        bens = _reset_code(session, ben.person_id)
    with write_session(engine) as session:
        second = _reset_code(session, ana.person_id, NOW + timedelta(minutes=1))
    assert len({first.code, second.code, bens.code}) == 3
    assert _reset_hashes(engine) == {
        ben.person_id: [codes.digest(bens.code, KEY)],
        ana.person_id: [codes.digest(second.code, KEY)],
    }


def test_only_a_keyed_digest_of_the_code_is_stored(engine: Engine) -> None:
    """No column of the stored row holds the code, in any of the forms a person types it; the digest is the
    one a lookup computes, and another server's key gives another digest."""
    ana = make_person(engine, "ana")
    with write_session(engine) as session:
        issued = _reset_code(session, ana.person_id)
    with read_session(engine) as session:
        rows = session.execute(text("SELECT * FROM passwordresetcode")).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    for form in (issued.code, issued.code.replace("-", ""), issued.code.lower()):
        assert form not in stored
    assert rows[0]["code_hash"] == codes.digest(issued.code, KEY) != codes.digest(issued.code, b"x" * 32)


def test_an_invite_keeps_its_code_only_encrypted(engine: Engine) -> None:
    """An invite's row keeps the code for its maker (EncryptedText): the raw column is not the code."""
    ana = make_person(engine, "ana")
    couple_id = make_couple(engine, ana)
    with write_session(engine) as session:
        issued = _invite(session, couple_id, ana.person_id)
    with read_session(engine) as session:
        raw = session.execute(text("SELECT code_hash, code_text FROM invitecode")).one()
        kept = session.exec(select(InviteCode.code_text)).one()
    assert raw.code_hash == codes.digest(issued.code, KEY)
    assert issued.code not in str(raw.code_text) and issued.code.replace("-", "") not in str(raw.code_text)
    assert kept == issued.code


@pytest.mark.parametrize(("groups", "lifetime"), [(2, timedelta(minutes=30)), (3, timedelta(days=30))])
def test_the_code_has_the_groups_and_the_expiry_asked_for(
    engine: Engine, groups: int, lifetime: timedelta
) -> None:
    """The code has `groups` groups of four from the alphabet; it and its row expire at now + lifetime."""
    ana = make_person(engine, "ana")
    with write_session(engine) as session:
        issued = codes.issue(
            session,
            table=PasswordResetCode,
            replaces=col(PasswordResetCode.person_id) == ana.person_id,
            row=lambda code_hash, issued: PasswordResetCode(
                person_id=ana.person_id, code_hash=code_hash, created_at=NOW, expires_at=issued.expires_at
            ),
            groups=groups,
            lifetime=lifetime,
            key=KEY,
            now=NOW,
        )
    assert issued.expires_at == NOW + lifetime
    assert codes.looks_valid(issued.code, groups) and not codes.looks_valid(issued.code, groups + 1)
    with read_session(engine) as session:
        stored = session.exec(select(PasswordResetCode.expires_at)).one()
    assert stored.replace(tzinfo=UTC) == NOW + lifetime


def test_a_couple_that_ended_and_reformed_keeps_only_its_live_invite(engine: Engine) -> None:
    """Ana's first couple (with Ben, whose join used its invite) ended; her new couple's renewed invite
    retires the new couple's earlier one, never the used one from before, nor Cai's couple's live invite."""
    ana, ben, cai = make_person(engine, "ana"), make_person(engine, "ben"), make_person(engine, "cai")
    with write_session(engine) as session:
        first = couples.create_couple(session=session, viewer=ana, key=KEY, now=NOW)
    with write_session(engine) as session:
        old_couple = couples.join_couple(session=session, viewer=ben, code=first.code, key=KEY, now=NOW)
    with write_session(engine) as session:
        couples.leave_couple(session=session, viewer=ana, now=NOW)
    cais_couple = make_couple(engine, cai)
    with write_session(engine) as session:
        cais = _invite(session, cais_couple, cai.person_id)
    new_couple = make_couple(engine, ana)
    with write_session(engine) as session:
        _invite(session, new_couple, ana.person_id)
    with write_session(engine) as session:
        renewed = _invite(session, new_couple, ana.person_id)
    with read_session(engine) as session:
        rows = session.exec(select(InviteCode.couple_id, InviteCode.code_hash, InviteCode.used_at)).all()
    assert sorted((couple, code_hash, used is not None) for couple, code_hash, used in rows) == sorted(
        [
            (old_couple, codes.digest(first.code, KEY), True),
            (cais_couple, codes.digest(cais.code, KEY), False),
            (new_couple, codes.digest(renewed.code, KEY), False),
        ]
    )


class Refused(ValueError):
    """The caller's own error, as couples, grants and accounts each pass theirs."""


def _typed(typed: str, **options: str) -> str:
    return codes.typed_digest(typed, groups=3, key=KEY, refuse=Refused, malformed="not a code", **options)


def test_a_typed_code_is_looked_up_by_its_digest_however_it_is_typed() -> None:
    """Lower case, spaces instead of dashes and look-alike letters (O for 0, I and L for 1) find the code."""
    code = "7KQ2-M9XD-4R01"
    for typed in (
        code,
        "7kq2 m9xd 4r01",
        " 7KQ2M9XD4RO1 ",
        "7KQ2-M9XD-4RO1",
        "7KQ2-M9XD-4rOI",
        "7KQ2M9XD4ROL",
    ):
        assert _typed(typed) == codes.digest(code, KEY)


@pytest.mark.parametrize("hidden", ["\x00", "\x1b", "\u200b", "\u202e", "\ud800"])
def test_a_typed_code_with_a_hidden_character_is_refused_with_the_callers_error(hidden: str) -> None:
    """An invisible or control character anywhere is refused before any lookup, with the hidden-character
    message unless the caller gives its own words."""
    for typed in ("7KQ2-M9XD-4R01" + hidden, hidden + "7KQ2-M9XD-4R01", "7KQ2" + hidden + "M9XD-4R01"):
        with pytest.raises(Refused) as refused:
            _typed(typed)
        assert str(refused.value) == codes.HIDDEN_CHARACTER_MESSAGE
        with pytest.raises(Refused, match="^not a code$"):
            _typed(typed, hidden="not a code")


@pytest.mark.parametrize(
    "typed", ["", "7KQ2-M9XD", "7KQ2-M9XD-4R01-0000", "7KQ2-M9XD-4R0!", "7KQ2-M9XD-4RÜ1"]
)
def test_text_that_cannot_be_a_code_is_refused_as_malformed(typed: str) -> None:
    """Too short, too long, or a character outside the alphabet: the caller's "malformed" words."""
    with pytest.raises(Refused, match="^not a code$"):
        _typed(typed)
