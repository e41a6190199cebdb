"""Write `.env` for `make run` on first use: production-like (DEBUG off), plain HTTP on
127.0.0.1, readable logs, the local demo switch, and freshly generated local secrets.

DEBUG stays off so `make run` shows what production shows: the portal's own 404/403/500 pages
(not Django's URL listing or tracebacks), static files from WhiteNoise's compressed manifest
(`make run` runs collectstatic when static files change), and one log line per refused
request. PORTAL_HTTPS=false because the local server speaks plain HTTP (with it on, every
request would be redirected to https://). PORTAL_LOCAL_DEMO lets the seed commands create the
demo operator and mirror the emulator's world, which they refuse anywhere else.

Run again, it leaves an existing `.env` alone, so a developer's edits survive (it only says so
when that file still turns DEBUG on). The file is git-ignored; nothing here is used in
production, where the environment supplies real values.
"""

import base64
import secrets
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def contents() -> str:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return (
        "# Written by `make run` for local use only. See .env.example for every setting.\n"
        "DJANGO_DEBUG=false\n"
        "PORTAL_HTTPS=false\n"
        "PORTAL_LOCAL_DEMO=true\n"
        "LOG_FORMAT=text\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"PORTAL_ENCRYPTION_KEYS=local1:{key}\n"
        # Signed audit checkpoints every 15 minutes; `manage.py audit_verify` checks the file.
        f"PORTAL_AUDIT_CHECKPOINT_KEY={secrets.token_urlsafe(48)}\n"
        f"PORTAL_AUDIT_CHECKPOINT_PATH={ENV_FILE.parent / 'var' / 'audit-checkpoints.jsonl'}\n"
    )


def main(env_file: Path = ENV_FILE) -> None:
    if env_file.exists():
        if "DJANGO_DEBUG=true" in env_file.read_text().replace(" ", ""):
            print(
                f"Note: {env_file.name} turns DJANGO_DEBUG on; `make run` now runs with it off "
                "(set DJANGO_DEBUG=false, PORTAL_HTTPS=false, PORTAL_LOCAL_DEMO=true, or delete "
                f"{env_file.name} to have it written again)."
            )
        return
    env_file.write_text(contents())
    env_file.chmod(0o600)
    print(f"Wrote {env_file.name} with new local secrets.")


if __name__ == "__main__":
    main()
