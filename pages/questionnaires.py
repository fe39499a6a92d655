"""Questionnaires an operator added."""

from program.models import Role
from program.ui.extra import render_extra_questionnaires
from program.ui.gate import show_page

show_page(render_extra_questionnaires, Role.PARTNER)
