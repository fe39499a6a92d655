"""Questionnaires an operator added."""

from program.infra.models import Role
from program.ui.added_questionnaires import render_extra_questionnaires
from program.ui.gate import show_page

show_page(render_extra_questionnaires, Role.PARTNER)
