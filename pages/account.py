"""Account page for every role."""

from program.infra.models import Role
from program.ui.account import render_account
from program.ui.gate import show_page

show_page(render_account, Role.PARTNER, Role.THERAPIST)
