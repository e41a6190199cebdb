"""Reads for staff accounts."""

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet


def staff_list(*, search: str = "") -> QuerySet:
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    if search:
        users = users.filter(
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
    return users
