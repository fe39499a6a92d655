"""The trust stage."""

from functools import partial

from program.ui.gate import PARTNER, show_page
from program.ui.stage import render_stage

show_page(partial(render_stage, stage_key="trust"), PARTNER)
