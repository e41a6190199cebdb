from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .roles import Perm, user_role
from .selectors import STAFF_SORTS
from .selectors import staff_list as select_staff


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
