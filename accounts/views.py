import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.views import service_call

from . import selectors, services
from .forms import ApiKeyForm, ApiKeyRevokeForm, SignInForm
from .roles import Perm, user_role
from .selectors import STAFF_SORTS
from .selectors import staff_list as select_staff
from .sso import password_signin_enabled, sso_enabled


class PortalLoginView(LoginView):
    """Django's sign-in page with the single sign-on button when SSO is on; with password
    sign-in switched off it offers only that, and a password POST is refused (403)."""

    authentication_form = SignInForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            sso_enabled=sso_enabled(), password_signin=password_signin_enabled(), **kwargs
        )

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error("__all__", code="password_signin_off"):
            response.status_code = 403
        return response


@require_GET
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def staff_list(request):
    search = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "username")
    sort = sort if sort.removeprefix("-") in STAFF_SORTS else "username"
    page = Paginator(select_staff(search=search, sort=sort), 50).get_page(request.GET.get("page"))
    rows = [(u, user_role(u)) for u in page.object_list]
    return render(
        request,
        "accounts/staff_list.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "sort": sort,
            "filter_query": urlencode({"q": search} if search else {}),
            "page_query": urlencode({k: v for k, v in {"q": search, "sort": sort}.items() if v}),
        },
    )


# ------------------------------------------------------------------------- API keys
@require_GET
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def apikey_list(request):
    page = Paginator(selectors.apikey_list(), 50).get_page(request.GET.get("page"))
    return render(request, "accounts/apikey_list.html", {"page": page, "now": timezone.now()})


@require_http_methods(["GET", "POST"])
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def apikey_create(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        with service_call(request, form=form) as call:
            api_key, key = services.apikey_create(
                name=d["name"], role=d["role"], expires_at=d["expires_at"], created_by=request.user
            )
        if call.ok:
            # Rendered, not redirected: the key exists only in this one response.
            response = render(
                request, "accounts/apikey_created.html", {"api_key": api_key, "key": key}
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "accounts/apikey_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def apikey_revoke(request, public_id: uuid.UUID):
    api_key = selectors.apikey_get(public_id)
    if api_key.revoked_at:
        messages.info(request, f"{api_key.prefix} is already revoked.")
        return redirect("accounts:apikey_list")
    form = ApiKeyRevokeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_call(request, form=form) as call:
            services.apikey_revoke(
                api_key=api_key, reason=form.cleaned_data["reason"], revoked_by=request.user
            )
        if call.ok:
            messages.success(request, f"Revoked {api_key.prefix} “{api_key.name}”.")
            return redirect("accounts:apikey_list")
    return render(request, "accounts/apikey_revoke.html", {"api_key": api_key, "form": form})
