"""Data sources at Webex and their rotation state (models arrive with issue 6)."""
