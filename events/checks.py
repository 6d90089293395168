"""System checks of the events app: stream settings JetStream would refuse fail `manage.py check` (and every start)."""

from typing import Any

from django.core.checks import CheckMessage, Error, register

from events.stream import settings_problems, wanted_stream


@register()
def stream_settings_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [Error(problem, id="events.E001") for problem in settings_problems(wanted_stream())]
