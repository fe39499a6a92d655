"""Questionnaires an operator added."""

from program.ui.added_questionnaires import render_extra_questionnaires
from program.ui.gate import PARTNER, show_page

show_page(render_extra_questionnaires, PARTNER)
