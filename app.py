"""WSGI entry point: `flask --app app …`, `gunicorn app:app`."""

from lti_tool import create_app

app = create_app()
