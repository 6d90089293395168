"""The browsable API's renderer: DRF's, plus an HTML form for PATCH, the only way our objects are edited."""

from typing import Any

from rest_framework.renderers import BrowsableAPIRenderer


class HubBrowsableAPIRenderer(BrowsableAPIRenderer):
    """DRF offers PATCH as raw data only; an object's page here also gets an HTML form for it.

    The form is the object's serializer bound to the object, so its status select offers what the
    transition table allows from the current status (`hub.api.serializers.StatusField`).
    """

    def get_context(self, data: Any, accepted_media_type: Any, renderer_context: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context(data, accepted_media_type, renderer_context)
        view, request = renderer_context["view"], renderer_context["request"]
        if "PUT" in view.allowed_methods:
            return context
        patch_form = self.get_rendered_html_form(data, view, "PATCH", request)
        if patch_form:
            # The template shows the HTML form and the raw data form as two tabs of one PATCH box.
            context["patch_form"] = patch_form
            context["raw_data_patch_tab"] = context["raw_data_patch_form"]
            context["raw_data_patch_form"] = context["raw_data_put_or_patch_form"] = None
        return context
