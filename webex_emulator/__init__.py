"""A local emulator of the Webex APIs used by Bring Your Own Data Source (BYODS).

The emulator is a separate process (``python -m webex_emulator``) built on Starlette and
uvicorn. It never imports the Django portal. It serves:

* ``/v1/...``: the Webex surface the portal talks to (data sources, Service App tokens,
  refresh, webhooks, the Service App object), behaving as described in
  ``../shared/webex/README.md`` and its "where the emulator must choose" table;
* ``/idb/oauth2/v2/keys/verificationjwk``: the JWKS that verifies the data source JWS;
* ``/_emulator/...``: a JSON control surface for tests, demos and the benchmark (create Service
  Apps and orgs, authorize, inject faults and latency, move the clock, rotate keys, deliver a
  data source's JWS to a loopback receiver, inspect the request log and the whole state). It is
  a test tool: never expose it.

See ``docs/emulator.md`` for the full description and ``webex_emulator.testing`` for the helpers
other test suites use to start and drive an emulator process.
"""

__version__ = "1.0.0"
