"""WSGI entry point for the api process (gunicorn in production)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cloud.settings")
application = get_wsgi_application()
