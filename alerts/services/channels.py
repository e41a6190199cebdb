"""Team channels alerts are delivered to: e-mail recipients and a signed webhook."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction

from audit.context import Actor
from audit.services import audit_record
from audit.vocabulary import Action

from ..models import AlertChannel, Kind

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _clean_channel(
    *, team: str, email_recipients: list[str], webhook_url: str, kinds: list[str]
) -> tuple[str, list[str], str, list[str]]:
    errors: dict[str, str] = {}
    team = (team or "").strip()
    if not team:
        errors["team"] = "Name the team that receives these alerts."
    emails = sorted({e.strip().lower() for e in email_recipients if e.strip()})
    validate = EmailValidator()
    for email in emails:
        try:
            validate(email)
        except ValidationError:
            errors["email_recipients"] = f"{email!r} is not an e-mail address."
            break
    webhook_url = (webhook_url or "").strip()
    if webhook_url:
        parts = urlsplit(webhook_url)
        local = parts.scheme == "http" and parts.hostname in LOOPBACK
        if not parts.hostname or (parts.scheme != "https" and not local):
            # Alerts name customers and owners: they travel over TLS, except to a relay on
            # this very machine (loopback), which never leaves it.
            errors["webhook_url"] = (
                "The webhook URL must start with https:// (plain http only to localhost)."
            )
    if not emails and not webhook_url:
        errors["email_recipients"] = "Give at least one e-mail address or a webhook URL."
    kinds = [k for k in Kind.values if k in set(kinds)]
    if not kinds:
        errors["kinds"] = "Choose at least one kind of alert."
    if errors:
        raise ValidationError(errors)
    return team, emails, webhook_url, kinds


def _channel_view(channel: AlertChannel) -> dict:
    """What the audit trail keeps of a channel: never the signing secret."""
    return {
        "team": channel.team,
        "email_recipients": channel.email_recipients,
        "webhook_url": channel.webhook_url,
        "kinds": channel.kinds,
        "enabled": channel.enabled,
    }


@transaction.atomic
def alertchannel_create(
    *,
    team: str,
    email_recipients: list[str],
    webhook_url: str = "",
    webhook_secret: str = "",
    kinds: list[str],
    enabled: bool = True,
    actor: Actor | None = None,
) -> AlertChannel:
    team, emails, url, kinds = _clean_channel(
        team=team, email_recipients=email_recipients, webhook_url=webhook_url, kinds=kinds
    )
    if url and len(webhook_secret or "") < 16:
        raise ValidationError(
            {"webhook_secret": "A webhook needs a signing secret of at least 16 characters."}
        )
    channel = AlertChannel(
        team=team,
        email_recipients=emails,
        webhook_url=url,
        webhook_secret=webhook_secret if url else "",
        kinds=kinds,
        enabled=enabled,
    )
    channel.full_clean()
    channel.save()
    audit_record(
        action=Action.ALERTCHANNEL_CREATED,
        summary=f"Alert channel {team} added",
        actor=actor,
        target_type="alertchannel",
        target_id=channel.public_id,
        target_label=team,
        changes={"after": _channel_view(channel)},
    )
    return channel


@transaction.atomic
def alertchannel_update(
    *,
    channel: AlertChannel,
    team: str,
    email_recipients: list[str],
    webhook_url: str = "",
    webhook_secret: str = "",
    kinds: list[str],
    enabled: bool = True,
    actor: Actor | None = None,
) -> AlertChannel:
    """Change a channel. An empty `webhook_secret` keeps the stored one (it is never shown)."""
    channel = AlertChannel.objects.select_for_update().get(pk=channel.pk)
    before = _channel_view(channel)
    team, emails, url, kinds = _clean_channel(
        team=team, email_recipients=email_recipients, webhook_url=webhook_url, kinds=kinds
    )
    secret = webhook_secret or channel.webhook_secret
    if url and len(secret or "") < 16:
        raise ValidationError(
            {"webhook_secret": "A webhook needs a signing secret of at least 16 characters."}
        )
    channel.team, channel.email_recipients, channel.webhook_url = team, emails, url
    channel.webhook_secret = secret if url else ""
    channel.kinds, channel.enabled = kinds, enabled
    channel.full_clean()
    channel.save()
    audit_record(
        action=Action.ALERTCHANNEL_UPDATED,
        summary=f"Alert channel {team} changed"
        + (" (new signing secret)" if webhook_secret else ""),
        actor=actor,
        target_type="alertchannel",
        target_id=channel.public_id,
        target_label=team,
        changes={"before": before, "after": _channel_view(channel)},
    )
    return channel


@transaction.atomic
def alertchannel_delete(*, channel: AlertChannel, actor: Actor | None = None) -> None:
    view = _channel_view(channel)
    public_id = channel.public_id
    AlertChannel.objects.filter(pk=channel.pk).delete()
    audit_record(
        action=Action.ALERTCHANNEL_DELETED,
        summary=f"Alert channel {view['team']} removed",
        actor=actor,
        target_type="alertchannel",
        target_id=public_id,
        target_label=view["team"],
        changes={"before": view},
    )
