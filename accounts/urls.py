from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.staff_list, name="staff_list"),
    path("api-keys/", views.apikey_list, name="apikey_list"),
    path("api-keys/new/", views.apikey_create, name="apikey_create"),
    path("api-keys/<uuid:public_id>/revoke/", views.apikey_revoke, name="apikey_revoke"),
]
