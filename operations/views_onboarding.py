"""The onboarding wizard for customer success: Service App -> org -> tokens -> first data
source -> finish on the org's page.

The wizard's progress lives in the org row, not in the session: step 2 creates the org
`pending`, step 3 makes it `active`, so anyone with the permission can resume a half-finished
onboarding from the org's page (`wizard_resume` picks the step from the org's status). Views
parse input and call one service each; the rules live in `tenants.services` and
`datasources.services` / `datasources.validation`. The wizard spans both apps, so it lives on
the top floor (URL namespace `onboarding`).
"""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import Perm
from core.views import service_call
from datasources import services as datasource_services
from datasources.forms import DataSourceForm
from tenants import selectors, services
from tenants.forms import WizardAppForm, WizardOrgForm
from tenants.models import CustomerOrg

Status = CustomerOrg.Status
STEPS = ("Service App", "Org", "Tokens", "First data source", "Finish")


def _render(request, template: str, step: int, **context):
    steps = [
        {"number": n, "label": label, "done": n < step, "current": n == step}
        for n, label in enumerate(STEPS, start=1)
    ]
    return render(request, template, {"steps": steps, "step": step, **context})


@require_http_methods(["GET", "POST"])
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def wizard_app(request):
    """Step 1: choose the Service App (only the usable ones are offered)."""
    usable, unusable = selectors.serviceapp_onboarding_choices()
    form = WizardAppForm(request.POST if request.method == "POST" else None, apps=usable)
    if request.method == "POST" and form.is_valid():
        app = form.cleaned_data["service_app"]
        return redirect("onboarding:wizard_org", app_public_id=app.public_id)
    return _render(
        request, "tenants/wizard_app.html", 1, form=form, usable=usable, unusable=unusable
    )


@require_http_methods(["GET", "POST"])
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def wizard_org(request, app_public_id: uuid.UUID):
    """Step 2: the org's Webex id, name, owner and region; records the org as `pending`."""
    app = selectors.serviceapp_get(app_public_id)
    usable, _ = selectors.serviceapp_onboarding_choices()
    if app not in usable:
        messages.error(request, f"{app.name} cannot onboard orgs right now: choose another.")
        return redirect("onboarding:wizard_app")
    form = WizardOrgForm(
        request.POST or None, initial={"owner": request.user.pk, "region": app.region}
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        with service_call(request, form=form) as call:
            org = services.org_onboarding_start(
                app=app,
                webex_org_id=d["webex_org_id"],
                name=d["name"],
                region=d["region"],
                owner=d["owner"],
            )
        if call.ok:
            messages.success(request, f"Recorded {org.name}. Next, fetch its tokens from Webex.")
            return redirect("onboarding:wizard_tokens", public_id=org.public_id)
    return _render(request, "tenants/wizard_org.html", 2, form=form, app=app)


@require_GET
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def wizard_resume(request, public_id: uuid.UUID):
    """From the org's page: continue at the step the org's status says it has reached."""
    org = selectors.org_get_for_user(request.user, public_id)
    if org.status in services.WIZARD_RESUMABLE:
        return redirect("onboarding:wizard_tokens", public_id=org.public_id)
    if org.status == Status.ACTIVE and not org.datasources.exists():
        return redirect("onboarding:wizard_datasource", public_id=org.public_id)
    messages.info(request, f"{org.name} has nothing left to onboard.")
    return redirect("tenants:org_detail", public_id=org.public_id)


@require_http_methods(["GET", "POST"])
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def wizard_tokens(request, public_id: uuid.UUID):
    """Step 3: fetch the org's tokens; Webex's refusal is shown with its reason and a retry."""
    org = selectors.org_get_for_user(request.user, public_id)
    if org.status == Status.ACTIVE:
        return redirect("onboarding:wizard_datasource", public_id=org.public_id)
    if org.status not in services.WIZARD_RESUMABLE:
        messages.error(
            request, f"{org.name} is {org.get_status_display().lower()}: nothing to fetch."
        )
        return redirect("tenants:org_detail", public_id=org.public_id)
    refused = ""
    if request.method == "POST":
        # Webex's refusal is shown on the step with a retry (`refused`), not as a message.
        with service_call(request, refusal=None) as call:
            org = services.org_onboarding_tokens_fetch(org=org)
        if call.ok:
            messages.success(request, f"{org.name} is active: its tokens are stored.")
            return redirect("onboarding:wizard_datasource", public_id=org.public_id)
        if isinstance(call.refusal, services.IllegalTransition):  # the org moved on meanwhile
            messages.error(request, call.refusal.message)
            return redirect("tenants:org_detail", public_id=org.public_id)
        refused = call.refusal_message
    return _render(request, "tenants/wizard_tokens.html", 3, org=org, refused=refused)


@require_http_methods(["GET", "POST"])
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
@permission_required(Perm.EDIT_DATASOURCES, raise_exception=True)
def wizard_datasource(request, public_id: uuid.UUID):
    """Step 4: register the first data source, with only the schemas and domains the org
    authorized (the form offers them; the service enforces them)."""
    org = selectors.org_get_for_user(request.user, public_id)
    if org.status != Status.ACTIVE:
        messages.error(request, f"{org.name} needs its tokens before a data source.")
        return redirect("onboarding:wizard_resume", public_id=org.public_id)
    form = DataSourceForm(request.POST or None, org=org)
    if request.method == "POST" and form.is_valid():
        payload = {name: form.cleaned_data[name] for name in DataSourceForm.PAYLOAD}
        with service_call(request, form=form) as call:
            ds = datasource_services.datasource_register(org=org, **payload)
        if call.ok:
            messages.success(request, f"Registered {ds.url} at Webex.")
            return redirect("onboarding:wizard_finish", public_id=org.public_id)
    return _render(request, "tenants/wizard_datasource.html", 4, org=org, form=form)


@require_GET
@permission_required(Perm.ONBOARD_ORGS, raise_exception=True)
def wizard_finish(request, public_id: uuid.UUID):
    """Step 5: nothing to write; land on the org's page with what was achieved."""
    org = selectors.org_get_for_user(request.user, public_id)
    if org.status != Status.ACTIVE:
        return redirect("onboarding:wizard_resume", public_id=org.public_id)
    count = org.datasources.count()
    if count:
        messages.success(
            request,
            f"Onboarding complete: {org.name} is active with {count} data "
            f"source{'s' if count != 1 else ''}. The portal refreshes its tokens and rotates "
            "the JWS from now on.",
        )
    else:
        messages.success(
            request,
            f"Onboarding complete: {org.name} is active. Register a data source when its "
            "receiver is ready.",
        )
    return redirect("tenants:org_detail", public_id=org.public_id)
