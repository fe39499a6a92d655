"""Account page for every role."""

from program.models import Role
from program.ui.account import render_account
from program.ui.gate import require

render_account(require(Role.PARTNER, Role.THERAPIST))
