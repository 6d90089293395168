from django.apps import AppConfig


class EventsConfig(AppConfig):
    """The event app: outbox, publisher, relay."""

    name = "events"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import checks  # noqa: F401 - registers the system checks
