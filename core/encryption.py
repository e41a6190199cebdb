"""Secrets at rest: a key ring from PORTAL_ENCRYPTION_KEYS and an encrypted model field.

`PORTAL_ENCRYPTION_KEYS` is a comma-separated list of `key-id:key`, each key 32 random bytes in
urlsafe base64. Every listed key decrypts; `PORTAL_ENCRYPTION_PRIMARY` names the one that
encrypts (default: the first). The others are decrypt-only, which is how a new key is rolled out
without breaking a rolling restart: first everywhere as decrypt-only, then made primary, then
the old one retired after the re-seal (SECURITY.md). A stored value reads
`enc:v1:<key-id>:<Fernet token>`, so the key that sealed it is known without trying them all,
and `manage.py rotate_encryption_keys` can count and re-seal values key by key before an old
key is removed from the list.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) is used rather than a hand-made
construction: it authenticates, so a tampered value fails loudly instead of decrypting to junk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "enc:v1:"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class DecryptionError(Exception):
    """A stored value could not be decrypted (unknown key id, or tampered). No value inside."""


@dataclass(frozen=True)
class KeyRing:
    ids: tuple[str, ...]
    _fernets: dict[str, Fernet]
    primary: str = ""

    def __post_init__(self) -> None:
        if not self.primary:
            object.__setattr__(self, "primary", self.ids[0])

    @classmethod
    def parse(cls, spec: str, primary: str = "") -> KeyRing:
        """The ring of `spec`; `primary` (a listed key id, default the first) encrypts."""
        ids: list[str] = []
        fernets: dict[str, Fernet] = {}
        for position, item in enumerate(filter(None, (p.strip() for p in spec.split(","))), 1):
            key_id, sep, key = item.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise ImproperlyConfigured(
                    f"PORTAL_ENCRYPTION_KEYS entry {position} must look like 'key-id:base64key' "
                    "(key id: letters, digits, . _ -)"
                )
            if key_id in fernets:
                raise ImproperlyConfigured(f"PORTAL_ENCRYPTION_KEYS lists key id {key_id!r} twice")
            try:
                fernets[key_id] = Fernet(key.strip())
            except ValueError as exc:
                raise ImproperlyConfigured(
                    f"PORTAL_ENCRYPTION_KEYS key {key_id!r} is not 32 bytes of urlsafe base64"
                ) from exc
            ids.append(key_id)
        if not ids:
            raise ImproperlyConfigured("PORTAL_ENCRYPTION_KEYS holds no key")
        primary = primary.strip()
        if primary and primary not in fernets:
            raise ImproperlyConfigured(
                f"PORTAL_ENCRYPTION_PRIMARY is {primary!r}, which PORTAL_ENCRYPTION_KEYS does not "
                f"list (it lists: {', '.join(ids)})"
            )
        return cls(tuple(ids), fernets, primary or ids[0])

    @property
    def decrypt_only(self) -> tuple[str, ...]:
        """The listed keys that only decrypt (being rolled out, or awaiting retirement)."""
        return tuple(key_id for key_id in self.ids if key_id != self.primary)

    def encrypt(self, plaintext: str) -> str:
        token = self._fernets[self.primary].encrypt(plaintext.encode()).decode()
        return f"{PREFIX}{self.primary}:{token}"

    def decrypt(self, stored: str) -> str:
        key_id, token = split(stored)
        fernet = self._fernets.get(key_id)
        if fernet is None:
            raise DecryptionError(f"value sealed with key {key_id!r}, which is not configured")
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise DecryptionError(
                f"value sealed with key {key_id!r} failed authentication"
            ) from None


def split(stored: str) -> tuple[str, str]:
    """(key id, token) of a stored value; raises DecryptionError if it is not one."""
    if not stored.startswith(PREFIX):
        raise DecryptionError("not an encrypted value")
    key_id, sep, token = stored[len(PREFIX) :].partition(":")
    if not sep:
        raise DecryptionError("not an encrypted value")
    return key_id, token


@lru_cache(maxsize=4)
def _ring_for(spec: str, primary: str) -> KeyRing:
    return KeyRing.parse(spec, primary)


def keyring() -> KeyRing:
    """The key ring of the current settings (re-parsed only when the settings change)."""
    return _ring_for(
        settings.PORTAL_ENCRYPTION_KEYS, getattr(settings, "PORTAL_ENCRYPTION_PRIMARY", "")
    )


def _is_sealed(value: str) -> bool:
    try:
        keyring().decrypt(value)
    except DecryptionError:
        return False
    return True


class EncryptedTextField(models.TextField):
    """A text column stored encrypted. Python code sees plaintext; the database never does.

    Secret by declaration (`is_secret`): audit redaction, admin and serializers rely on it.
    Not searchable or sortable by value, by design. Empty strings and NULL stay as they are, so
    "no token yet" is visible without decrypting.
    """

    is_secret = True
    description = "Text encrypted at rest with the portal's key ring"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return keyring().decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        if value.startswith(PREFIX) and _is_sealed(value):
            return value  # already sealed (e.g. loaddata of a dump): never seal twice
        return keyring().encrypt(value)

    def value_to_string(self, obj):
        """Serialization (dumpdata) writes the sealed form, never plaintext."""
        return self.get_prep_value(self.value_from_object(obj))
