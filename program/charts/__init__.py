"""The couple's progress as data (`progress_data`) and as Plotly figures (`figures`). Uses the layers below
it."""
