"""The one place in the portal that speaks HTTP to Webex.

`WebexClient` (client.py) performs the calls, `errors.py` maps failures to typed exceptions
carrying the Webex `trackingId`, `types.py` holds the typed payloads, and `ids.py` converts
between plain UUIDs and Webex's base64 `ciscospark://` identifiers.
"""
