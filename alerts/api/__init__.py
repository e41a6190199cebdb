"""The alerts API: list and read alerts, acknowledge them, raise and resolve incidents, and
send an alert channel a test notification.

Channels themselves are not listed or edited here: they hold webhook signing secrets and are
managed on their page. The test answers only the channel's id, team and what each medium did.
"""
