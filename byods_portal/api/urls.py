"""The API root: /api/v1/ (every app's `api/urls.py`), the schema and its documentation.

An app joins the API by adding `<app>/api/urls.py` with a `urlpatterns` list: it is found
here, with no change to this file or to the project's urls.py.
"""

from importlib import import_module
from importlib.util import find_spec
from pathlib import Path

from csp.constants import SELF
from csp.decorators import csp_update
from django.apps import apps
from django.conf import settings
from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from .views import HealthViewSet


def app_api_modules() -> list[str]:
    """`<app>.api.urls` of every installed project app that has one, in INSTALLED_APPS order."""
    found = []
    for config in apps.get_app_configs():
        # Project apps sit directly in BASE_DIR; third-party apps (even in a virtualenv
        # inside the checkout, as `make` creates it) never add endpoints to our API.
        if Path(config.path).parent != Path(settings.BASE_DIR):
            continue
        if find_spec(f"{config.name}.api") and find_spec(f"{config.name}.api.urls"):
            found.append(f"{config.name}.api.urls")
    return found


v1 = [path("health/", HealthViewSet.as_view({"get": "check"}), name="health")]
for module in app_api_modules():
    v1 += import_module(module).urlpatterns

urlpatterns = [
    path("v1/", include(v1)),
    # The schema authenticates like every endpoint (key or session); the two documentation
    # pages are for people at a browser and sit behind the sign-in like every page.
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="schema"),
    # (DRF marks its views login_not_required; these two are pages, so ask for the sign-in.)
    # The split view serves Swagger UI's start-up script from `?script`, not inline (CSP).
    path(
        "docs/",
        login_required(
            SpectacularSwaggerSplitView.as_view(
                url_name="api:schema", template_name="api/swagger_ui.html"
            )
        ),
        name="docs",
    ),
    # Our template drops the Google Fonts that drf-spectacular's ReDoc page links: the docs
    # load only the portal's own static files (templates/api/redoc.html).
    path(
        "redoc/",
        # ReDoc's search runs in a Web Worker it builds from a blob: allowed on this page only.
        login_required(
            csp_update({"worker-src": [SELF, "blob:"]})(
                SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html")
            )
        ),
        name="redoc",
    ),
]
