"""How we're doing: the program's outcome questionnaire, on each occasion it is due."""

from program.infra.models import Role
from program.ui.gate import show_page
from program.ui.outcome import render_outcome

show_page(render_outcome, Role.PARTNER)
