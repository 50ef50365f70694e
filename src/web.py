"""The HTTP API and live dashboard (`pip install 'jobledger[web]'`): `create_app(tracker_or_url,
*, token=None, read_token_required=False)` returns an ASGI app to serve or mount (docs/web.md)."""

from .entrypoints.web import create_app

__all__ = ["create_app"]
