"""Reads for staff accounts."""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import ApiKey


def staff_list(*, search: str = "") -> QuerySet:
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    return users


def apikey_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by", "revoked_by").order_by("-created_at", "-pk")


def apikey_get(public_id) -> ApiKey:
    key = ApiKey.objects.filter(public_id=public_id).first()
    if key is None:
        raise Http404("No such API key")
    return key
