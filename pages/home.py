"""Partner home."""

from program.models import Role
from program.ui.gate import require
from program.ui.home import render_partner_home

render_partner_home(require(Role.PARTNER))
