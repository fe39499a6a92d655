"""Weekly check-in."""

from program.ui.checkin import render_checkin
from program.ui.gate import PARTNER, show_page

show_page(render_checkin, PARTNER)
