from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .roles import Perm, user_role
from .selectors import staff_list as select_staff


@require_GET
@permission_required(Perm.MANAGE_STAFF, raise_exception=True)
def staff_list(request):
    search = request.GET.get("q", "").strip()
    page = Paginator(select_staff(search=search), 50).get_page(request.GET.get("page"))
    rows = [(u, user_role(u)) for u in page.object_list]
    return render(
        request, "accounts/staff_list.html", {"page": page, "rows": rows, "search": search}
    )
