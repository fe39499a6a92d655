"""Keeping it going: the plan after the last stage, the booster review, and the weekly appreciation log."""

from program.ui.gate import PARTNER, show_page
from program.ui.keeping import render_keeping

show_page(render_keeping, PARTNER)
