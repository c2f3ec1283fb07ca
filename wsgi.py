"""The one module-level application: ``gunicorn wsgi:app``."""

from copa import create_app

app = create_app()
