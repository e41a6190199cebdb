from django.urls import path

from . import views

app_name = "operations"

urlpatterns = [
    path("", views.bulk_list, name="list"),
    path("preview/", views.bulk_preview, name="preview"),
    path("start/", views.bulk_start, name="start"),
    path("<uuid:public_id>/", views.bulk_detail, name="detail"),
    path("<uuid:public_id>/progress/", views.bulk_progress, name="progress"),
    path("<uuid:public_id>/retry/", views.bulk_retry, name="retry"),
]
