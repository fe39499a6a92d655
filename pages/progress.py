"""The couple's progress charts."""

from program.infra.models import Role
from program.ui.gate import show_page
from program.ui.progress import render_progress

show_page(render_progress, Role.PARTNER)
