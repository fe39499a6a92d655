"""Keeping it going: the plan after the last stage, the booster review, and the weekly appreciation log."""

from program.infra.models import Role
from program.ui.gate import show_page
from program.ui.keeping import render_keeping

show_page(render_keeping, Role.PARTNER)
