"""`manage.py verify_jws TOKEN` (or `-` to read it from stdin): the verifier's decision.

Prints the decision as JSON (the same body as POST /api/v1/jws/verify: org, data source and the
claims, never the token) and exits 0 when the token is accepted, 1 when it is refused (the
refusal code is also written to stderr). A token on the command line lands in shell history and
`ps`; prefer `-` with the token on stdin.
"""

import json
import sys

from django.core.management.base import BaseCommand

from datasources.jws import jws_verify_for_api


class Command(BaseCommand):
    help = "Verify a JWS presented by Webex to a data source URL; exit 0 if accepted, 1 if not."

    def add_arguments(self, parser):
        parser.add_argument("token", help="The JWS (bare or 'Bearer <jws>'), or - to read stdin.")

    def handle(self, *args, token, **options):
        if token == "-":  # noqa: S105 - "-" means stdin, not a secret
            token = sys.stdin.read()
        # Verification is a read: no audit row is written (see datasources/jws/).
        status, body = jws_verify_for_api(token)
        self.stdout.write(json.dumps(body, indent=2, sort_keys=True))
        if not body["valid"]:
            self.stderr.write(f"refused: {body['code']}: {body['message']}")
            sys.exit(1)
