"""The alerts API: list and read alerts, acknowledge them, raise and resolve incidents.

Channels are not exposed: they hold webhook signing secrets and are managed on their page.
"""
