"""The account page: profile, couple and invite code, therapist access and its record, password, sign-out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

import streamlit as st

from program.auth import accounts, login_sessions
from program.course.curriculum import Program
from program.infra.db import Engine, Session, read_session, write_session
from program.infra.models import Role, utcnow
from program.infra.settings import Settings
from program.privacy import access, couples, grants
from program.privacy.viewer import Viewer
from program.ui import runtime
from program.ui.gate import clear_flash, confirm, flash, show_flash
from program.ui.localtime import local_date, local_time
from program.ui.safety_choices import render_joint_work, render_safety_section
from program.ui.text import md
from program.ui.therapist import render_waiting_for_approval
from program.your_data import deletion, export

THERAPIST_CODE = "kindred_therapist_code"
PENDING_GRANT = "kindred_pending_therapist_grant"
# AccessDenied too: a therapist whose approval is withdrawn while the page is open is told so when making
# a code (grants.WAITING_FOR_APPROVAL), not shown an error of ours.
DOMAIN_ERRORS = (couples.CoupleError, grants.GrantError, accounts.AccountError, access.AccessDenied)


def _date(moment: datetime) -> str:
    """A stored moment in the person's own time zone (the one their check-in week follows)."""
    return local_time(moment)


def _attempt(engine: Engine, work: Callable[[Session], object], success: str) -> None:
    """Do one change in one unit of work: on success redraw the page with a confirmation that stays until
    the person moves on, else say why not (in place of any earlier confirmation)."""
    try:
        with write_session(engine) as session:
            work(session)
    except DOMAIN_ERRORS as error:
        clear_flash()
        st.error(str(error))
    else:
        confirm(success)
        st.rerun()


def _keep(key: str, value: object) -> None:
    st.session_state[key] = value


def render_account(viewer: Viewer) -> None:
    """The viewer's own account, with what their role can manage."""
    engine, settings = runtime.engine(), runtime.settings()
    with read_session(engine) as session:
        summary = couples.account_summary(session=session, viewer=viewer)
    st.title("Your account")
    show_flash()
    st.write(f"**{md(summary.display_name)}** · username **{md(summary.username)}** · {summary.role}")
    st.caption(f"Member since {local_date(summary.member_since)}")
    _pronouns_section(engine, viewer)
    if viewer.role == Role.PARTNER:
        _couple_section(engine, settings, viewer)
        render_joint_work(viewer)
        render_safety_section(viewer, runtime.program())
    else:
        _therapist_code_section(engine, settings, viewer)
    _password_section(engine, settings, viewer)
    _sessions_section(engine, viewer)
    _data_section(engine, settings, viewer)


def _pronouns_section(engine: Engine, viewer: Viewer) -> None:
    """Optional pronouns, used in text about the person (their partner's news, waiting lines)."""
    with read_session(engine) as session:
        current = accounts.own_pronouns(session=session, viewer=viewer)
    with st.form("pronouns"):
        typed = st.text_input(
            "Your pronouns (optional)",
            value=current or "",
            max_chars=accounts.MAX_PRONOUN_CHARS,
            placeholder="e.g. she/her, he/him, they/them",
            help="Kindred uses them where it writes about you, for instance in what your partner reads "
            "about your progress. Leave it empty and it says 'they'.",
        )
        saved = st.form_submit_button("Save pronouns")
    if saved:
        _attempt(
            engine,
            lambda session: accounts.set_pronouns(session=session, viewer=viewer, pronouns=typed),
            "Your pronouns are saved." if typed.strip() else "Your pronouns are cleared.",
        )
    elif current:
        st.caption("Your pronouns: " + md(current))


def _couple_section(engine: Engine, settings: Settings, viewer: Viewer) -> None:
    st.header("Your couple")
    with read_session(engine) as session:
        status = couples.partner_status(session=session, viewer=viewer)
    if status.couple_id is None:
        _start_or_join(engine, settings, viewer)
        return
    if status.partner_name is None:
        _waiting_for_partner(engine, settings, viewer)
        return
    st.write(f"You are doing Kindred with **{md(status.partner_name)}**.")
    _therapist_section(engine, settings, viewer)
    with st.expander("Leave this couple"):
        st.write(
            "Leaving ends the couple for both of you: your shared view and any therapist's access stop. "
            "Nothing either of you wrote is deleted; each of you keeps your own answers."
        )
        sure = st.checkbox("I understand, and I want to leave", key="leave_confirm")
        if st.button("Leave couple", disabled=not sure):
            _attempt(
                engine,
                lambda session: couples.leave_couple(session=session, viewer=viewer, now=utcnow()),
                "You have left the couple.",
            )


def _start_or_join(engine: Engine, settings: Settings, viewer: Viewer) -> None:
    key = settings.code_key()
    st.write(
        "Kindred is done as a couple. One of you starts the couple and gets an invite code; the other "
        "enters that code here. You can begin your own assessment before your partner joins."
    )
    start, join = st.columns(2)
    with start:
        st.subheader("Start a couple")
        if st.button("Start a couple and get an invite code"):
            _attempt(
                engine,
                lambda session: couples.create_couple(session=session, viewer=viewer, key=key, now=utcnow()),
                "Your couple is set up. Give your partner the invite code below.",
            )
    with join:
        with st.form("join_couple"):
            st.subheader("Join your partner")
            code = st.text_input("Invite code from your partner", placeholder="7KQ2-M9XD-4RTB")
            submitted = st.form_submit_button("Join")
        if submitted:
            _attempt(
                engine,
                lambda session: couples.join_couple(
                    session=session, viewer=viewer, code=code, key=key, now=utcnow()
                ),
                "You are linked with your partner.",
            )


def _waiting_for_partner(engine: Engine, settings: Settings, viewer: Viewer) -> None:
    st.info("Your couple is waiting for your partner to join.")
    # Read from the database on every visit (kept encrypted), so a reload or another device shows it too;
    # a write session, so that an expired code's text is deleted as it is found.
    with write_session(engine) as session:
        invite = couples.open_invite(session=session, viewer=viewer, now=utcnow())
    if invite is not None:
        st.write("Your partner enters this code on their account page:")
        st.code(invite.code, language=None)
        st.caption(
            f"It works once, until {_date(invite.expires_at)}. It stays here until your partner uses it."
        )
    else:
        st.write("Lost the code, or did it expire? Make a new one; the old one stops working.")
    if st.button("Make a new invite code"):
        _attempt(
            engine,
            lambda session: couples.renew_invite(
                session=session, viewer=viewer, key=settings.code_key(), now=utcnow()
            ),
            "Here is a new invite code. The old one no longer works.",
        )
    with st.expander("Cancel this couple"):
        if st.button("Cancel the couple"):
            _attempt(
                engine,
                lambda session: couples.leave_couple(session=session, viewer=viewer, now=utcnow()),
                "The couple is cancelled.",
            )


def _therapist_section(engine: Engine, settings: Settings, viewer: Viewer) -> None:
    st.header("Your therapist")
    st.write(
        "A therapist sees your couple only once **both** of you have given access with their code. "
        "Either of you can withdraw it at any time, and it takes effect at once. Everything a therapist "
        "does with your couple's record is listed below: each time they open it, write or edit a session "
        "note, assign homework, mark a session held, download a session report or open a stage early. "
        "The list says what they did, not what they read or wrote."
    )
    with read_session(engine) as session:
        therapists = grants.therapists_of_couple(session=session, viewer=viewer)
        record = grants.view_record(session=session, viewer=viewer)
    for therapist in therapists:
        yours = "you have given access" if therapist.mine else "you have not given access"
        partner = "your partner has" if therapist.partners else "your partner has not"
        state = "can see your couple" if therapist.can_see_couple else "cannot see your couple yet"
        if not therapist.approved:
            state = "cannot see your couple while this server's operator has not approved their account"
        st.write(f"**{md(therapist.therapist_name)}** {state}: {yours}; {partner}.")
        if therapist.mine and st.button(
            f"Withdraw my access for {md(therapist.therapist_name)}", key=f"revoke_{therapist.therapist_id}"
        ):
            _attempt(
                engine,
                partial(_revoke, viewer=viewer, therapist_id=therapist.therapist_id),
                f"{md(therapist.therapist_name)} no longer has your access.",
            )
    pending: tuple[str, grants.CodeOwner] | None = st.session_state.get(PENDING_GRANT)
    if pending is None:
        _enter_therapist_code(engine, settings, viewer)
    else:
        _confirm_therapist(engine, settings, viewer, *pending)
    st.subheader("What your therapist did with your record")
    if not record:
        st.caption("No therapist has opened your couple.")
    else:
        program = runtime.program()
        st.dataframe(
            [{"When": _date(r.at), "Therapist": r.therapist_name, "What": _what(r, program)} for r in record],
            hide_index=True,
        )


def _what(record: grants.ViewRecord, program: Program) -> str:
    """The record's phrase; a stage opening names the stage (its detail holds the stage's key)."""
    if record.action == grants.STAGE_OPENED:
        stage = program.stage_by_key.get(record.what)
        return f"opened {stage.title if stage else 'a stage'} early"
    return record.what


def _enter_therapist_code(engine: Engine, settings: Settings, viewer: Viewer) -> None:
    """The code is only looked up here: the partner sees whose it is before giving anything."""
    with st.form("grant_therapist", clear_on_submit=True):
        code = st.text_input("Your therapist's code", placeholder="7KQ2-M9XD-4RTB")
        submitted = st.form_submit_button("Check the code")
    if not submitted:
        return
    try:
        with read_session(engine) as session:
            owner = grants.code_owner(
                session=session, viewer=viewer, code=code, key=settings.code_key(), now=utcnow()
            )
    except grants.GrantError as error:
        st.error(str(error))
    else:
        st.session_state[PENDING_GRANT] = (code, owner)
        st.rerun()


def _confirm_therapist(
    engine: Engine, settings: Settings, viewer: Viewer, code: str, owner: grants.CodeOwner
) -> None:
    name = md(owner.therapist_name)
    with st.container(border=True):
        st.write(f"Give **{name}** access to your couple?")
        st.caption(
            f"This code belongs to the therapist account **{name}**, approved by this server's operator on "
            f"{_date(owner.approved_at)}. They see your couple once your partner has given access too."
        )
        confirm, cancel = st.columns(2)
        if confirm.button(f"Give {name} access", type="primary", key="grant_confirm"):
            st.session_state.pop(PENDING_GRANT, None)
            _attempt(
                engine,
                lambda session: grants.grant_access(
                    session=session,
                    viewer=viewer,
                    code=code,
                    key=settings.code_key(),
                    now=utcnow(),
                    therapist_id=owner.therapist_id,
                ),
                f"Access given to {name}. They see your couple once your partner has given it too.",
            )
        if cancel.button("Cancel", key="grant_cancel"):
            st.session_state.pop(PENDING_GRANT, None)
            st.rerun()


def _revoke(session: Session, *, viewer: Viewer, therapist_id: int) -> None:
    grants.revoke_access(session=session, viewer=viewer, therapist_id=therapist_id, now=utcnow())


def _therapist_code_section(engine: Engine, settings: Settings, viewer: Viewer) -> None:
    st.header("Your code for couples")
    st.write(
        "Give this code to a couple. Each partner enters it on their own account page; you see the couple "
        "once both have. A new code replaces the old one; couples who already gave access keep it."
    )
    with read_session(engine) as session:
        approved = grants.approved_at(session=session, viewer=viewer) is not None
    if not approved:
        st.session_state.pop(THERAPIST_CODE, None)
        render_waiting_for_approval(viewer)
        return
    issued: grants.IssuedCode | None = st.session_state.get(THERAPIST_CODE)
    if issued is not None:
        st.code(issued.code, language=None)
        st.caption(f"Valid until {_date(issued.expires_at)}. We only show it now: write it down.")
    if st.button("Make a new code" if issued else "Make a code"):
        _attempt(
            engine,
            lambda session: _keep(
                THERAPIST_CODE,
                grants.issue_therapist_code(
                    session=session, viewer=viewer, key=settings.code_key(), now=utcnow()
                ),
            ),
            "Here is your code.",
        )


def _password_section(engine: Engine, settings: Settings, viewer: Viewer) -> None:
    st.header("Password")
    with st.form("change_password", clear_on_submit=True):
        current = st.text_input("Current password", type="password")
        new = st.text_input(
            "New password", type="password", help="At least 10 characters; a few words work well."
        )
        repeat = st.text_input("Type the new password again", type="password")
        submitted = st.form_submit_button("Change password")
    if submitted:
        try:
            accounts.change_password(
                engine=engine,
                person_id=viewer.person_id,
                current=current,
                new=new,
                repeat=repeat,
                rounds=settings.bcrypt_rounds,
                now=utcnow(),
            )
        except accounts.AccountError as error:
            clear_flash()
            st.error(str(error))
        else:
            flash(
                "Your password is changed, and you are signed out everywhere. Log in with the new one.",
                kind="success",
            )
            st.rerun()


def _sessions_section(engine: Engine, viewer: Viewer) -> None:
    st.header("Signing out")
    st.write("Left Kindred open on another device? Sign out everywhere, including here.")
    if st.button("Sign out everywhere"):
        with write_session(engine) as session:
            login_sessions.end_all(session=session, person_id=viewer.person_id, now=utcnow())
        flash("You are signed out on every device.", kind="success")
        st.rerun()


def _data_section(engine: Engine, settings: Settings, viewer: Viewer) -> None:
    st.header("Your data")
    st.write(
        "Take a copy of everything you put into Kindred: a zip of JSON and CSV files, with a README that "
        "says what each file holds. Your partner's texts are in it only as they shared them with you."
    )
    # A download button's /media URL can be read without any login cookie while this tab is open
    # (STACK-NOTES). So the zip is built only when asked for, offered in this one run and never kept in
    # session state: the next run (the download itself reruns the page) no longer offers it, and
    # Streamlit drops the file.
    if st.button("Prepare my export"):
        with read_session(engine) as session:
            data = export.export_zip(session=session, viewer=viewer, program=runtime.program(), now=utcnow())
        st.download_button(
            "Download my data (zip)",
            data=data,
            file_name=f"kindred-export-{utcnow():%Y-%m-%d}.zip",
            mime="application/zip",
            on_click="rerun",
        )
        st.caption("This download is offered once. Prepare a new one whenever you like.")
    with st.expander("Delete my account"):
        st.write(
            "This deletes your account and everything you wrote or answered, at once and for good. If you "
            "are in a couple, it ends, as when you leave; your partner keeps their own data. A therapist's "
            "notes about your couple are deleted too. Take your export first if you want a copy."
        )
        with st.form("delete_account", clear_on_submit=True):
            typed = st.text_input("Type your username to confirm", placeholder=viewer.username)
            password = st.text_input("Your password", type="password")
            submitted = st.form_submit_button("Delete my account and all my data")
        if submitted:
            try:
                deletion.delete_own_account(
                    engine=engine,
                    viewer=viewer,
                    typed_username=typed,
                    password=password,
                    key=settings.code_key(),
                    now=utcnow(),
                )
            except (deletion.DeletionError, accounts.AccountError) as error:
                clear_flash()
                st.error(str(error))
            else:
                # Her logins are gone with her rows: the next run finds no live login and shows this.
                flash("Your account and all your data are deleted.", kind="success")
                st.rerun()
