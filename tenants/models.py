"""Customer orgs, Service Apps and their OAuth tokens (models arrive with issue 5)."""
