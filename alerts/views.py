"""Pages for alerts and alert channels. Views parse input, call one service, show the outcome.

Who may do what:
- every staff role reads alerts (VIEW_PORTAL);
- acknowledging ("I am on it") needs EDIT_DATASOURCES: operators and onboarding staff, the
  people named as org owners who act on alerts, but not auditors, who change nothing;
- raising and resolving incidents and managing channels (where customer names are sent),
  sending a channel a test notification, and snoozing, silencing or waking an alert (which
  decides what the teams hear) are operator actions (OPERATE).
"""

import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import Perm
from audit.context import Actor
from core.pagination import CappedPaginator
from core.queueing import enqueue_on_commit
from core.views import service_call

from . import selectors, services
from .forms import ChannelForm, IncidentForm, QuietForm
from .models import Kind, Quiet
from .presentation import present, present_many


def _back(request, default: str = "alerts:list"):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


# ------------------------------------------------------------------------- alerts
@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def alert_list(request):
    state = "all" if request.GET.get("state") == "all" else "open"
    kind = request.GET.get("kind", "")
    kind = kind if kind in Kind.values else ""
    search = request.GET.get("q", "").strip()[:100]
    page = CappedPaginator(
        selectors.alert_list(state=state, kind=kind, search=search), 50
    ).get_page(request.GET.get("page"))

    def query(**overrides) -> str:
        params = {"state": state if state == "all" else "", "kind": kind, "q": search}
        params |= overrides
        return urlencode({k: v for k, v in params.items() if v})

    shown = present_many(page.object_list)
    for alert in page.object_list:
        alert.shown = shown[alert.pk]
    return render(
        request,
        "alerts/alert_list.html",
        {
            "page": page,
            "state": state,
            "kind": kind,
            "search": search,
            "kinds": Kind.choices,
            "filtered": bool(kind or search),
            "page_query": query(),
            "open_query": query(state=""),
            "all_query": query(state="all"),
        },
    )


@require_GET
@permission_required(Perm.VIEW_PORTAL, raise_exception=True)
def alert_detail(request, public_id: uuid.UUID):
    """One alert as it stands now: headline, severity, owner, cause, the next step and its
    button, and (operators) snooze, silence or wake."""
    alert = selectors.alert_get_for_user(request.user, public_id)
    return _detail(request, alert)


def _detail(request, alert, *, snooze_form=None, silence_form=None, status=200):
    return render(
        request,
        "alerts/alert_detail.html",
        {
            "alert": alert,
            "shown": present(alert),
            "snooze_form": snooze_form or QuietForm(prefix="snooze"),
            "silence_form": silence_form or QuietForm(prefix="silence"),
        },
        status=status,
    )


def _quiet(request, public_id: uuid.UUID, mode: str):
    alert = selectors.alert_get_for_user(request.user, public_id)
    form = QuietForm(request.POST, prefix="snooze" if mode == Quiet.SNOOZED else "silence")
    if form.is_valid():
        service = services.alert_snooze if mode == Quiet.SNOOZED else services.alert_silence
        with service_call(request, form=form) as call:
            service(
                alert=alert,
                until=form.cleaned_data["until"],
                reason=form.cleaned_data["reason"],
                user=request.user,
            )
        if call.ok:
            messages.success(
                request, f"{Quiet(mode).label}: {alert.subject_name} – {alert.get_kind_display()}."
            )
            return redirect("alerts:detail", public_id=alert.public_id)
    forms_ = {"snooze_form" if mode == Quiet.SNOOZED else "silence_form": form}
    return _detail(request, alert, status=400, **forms_)


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def alert_snooze(request, public_id: uuid.UUID):
    return _quiet(request, public_id, Quiet.SNOOZED)


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def alert_silence(request, public_id: uuid.UUID):
    return _quiet(request, public_id, Quiet.SILENCED)


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def alert_wake(request, public_id: uuid.UUID):
    alert = selectors.alert_get_for_user(request.user, public_id)
    with service_call(request) as call:
        services.alert_wake(alert=alert, user=request.user)
    if call.ok:
        messages.success(request, f"Notices resume for {alert.subject_name}.")
    return redirect("alerts:detail", public_id=alert.public_id)


@require_POST
@permission_required(Perm.EDIT_DATASOURCES, raise_exception=True)
def alert_acknowledge(request, public_id: uuid.UUID):
    alert = selectors.alert_get_for_user(request.user, public_id)
    with service_call(request) as call:
        services.alert_acknowledge(alert=alert, user=request.user)
    if call.ok:
        messages.success(
            request, f"Acknowledged: {alert.subject_name} – {alert.get_kind_display()}."
        )
    return _back(request)


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def alert_resolve(request, public_id: uuid.UUID):
    alert = selectors.alert_get_for_user(request.user, public_id)
    with service_call(request) as call:
        services.alert_resolve(alert=alert, user=request.user)
    if call.ok:
        from . import tasks

        enqueue_on_commit(tasks.deliver, alert.pk, "resolved")
        messages.success(request, f"Incident for {alert.subject_name} resolved; teams are told.")
    return _back(request)


@require_http_methods(["GET", "POST"])
@permission_required(Perm.OPERATE, raise_exception=True)
def incident_raise(request):
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            alert = services.alert_incident_raise(
                org=form.cleaned_data["org"],
                summary=form.cleaned_data["summary"],
                user=request.user,
            )
        if call.ok:
            from . import tasks

            enqueue_on_commit(tasks.deliver, alert.pk, "opened")
            messages.success(request, f"Incident raised for {alert.subject_name}; teams are told.")
            return redirect("alerts:list")
    return render(request, "alerts/incident_form.html", {"form": form})


# ------------------------------------------------------------------------- channels
@require_GET
@permission_required(Perm.OPERATE, raise_exception=True)
def channel_list(request):
    return render(
        request,
        "alerts/channel_list.html",
        {"channels": selectors.alertchannel_list(), "kind_labels": dict(Kind.choices)},
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.OPERATE, raise_exception=True)
def channel_create(request):
    form = ChannelForm(request.POST or None, initial={"enabled": True, "kinds": Kind.values})
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            channel = services.alertchannel_create(**form.payload())
        if call.ok:
            messages.success(request, f"Channel {channel.team} added.")
            return redirect("alerts:channel_list")
    return render(request, "alerts/channel_form.html", {"form": form, "channel": None})


@require_http_methods(["GET", "POST"])
@permission_required(Perm.OPERATE, raise_exception=True)
def channel_edit(request, public_id: uuid.UUID):
    channel = selectors.alertchannel_get(public_id)
    initial = {
        "team": channel.team,
        "email_recipients": "\n".join(channel.email_recipients),
        "webhook_url": channel.webhook_url,
        "kinds": channel.kinds,
        "enabled": channel.enabled,
    }
    form = ChannelForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            services.alertchannel_update(channel=channel, **form.payload())
        if call.ok:
            messages.success(request, f"Channel {form.cleaned_data['team']} saved.")
            return redirect("alerts:channel_list")
    return render(request, "alerts/channel_form.html", {"form": form, "channel": channel})


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def channel_delete(request, public_id: uuid.UUID):
    channel = selectors.alertchannel_get(public_id)
    services.alertchannel_delete(channel=channel)
    messages.success(request, f"Channel {channel.team} removed; it receives no more alerts.")
    return redirect("alerts:channel_list")


@require_POST
@permission_required(Perm.OPERATE, raise_exception=True)
def channel_test(request, public_id: uuid.UUID):
    """Send a labelled test notice by each medium of the channel; say what each one did."""
    channel = selectors.alertchannel_get(public_id)
    report = services.alertchannel_test(channel=channel, actor=Actor.user(request.user))
    if report.ok:
        messages.success(request, f"Test notification to {channel.team}: {report.describe()}.")
    else:
        messages.error(request, f"Test notification to {channel.team}: {report.describe()}.")
    return _back(request, "alerts:channel_list")
