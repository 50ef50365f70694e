"""The throwaway Redis server of the queue tests; it lives (privately) in
`jobledger.integrations` so that `jobledger demo --queue` can start one without the testing
extra."""

from __future__ import annotations

from ..integrations._redis_server import RedisNotFound, throwaway_redis

__all__ = ["RedisNotFound", "throwaway_redis"]
