"""WSGI entry point: `scripts/flask …`, `gunicorn app:app`."""

from lti_tool import create_app

app = create_app()
