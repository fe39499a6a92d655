"""The couples program itself: its content, the journey through the stages, questionnaires and scoring,
check-ins, exercises, the safety screen and the modules after the stages. Uses the layers below it."""
