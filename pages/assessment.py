"""The assessment: baseline questionnaire, goals and strengths, private safety check."""

from program.ui.assessment import render_assessment
from program.ui.gate import PARTNER, show_page

show_page(render_assessment, PARTNER)
