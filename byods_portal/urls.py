from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views_signin
from accounts.forms import SignInForm
from operations import views_dashboard
from tenants.views_webhook import webex_webhook

from . import metrics, views

admin.site.site_header = "BYODS portal administration"
admin.site.site_title = "BYODS portal admin"

urlpatterns = [
    path("", views_dashboard.dashboard, name="dashboard"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("webhooks/webex/", webex_webhook, name="webex_webhook"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, authentication_form=SignInForm
        ),
        name="login",
    ),
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
    path("", include("tenants.urls")),
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
