"""Streamlit widgets and page bodies. The only part of `program` that imports streamlit."""
