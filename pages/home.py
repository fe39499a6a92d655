"""Partner home."""

from program.ui.gate import PARTNER, show_page
from program.ui.home import render_partner_home

show_page(render_partner_home, PARTNER)
