"""The assessment: baseline questionnaire, goals and strengths, private safety check."""

from program.infra.models import Role
from program.ui.assessment import render_assessment
from program.ui.gate import show_page

show_page(render_assessment, Role.PARTNER)
