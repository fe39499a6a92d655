"""Therapist: the couples who gave access."""

from program.ui.gate import THERAPIST, show_page
from program.ui.therapist import render_caseload

show_page(render_caseload, THERAPIST)
