"""Therapist: the couples who gave access."""

from program.infra.models import Role
from program.ui.gate import show_page
from program.ui.therapist import render_caseload

show_page(render_caseload, Role.THERAPIST)
