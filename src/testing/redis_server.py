"""The throwaway Redis server of the queue tests, and `stop_process` for their workers; both
live (privately) in `jobledger.integrations` so that `jobledger demo --queue` can use them
without the testing extra."""

from __future__ import annotations

from ..integrations._processes import stop_process
from ..integrations._redis_server import RedisNotFound, throwaway_redis

__all__ = ["RedisNotFound", "stop_process", "throwaway_redis"]
