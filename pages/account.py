"""Account page for every role."""

from program.ui.account import render_account
from program.ui.gate import PARTNER, THERAPIST, show_page

show_page(render_account, PARTNER, THERAPIST)
