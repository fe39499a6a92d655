"""The therapist's workspace: the caseload and its alerts, the pre-session brief, homework, sessions and
their feedback, session notes and the PDF report. Uses the layers below it."""
