"""Celery tasks: thin, they take ids, re-read rows and call the pure code."""
