"""Reads for staff accounts."""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import ApiKey

STAFF_SORTS = ("username", "last_login", "date_joined")


def staff_list(*, search: str = "", sort: str = "username") -> QuerySet:
    sort = sort if sort.removeprefix("-") in STAFF_SORTS else "username"
    users = get_user_model().objects.prefetch_related("groups").order_by(sort, "pk")
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(email__icontains=search)
        )
    return users


def apikey_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("created_by", "revoked_by").order_by("-created_at", "-pk")


def apikey_get(public_id) -> ApiKey:
    key = ApiKey.objects.filter(public_id=public_id).first()
    if key is None:
        raise Http404("No such API key")
    return key
