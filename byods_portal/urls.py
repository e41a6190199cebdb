from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from accounts import views_signin
from accounts.views import PortalLoginView
from accounts.views_sso import SsoCallbackView, SsoStartView
from operations import views_dashboard, views_orgs, views_search
from tenants import urls as tenants_urls
from tenants.views_webhook import webex_webhook

from . import metrics, views

admin.site.site_header = "BYODS portal administration"
admin.site.site_title = "BYODS portal admin"

urlpatterns = [
    path("", views_dashboard.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("search/", views_search.search, name="search"),
    path("metrics", metrics.metrics, name="metrics"),
    path("webhooks/webex/", webex_webhook, name="webex_webhook"),
    path("login/", PortalLoginView.as_view(), name="login"),
    # Single sign-on (404 while PORTAL_OIDC_ISSUER is unset): to the IdP and back.
    path("sso/start/", login_not_required(SsoStartView.as_view()), name="sso_start"),
    path("sso/callback/", login_not_required(SsoCallbackView.as_view()), name="sso_callback"),
    # After the password, for those who need one: the second factor (accounts/middleware.py).
    path("login/second-factor/", views_signin.second_factor, name="second_factor"),
    path(
        "login/second-factor/enrol/",
        views_signin.second_factor_enrol,
        name="second_factor_enrol",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("staff/", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("api/", include(("byods_portal.api.urls", "api"))),
    # The org list and page read across apps (operations/views_orgs.py) but keep their
    # names in the tenants namespace, beside the org's other pages.
    path(
        "",
        include(
            (
                [
                    path("orgs/", views_orgs.org_list, name="org_list"),
                    path("orgs/<uuid:public_id>/", views_orgs.org_detail, name="org_detail"),
                    *tenants_urls.urlpatterns,
                ],
                tenants_urls.app_name,
            )
        ),
    ),
    path("", include("operations.urls_onboarding")),
    path("", include("operations.urls_offboarding")),
    path("", include("datasources.urls")),
    path("bulk/", include("operations.urls")),
    path("", include("alerts.urls")),
    path("admin/", admin.site.urls),
]

# Under /api/ these answer in the API's JSON error format; elsewhere, the portal's pages.
handler400 = "core.api.errors.bad_request"
handler403 = "core.api.errors.permission_denied"
handler404 = "core.api.errors.page_not_found"
handler500 = "core.api.errors.server_error"
