"""Weekly check-in."""

from program.infra.models import Role
from program.ui.checkin import render_checkin
from program.ui.gate import show_page

show_page(render_checkin, Role.PARTNER)
