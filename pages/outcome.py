"""How we're doing: the program's outcome questionnaire, on each occasion it is due."""

from program.ui.gate import PARTNER, show_page
from program.ui.outcome import render_outcome

show_page(render_outcome, PARTNER)
