"""The State Hub Django project: settings, URLs, WSGI/ASGI entry points and the Celery app."""
