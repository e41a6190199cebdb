"""Write `.env` for `make run` on first use: DEBUG on and freshly generated local secrets.

Run again, it leaves an existing `.env` alone, so a developer's edits survive. The file is
git-ignored; nothing here is used in production, where the environment supplies real values.
"""

import base64
import secrets
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def main() -> None:
    if ENV_FILE.exists():
        return
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    ENV_FILE.write_text(
        "# Written by `make run` for local use only. See .env.example for every setting.\n"
        "DJANGO_DEBUG=true\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"PORTAL_ENCRYPTION_KEYS=local1:{key}\n"
        # Signed audit checkpoints every 15 minutes; `manage.py audit_verify` checks the file.
        f"PORTAL_AUDIT_CHECKPOINT_KEY={secrets.token_urlsafe(48)}\n"
        f"PORTAL_AUDIT_CHECKPOINT_PATH={ENV_FILE.parent / 'var' / 'audit-checkpoints.jsonl'}\n"
    )
    ENV_FILE.chmod(0o600)
    print(f"Wrote {ENV_FILE.name} with new local secrets.")


if __name__ == "__main__":
    main()
