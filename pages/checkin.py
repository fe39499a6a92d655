"""Weekly check-in."""

from program.models import Role
from program.ui.checkin import render_checkin
from program.ui.gate import show_page

show_page(render_checkin, Role.PARTNER)
