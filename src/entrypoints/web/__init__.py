"""The web app: a JSON API (for workers in any language) and a live dashboard, both on a
Tracker; `create_app` returns an ASGI app to serve or to mount under any prefix
(docs/web.md). Needs the `web` extra."""

from .app import create_app

__all__ = ["create_app"]
