"""Helpers for the Streamlit pages that are not pages themselves: session state, charts. No maths."""
