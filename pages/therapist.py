"""Therapist: the couples who gave access."""

from program.models import Role
from program.ui.gate import require
from program.ui.therapist import render_caseload

render_caseload(require(Role.THERAPIST))
