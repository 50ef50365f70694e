"""Stores and entry points: memory, file and PostgreSQL stores, the command line."""
