"""The operator's command line: `python -m program COMMAND`.

serve [STREAMLIT OPTIONS]
                      migrate the database, compile Kindred's own modules to bytecode, then serve the app
                      in this process (the options go to `streamlit run app.py`, e.g. --server.port 8502)
migrate               bring the database schema up to date (the app also does this on start)
reset-code USERNAME   make a one-time code (30 minutes) to set a new password on the login page
disable USERNAME      stop an account from logging in and end its sessions at once
enable USERNAME       let a disabled account log in again
approve-therapist USERNAME
                      let a therapist account make codes and be given access by couples (new therapist
                      accounts wait for this; partners entering the code see that the operator approved it)
unapprove-therapist USERNAME
                      withdraw that approval: the therapist's codes stop working and they see no couple
delete USERNAME [--yes]
                      delete an account and all of its data (asks for the username again unless --yes)
rotate-keys           re-encrypt every stored free text under the newest of KINDRED_ENCRYPTION_KEYS
demo [--force] [--weeks N]
                      load a demo couple and their therapist with N weeks of history (by default enough
                      for the whole program and the outcome follow-up: 30 weeks); refused when the
                      database has other accounts, unless --force; run it again to refresh the demo
"""

from __future__ import annotations

import argparse
import compileall
import getpass
import importlib
import logging
import sys
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import SQLModel, select

from program.auth import accounts, login_sessions
from program.course.curriculum import ContentError, load_program
from program.infra import audit, crypto
from program.infra.db import create_db_engine, migrate, write_session
from program.infra.models import Person, utcnow
from program.infra.settings import SettingsError, get_settings
from program.ops import demo
from program.privacy import grants
from program.privacy.viewer import normalise_username
from program.your_data import deletion

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"


def _engine() -> Engine:
    """The configured database, migrated, with this process's keyring set first (migrations need it)."""
    settings = get_settings()
    crypto.configure(settings.encryption_key_list())
    engine = create_db_engine(settings.database_url)
    migrate(engine)
    return engine


def _compile_own_modules() -> bool:
    """Write bytecode for Kindred's own modules (uv compiles only the installed packages): with
    PYTHONDONTWRITEBYTECODE set, as on our CI machines, every new process otherwise compiles them again.
    Best effort: an unwritable checkout (or a module that does not compile) only costs start-up time."""
    return compileall.compile_dir(ROOT / "program", quiet=2)


# What the first login page imports that the server itself does not: numpy, pandas and pyarrow (about 1 s:
# Streamlit imports them on the first call of any custom component, and streamlit-authenticator's cookie is
# one), and the domain modules app.py's imports reach that this command has not imported yet. Never
# program.ui or streamlit-authenticator: a custom component declared outside a script run is never
# registered with the server, which then cannot serve its files (the cookie would never be set).
WARM_UP_MODULES = (
    "numpy",
    "pandas",
    "pyarrow",
    "program.course.keeping",
    "program.course.intimacy",
)


def _warm_up() -> None:
    """Import WARM_UP_MODULES while the server starts and the first browser loads Streamlit's frontend, so
    the first script run finds them imported (an import it needs meanwhile waits for this one to finish)."""
    for name in WARM_UP_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # the script run imports it again and reports the error where it belongs
            logging.getLogger("kindred").warning("warming up %s failed", name, exc_info=True)
            return


def _serve(streamlit_options: Sequence[str]) -> None:
    """Migrate before the server takes any request, then run Streamlit's own command line on app.py in
    this process (modules the migration imported stay imported for the app's first run). Never returns."""
    _engine().dispose()
    _compile_own_modules()
    from streamlit.web import cli as streamlit_cli

    threading.Thread(target=_warm_up, name="kindred-warm-up", daemon=True).start()
    streamlit_cli.main(args=["run", str(APP), *streamlit_options], prog_name="streamlit")


def _rotate_keys() -> str:
    engine = _engine()
    rotation = crypto.rotate_all(engine, SQLModel.metadata)
    if engine.dialect.name == "sqlite":
        # Rewrite the file so no page or WAL frame keeps text under the old key (or from before encryption).
        # On the driver's own connection: VACUUM cannot run in the transaction SQLAlchemy would begin.
        connection = engine.raw_connection()
        try:
            connection.execute("VACUUM")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
    engine.dispose()
    meanwhile = (
        f" ({rotation.changed_meanwhile} changed by the app meanwhile, kept as written)"
        if rotation.changed_meanwhile
        else ""
    )
    return (
        f"Re-encrypted {rotation.values} stored texts under the newest key{meanwhile}.\n"
        "Once every Kindred process runs with the new key first, older keys can be dropped from the list."
    )


def _set_disabled(username: str, disabled: bool) -> str:
    engine = _engine()
    with write_session(engine) as session:
        name = normalise_username(username)
        person = session.exec(select(Person).where(Person.username == name)).first()
        if person is None or person.id is None:
            raise accounts.AccountError(f"There is no account named {name!r}.")
        now = utcnow()
        person.disabled_at = now if disabled else None
        session.add(person)
        if disabled:
            login_sessions.end_all(session=session, person_id=person.id, now=now)
        audit.record(
            session, action="account.disabled" if disabled else "account.enabled", subject_id=person.id
        )
    return f"{name} is {'disabled and signed out everywhere' if disabled else 'enabled'}."


def _operator() -> str:
    """Who runs the command, for the audit trail (the login name, as far as the system knows it)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "the operator"


def _set_approved(username: str, approved: bool) -> str:
    engine = _engine()
    change = grants.approve_therapist if approved else grants.unapprove_therapist
    with write_session(engine) as session:
        result = change(session=session, username=username, operator=_operator(), now=utcnow())
    # The display name was typed by the account's owner: shown quoted, with any control characters escaped.
    who = f"{result.username} ({result.display_name!r})"
    if approved and not result.changed:
        assert result.approved_at is not None
        return (
            f"{who} was already approved on {result.approved_at:%Y-%m-%d %H:%M} UTC by {result.approved_by}. "
            "Nothing changed."
        )
    if approved:
        return (
            f"{who} is approved as a therapist. They can now make a code for couples; partners who enter it "
            f"see the name {result.display_name!r} and that this server's operator approved it."
        )
    if not result.changed:
        return f"{who} is not approved. Nothing changed."
    return (
        f"{who} is no longer approved. Their code stops working, no new one can be made, and they see no "
        "couple until approved again (couples' grants are kept)."
    )


def _reset_code(username: str) -> str:
    settings = get_settings()
    engine = _engine()
    with write_session(engine) as session:
        code, expires_at = accounts.issue_reset_code(
            session=session, username=username, key=settings.code_key(), now=utcnow()
        )
    return (
        f"Reset code for {normalise_username(username)}: {code}\n"
        f"It works once, until {expires_at:%Y-%m-%d %H:%M} UTC, on the login page's 'Reset password' tab.\n"
        "Give it to the person directly (not by a channel others read)."
    )


def _delete(username: str, yes: bool) -> str:
    settings = get_settings()
    name = normalise_username(username)
    if not yes:
        try:
            typed = input(f"This deletes {name!r} and all of their data, for good. Type the username again: ")
        except EOFError:
            typed = ""
        if normalise_username(typed) != name:
            raise deletion.DeletionError("The username was not typed again. Nothing was deleted.")
    engine = _engine()
    deleted = deletion.delete_by_username(engine=engine, username=name, key=settings.code_key(), now=utcnow())
    ended = " Their couple has ended for their partner." if deleted.couples_ended else ""
    return (
        f"{deleted.username} is deleted with all of their data, and every login of theirs has ended.{ended}\n"
        f"Therapist notes about their couples deleted: {deleted.notes_deleted}."
    )


def _demo(weeks: int | None, force: bool) -> str:
    settings = get_settings()
    engine = _engine()
    loaded = demo.load_demo(
        engine=engine,
        program=load_program(operator_instruments=settings.instruments_dir),
        weeks=weeks,
        force=force,
        today=date.today(),
        bcrypt_rounds=settings.bcrypt_rounds,
        settings=settings,
    )
    return (
        f"Loaded the demo: a couple with {loaded.weeks} weeks of history, and their therapist. Log in as\n"
        f"  {loaded.partners[0]}  or  {loaded.partners[1]}  (partners)\n"
        f"  {loaded.therapist}  (their therapist)\n"
        f"  {', '.join(loaded.other_partners)}  (her other couples, two by two)\n"
        f"with the password: {loaded.password}\n"
        "Demo only: this password is public. Run the command again to refresh the history."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run one operator command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m program", description="Kindred's operator commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve",
        help="migrate, compile, then serve the app (other options go to `streamlit run app.py`)",
        description="Migrate the database, compile Kindred's modules, then serve app.py. Any option given "
        "after `serve` goes to `streamlit run` (for example --server.port 8502).",
    )
    commands.add_parser("migrate", help="bring the database schema up to date")
    commands.add_parser("rotate-keys", help="re-encrypt stored free text under the newest encryption key")
    for name, help_text in (
        ("reset-code", "make a one-time password reset code"),
        ("disable", "stop an account from logging in, ending its sessions"),
        ("enable", "let a disabled account log in again"),
        ("approve-therapist", "let a therapist account make codes and be given access"),
        ("unapprove-therapist", "withdraw a therapist's approval"),
    ):
        commands.add_parser(name, help=help_text).add_argument("username")
    delete_command = commands.add_parser("delete", help="delete an account and all of its data")
    delete_command.add_argument("username")
    delete_command.add_argument("--yes", action="store_true", help="do not ask for the username again")
    demo_command = commands.add_parser("demo", help="load a demo couple and therapist (demo password)")
    demo_command.add_argument("--force", action="store_true", help="load even if other accounts exist")
    demo_command.add_argument(
        "--weeks", type=int, help="weeks of history (default: the whole program and its follow-up)"
    )
    args, streamlit_options = parser.parse_known_args(argv)
    if streamlit_options and args.command != "serve":
        parser.error(f"unrecognized arguments: {' '.join(streamlit_options)}")
    try:
        if args.command == "serve":
            _serve(streamlit_options)
        elif args.command == "migrate":
            _engine()
            print("The database is up to date.")
        elif args.command == "rotate-keys":
            print(_rotate_keys())
        elif args.command == "demo":
            print(_demo(args.weeks, args.force))
        elif args.command == "delete":
            print(_delete(args.username, args.yes))
        elif args.command == "reset-code":
            print(_reset_code(args.username))
        elif args.command in ("approve-therapist", "unapprove-therapist"):
            print(_set_approved(args.username, approved=args.command == "approve-therapist"))
        else:
            print(_set_disabled(args.username, disabled=args.command == "disable"))
    except (
        accounts.AccountError,
        deletion.DeletionError,
        grants.GrantError,
        demo.DemoError,
        ContentError,
        SettingsError,
        crypto.DecryptionError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
