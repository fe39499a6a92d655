"""The couple's progress charts."""

from program.ui.gate import PARTNER, show_page
from program.ui.progress import render_progress

show_page(render_progress, PARTNER)
