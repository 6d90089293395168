"""What every admin changelist of the hub shares: a count that stops at 10,000 rows, and a cheap row checkbox."""

from typing import Any, ClassVar

from django.contrib.admin import helpers
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from statehub.pagination import BoundedCountPaginator


class PagedChangelistMixin:
    """A `ModelAdmin` mixin whose changelist costs what its page costs, whatever the table's size.

    The count is exact up to 10,000 rows and PostgreSQL's estimate above, counted once. Each row's
    action checkbox is Django's markup written directly: Django renders it through a form-widget
    template on each of the page's 100 rows, a fifth of the whole page's time.
    """

    paginator: ClassVar[type] = BoundedCountPaginator
    show_full_result_count = False

    def action_checkbox(self, obj: Any) -> SafeString:
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            format_html(_("Select this object for an action - {}"), str(obj)),
        )
