"""The optional intimacy module (opens when both partners choose it)."""

from program.ui.gate import PARTNER, show_page
from program.ui.intimacy import render_intimacy

show_page(render_intimacy, PARTNER)
