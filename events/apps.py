from django.apps import AppConfig


class EventsConfig(AppConfig):
    """The event app: outbox, publisher, relay."""

    name = "events"
    verbose_name = "Events"
    default_auto_field = "django.db.models.BigAutoField"
