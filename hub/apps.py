from django.apps import AppConfig


class HubConfig(AppConfig):
    """The domain app: repos, workstreams, tasks, decisions, goals and progress."""

    name = "hub"
    verbose_name = "State Hub"
    default_auto_field = "django.db.models.BigAutoField"
