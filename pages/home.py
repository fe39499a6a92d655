"""Partner home."""

from program.infra.models import Role
from program.ui.gate import show_page
from program.ui.home import render_partner_home

show_page(render_partner_home, Role.PARTNER)
