"""The conflict stage."""

from functools import partial

from program.infra.models import Role
from program.ui.gate import show_page
from program.ui.stage import render_stage

show_page(partial(render_stage, stage_key="conflict"), Role.PARTNER)
