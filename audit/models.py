"""The append-only audit trail (models arrive with issue 4)."""
