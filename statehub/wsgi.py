"""WSGI entry point for gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

from statehub.tracing import setup

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statehub.settings")

# Before the handler loads the middleware: the Django instrumentation adds its own to the settings.
setup()
application = get_wsgi_application()
