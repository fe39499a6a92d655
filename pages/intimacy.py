"""The optional intimacy module (opens when both partners choose it)."""

from program.infra.models import Role
from program.ui.gate import show_page
from program.ui.intimacy import render_intimacy

show_page(render_intimacy, Role.PARTNER)
