"""Task-queue integrations (Celery, RQ, Dramatiq): each reports through the Tracker only."""
